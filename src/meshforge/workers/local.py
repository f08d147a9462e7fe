"""The embedded worker pool: processes that claim queued jobs from the catalog.

Processes, not threads, so that reconstruction (CPU-bound Python) never holds the API's GIL
and a crash in one job cannot take the server down. The catalog is the queue: a worker claims a
job with a conditional UPDATE (``state = 'queued'``), keeps it alive with heartbeats, and the
server re-queues a running job whose heartbeat is older than the lease (its worker died, or the
whole server was killed). A worker whose parent died stops at once; its job is then re-run.
Celery workers (``celery_app``) claim the one job a message names with the same UPDATE
(``claim_job``) and run it the same way (``run_claimed``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from meshforge.catalog.db import Catalog
from meshforge.catalog.models import Job, now
from meshforge.service.settings import ServiceSettings
from meshforge.storage.blobs import BlobStore, open_store
from meshforge.workers.runner import JobRun, queue_webhook

log = logging.getLogger("meshforge.worker")
IDLE_POLL_S = 0.1
PARENT_CHECK_S = 0.05


def worker_name(*parts: object) -> str:
    """A worker id unique across machines and runs: ``host:pid:[parts:]random``."""
    return ":".join([os.uname().nodename, str(os.getpid()), *map(str, parts), uuid.uuid4().hex[:6]])


def _claim(session: Any, job_id: str, worker_id: str) -> bool:
    """Move ``job_id`` from queued to running for ``worker_id``, in the caller's transaction.

    One conditional UPDATE: atomic on SQLite too, so of two workers (or two deliveries of one
    Celery message) exactly one gets the job."""
    stamp = now()
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == "queued")
        .values(
            state="running",
            worker_id=worker_id,
            heartbeat_at=stamp,
            started_at=stamp,
            attempts=Job.attempts + 1,
            progress=0.0,
        )
    )
    return getattr(claimed, "rowcount", 0) == 1


def claim_job(catalog: Catalog, job_id: str, worker_id: str) -> bool:
    """Take this one job (a Celery worker told of it); False when it is not queued."""
    with catalog.session() as session:
        return _claim(session, job_id, worker_id)


def claim_next(catalog: Catalog, worker_id: str) -> str | None:
    """Take the oldest queued job for this worker; None when the queue is empty."""
    for _ in range(5):
        with catalog.session() as session:
            candidate = session.scalar(
                select(Job.id)
                .where(Job.state == "queued")
                .order_by(Job.created_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if candidate is None:
                return None
            if _claim(session, candidate, worker_id):
                return str(candidate)
    return None


def recover_stale_jobs(catalog: Catalog, lease_s: float, max_attempts: int) -> int:
    """Re-queue running jobs whose worker has been silent for ``lease_s``; fail those that
    already had ``max_attempts`` runs. The number of jobs touched."""
    cutoff = now() - lease_s
    touched = 0
    with catalog.session() as session:
        stale = session.scalars(
            select(Job).where(Job.state == "running", Job.heartbeat_at < cutoff).with_for_update()
        ).all()
        for job in stale:
            touched += 1
            job.worker_id = None
            if job.cancel_requested:
                job.state, job.finished_at = "canceled", now()
                queue_webhook(session, job, "job.canceled")
            elif job.attempts >= max_attempts:
                job.state, job.finished_at = "failed", now()
                job.error = {
                    "code": "worker-lost",
                    "stage": "worker",
                    "message": f"the worker running this job stopped {job.attempts} times",
                    "hint": "The input may crash the engine; try other options or report it.",
                }
                queue_webhook(session, job, "job.failed")
            else:
                job.state, job.stage, job.progress = "queued", None, 0.0
                log.warning("job re-queued after its worker went silent", extra={"job_id": job.id})
    return touched


class Heartbeat(threading.Thread):
    """Keeps a running job's lease alive, relays cancel requests, and ends the process when the
    server that started it is gone (its job is then re-run by the next server)."""

    def __init__(self, run: JobRun, interval_s: float, parent_pid: int | None) -> None:
        super().__init__(daemon=True)
        self.run_ = run
        self.interval_s = interval_s
        self.parent_pid = parent_pid
        self.done = threading.Event()

    def run(self) -> None:
        next_beat = time.monotonic() + self.interval_s
        # The parent is looked at more often than the lease is renewed: a worker whose server
        # was killed must not go on to finish (and record) its job after the server is gone.
        while not self.done.wait(min(PARENT_CHECK_S, self.interval_s)):
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                os._exit(1)
            if time.monotonic() < next_beat:
                continue
            next_beat = time.monotonic() + self.interval_s
            try:
                with self.run_.catalog.session() as session:
                    session.execute(
                        update(Job)
                        .where(Job.id == self.run_.job_id, Job.worker_id == self.run_.worker_id)
                        .values(heartbeat_at=now())
                    )
                    if session.scalar(
                        select(Job.cancel_requested).where(Job.id == self.run_.job_id)
                    ):
                        self.run_.cancel.set()
            except Exception:  # a missed beat is retried; the lease tolerates several
                log.exception("heartbeat failed", extra={"job_id": self.run_.job_id})


def beat_interval(settings: ServiceSettings) -> float:
    """Seconds between heartbeats: several per lease, so a missed beat or two is tolerated."""
    return max(0.05, min(settings.job_lease_s / 4, 5.0))


def run_claimed(
    catalog: Catalog,
    store: BlobStore,
    job_id: str,
    worker_id: str,
    beat_s: float,
    parent_pid: int | None = None,
) -> str:
    """Run a job this worker has claimed, heartbeating meanwhile; the state it ended in."""
    run = JobRun(catalog, store, job_id, worker_id)
    heartbeat = Heartbeat(run, beat_s, parent_pid)
    heartbeat.start()
    try:
        return run.execute()
    finally:
        heartbeat.done.set()


def work_loop(
    settings: ServiceSettings,
    worker_id: str,
    stop: Any,
    parent_pid: int | None = None,
    catalog: Catalog | None = None,
    store: BlobStore | None = None,
) -> None:
    """Claim and run jobs until ``stop`` is set (a running job is always finished first)."""
    catalog = catalog or Catalog(settings.catalog_url)
    store = store or open_store(settings.blob_url)
    beat_s = beat_interval(settings)
    while not stop.is_set():
        if parent_pid is not None and os.getppid() != parent_pid:
            return
        job_id = claim_next(catalog, worker_id)
        if job_id is None:
            stop.wait(IDLE_POLL_S)
            continue
        run_claimed(catalog, store, job_id, worker_id, beat_s, parent_pid)


def lower_priority(increment: int) -> None:
    """Make every thread of this process ``increment`` nicer.

    On Linux niceness belongs to a thread, not the process: the threads numeric libraries start
    on import (BLAS, OpenMP) kept the API's priority when only the main thread was reniced.
    Threads started later inherit it from the thread that starts them. (The idle scheduling
    class, SCHED_IDLE, was tried and made a burst's p99 worse: a worker preempted while it
    holds SQLite's write lock keeps the API waiting for it.)"""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():  # elsewhere the priority is the process's
        os.nice(increment)
        return
    target = min(19, os.getpriority(os.PRIO_PROCESS, 0) + increment)
    for task in tasks.iterdir():
        try:
            os.setpriority(os.PRIO_PROCESS, int(task.name), target)
        except ProcessLookupError:  # a thread that has ended since
            continue


def _process_main(settings_json: str, worker_id: str, stop: Any, parent_pid: int) -> None:
    from meshforge.service.logs import configure_logging

    # Ctrl-C or a service manager's SIGTERM reaches the whole process group; the server decides
    # when its workers stop (after draining their jobs), so a worker ignores both. A worker
    # whose server is gone stops by itself (the parent check), and the server kills stragglers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    settings = ServiceSettings.model_validate_json(settings_json)
    configure_logging(settings.log_json)
    if settings.worker_nice > 0:
        # The machine's cores are shared with the API: an engine run may wait, a request not.
        lower_priority(settings.worker_nice)
    work_loop(settings, worker_id, stop, parent_pid)


class LocalWorkerPool:
    """``count`` worker processes and, in this process, the thread that recovers stale jobs."""

    def __init__(self, settings: ServiceSettings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._processes: list[Any] = []
        self._reaper_stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, daemon=True, name="job-reaper")

    def start(self) -> None:
        settings_json = self.settings.model_dump_json()
        for index in range(self.settings.workers):
            worker_id = worker_name(index)
            process = self._context.Process(
                target=_process_main,
                args=(settings_json, worker_id, self._stop, os.getpid()),
                name=f"meshforge-worker-{index}",
                daemon=False,
            )
            process.start()
            self._processes.append(process)
        self._reaper.start()

    def _reap(self) -> None:
        period = max(0.05, self.settings.job_lease_s / 2)
        while not self._reaper_stop.is_set():
            try:
                recover_stale_jobs(
                    self.catalog, self.settings.job_lease_s, self.settings.max_attempts
                )
            except Exception:
                log.exception("recovering stale jobs failed")
            self._reaper_stop.wait(period)

    def alive(self) -> int:
        return sum(1 for p in self._processes if p.is_alive())

    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    def stop(self, drain_timeout_s: float) -> None:
        """Stop claiming; wait up to ``drain_timeout_s`` for running jobs, then end the rest."""
        self._stop.set()
        deadline = time.monotonic() + drain_timeout_s
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in self._processes:
            if process.is_alive():
                process.kill()
                process.join(5)
        self._reaper_stop.set()
        if self._reaper.is_alive():
            self._reaper.join(5)
