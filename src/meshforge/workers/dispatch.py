"""Telling Celery workers that a job is ready: the API side of the Celery transport.

The catalog stays the queue of record and its claim (``local.claim_job``) is the lock; a broker
message only carries "job X is ready" (the id, nothing else) to a ``meshforge worker --celery``.
A lost message therefore costs a delay and a duplicated one costs a failed claim, never a job:

- the API hands each new job to the publisher right after its row is committed
  (``publish_new_job``), and the publisher's thread sends it at once: a request never waits on
  the broker, so one that is down or hung delays no request; the job then waits in the catalog;
- ``JobPublisher``'s thread publishes again every job that stays queued ``celery_redispatch_s``
  after its last publish (the wait doubles while the job waits, up to ``MAX_REDISPATCH_S``, so a
  long backlog is not flooded with copies), at its next pass a job whose publish failed, and at
  once a job that a reaper put back in the queue after its worker went silent (its attempts
  grew since it was last seen: the message that started it was consumed).

The Celery app is made here (``celery_app``) so the API can publish by task name without
importing the worker code; ``meshforge.workers.celery_app`` builds the worker's app with it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from meshforge.catalog.db import Catalog
from meshforge.catalog.models import Job
from meshforge.errors import DependencyError, MeshforgeError
from meshforge.service.settings import ServiceSettings

if TYPE_CHECKING:
    from meshforge.service.state import ServiceState

log = logging.getLogger("meshforge.dispatch")
TASK_NAME = "meshforge.run_job"
MAX_REDISPATCH_S = 600.0
SCAN_LIMIT = 5000  # queued jobs looked at per pass, oldest first
BROKER_TIMEOUT_S = 4.0
# Read and connect deadlines of the publisher's broker connections (Redis; RabbitMQ's
# handshake is bounded by the connection timeout), and no retries inside a publish.
BOUNDED_TRANSPORT = {
    "max_retries": 0,
    "socket_timeout": BROKER_TIMEOUT_S,
    "socket_connect_timeout": BROKER_TIMEOUT_S,
}


def celery_app(settings: ServiceSettings) -> Any:
    """The Celery app of MESHFORGE_CELERY_BROKER_URL, configured for meshforge's one task."""
    if not settings.celery_broker_url:
        raise MeshforgeError(
            "no Celery broker is configured",
            stage="celery",
            hint="Set MESHFORGE_CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/0 or "
            "amqp://guest:guest@127.0.0.1:5672//",
        )
    try:
        from celery import Celery
    except ImportError as error:
        raise DependencyError(
            "the Celery transport needs celery",
            stage="celery",
            hint="Install it with: pip install 'meshforge[celery]'",
        ) from error
    app = Celery("meshforge", broker=settings.celery_broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.celery_queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # results live in the catalog; no result backend
        # The message is acknowledged once the task returned, and given back when the worker
        # process running it dies: a job is never dropped by the broker. A redelivery of a job
        # already claimed or finished finds nothing to claim and returns.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a busy worker does not sit on messages others could run
        # A job keeps running when the broker connection drops (its result goes to the
        # catalog); the redelivered message then finds the job claimed.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_connection_retry_on_startup=True,
        # RabbitMQ confirms each publish, so one that did not reach the queue raises (Redis
        # answers every command anyway).
        broker_transport_options={"confirm_publish": True},
    )
    return app


@dataclass
class _Sent:
    attempts: int  # the job's attempts when last seen queued: growth means it was re-queued
    since: float  # monotonic time of the last publish (or of first sight)
    wait_s: float  # how long after ``since`` it is published again


class JobPublisher:
    """Publishes jobs to the broker, and a thread that publishes again what stays queued."""

    def __init__(self, settings: ServiceSettings, catalog: Catalog) -> None:
        self.app = celery_app(settings)
        # Connect once, no retries, and give up on a broker that stops answering: the thread
        # must come back to the jobs it still has to send (a failed one is sent on a later pass).
        self.app.conf.broker_connection_timeout = BROKER_TIMEOUT_S
        self.app.conf.broker_transport_options = {
            **self.app.conf.broker_transport_options,
            **BOUNDED_TRANSPORT,
        }
        self.catalog = catalog
        self.redispatch_s = settings.celery_redispatch_s
        self.clock = time.monotonic  # replaceable in tests
        self.broker_up: bool | None = None  # the last publish or ping reached the broker
        self.publish_failures = 0
        self._sent: dict[str, _Sent] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._fresh: collections.deque[str] = collections.deque()  # new jobs, not yet sent
        self._thread = threading.Thread(target=self._loop, daemon=True, name="job-publisher")

    def notify(self, job_id: str) -> None:
        """Have the thread send "job ``job_id`` is ready" now (it returns at once)."""
        self._fresh.append(job_id)
        self._wake.set()

    def publish(self, job_id: str, attempts: int = 0) -> bool:
        """Send "job ``job_id`` is ready"; False (logged) when the broker cannot be reached."""
        try:
            self.app.send_task(TASK_NAME, args=[job_id], retry=False)
            ok = True
        except Exception as error:
            log.warning(
                "publishing a job to the Celery broker failed; it stays queued and is "
                "published again later",
                extra={"job_id": job_id, "error": repr(error)},
            )
            ok = False
        with self._lock:
            self.broker_up = ok
            self.publish_failures += not ok
            sent = self._sent.get(job_id)
            if not ok:
                wait_s = 0.0  # the next pass tries again
            elif sent is not None and sent.attempts == attempts and sent.wait_s > 0:
                wait_s = min(sent.wait_s * 2, MAX_REDISPATCH_S)
            else:
                wait_s = self.redispatch_s
            self._sent[job_id] = _Sent(attempts, self.clock(), wait_s)
        return ok

    def due(self, queued: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """The queued jobs (id, attempts) to publish now; forgets the jobs no longer queued."""
        clock = self.clock()
        out = []
        with self._lock:
            self._sent = {i: self._sent[i] for i, _ in queued if i in self._sent}
            for job_id, attempts in queued:
                sent = self._sent.get(job_id)
                if sent is None or sent.attempts != attempts:
                    if attempts > 0:  # run before, then re-queued: its message was consumed
                        out.append((job_id, attempts))
                    else:  # published by the server that took it (perhaps another one)
                        self._sent[job_id] = _Sent(attempts, clock, self.redispatch_s)
                elif clock - sent.since >= sent.wait_s:
                    out.append((job_id, attempts))
        return out

    def redispatch(self) -> int:
        """One pass: publish the jobs that are due; the number published."""
        with self.catalog.session() as session:
            queued = session.execute(
                select(Job.id, Job.attempts)
                .where(Job.state == "queued")
                .order_by(Job.created_at)
                .limit(SCAN_LIMIT)
            ).all()
        published = 0
        for job_id, attempts in self.due([(str(i), int(a)) for i, a in queued]):
            if not self.publish(job_id, attempts):
                break  # the broker is down: try the rest on a later pass
            published += 1
        if published:
            log.info("published queued jobs again", extra={"count": published})
        return published

    def ping(self, timeout_s: float = 2.0) -> None:
        """Connect to the broker once (no retries); raises when it cannot be reached or does
        not answer within about ``timeout_s``."""
        connection = self.app.connection_for_write(
            connect_timeout=timeout_s,
            transport_options={**BOUNDED_TRANSPORT, "socket_timeout": timeout_s},
        )
        try:
            connection.ensure_connection(max_retries=0, timeout=timeout_s)
            self.broker_up = True
        except Exception:
            self.broker_up = False
            raise
        finally:
            connection.release()

    def _send_fresh(self) -> None:
        while self._fresh and not self._stop.is_set():
            self.publish(self._fresh.popleft())

    def _loop(self) -> None:
        period = max(0.05, min(self.redispatch_s / 2, 5.0))
        next_scan = self.clock() + period
        while not self._stop.is_set():
            self._wake.wait(max(0.0, next_scan - self.clock()))
            self._wake.clear()
            self._send_fresh()
            if self.clock() < next_scan or self._stop.is_set():
                continue
            try:
                self.redispatch()
            except Exception:
                log.exception("re-publishing queued jobs failed")
            with contextlib.suppress(Exception):  # keeps ``broker_up`` current for /metrics
                self.ping()
            next_scan = self.clock() + period

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self.app.close()  # its pooled broker connections


def publish_new_job(state: ServiceState, job_id: str) -> None:
    """Tell the Celery workers of a job just committed (a no-op without a broker)."""
    if state.publisher is not None:
        state.publisher.notify(job_id)
