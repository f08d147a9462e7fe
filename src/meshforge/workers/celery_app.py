"""Celery workers: ``meshforge worker --celery``, or ``celery -A meshforge.workers.celery_app
worker``.

The app comes from the MESHFORGE_* settings (broker MESHFORGE_CELERY_BROKER_URL, queue
MESHFORGE_CELERY_QUEUE). Its one task, ``meshforge.run_job(job_id)``, claims that job in the
catalog with the same conditional UPDATE the embedded workers use and runs it as they do, with a
heartbeat. A delivery whose claim fails (the job runs elsewhere, ended, was canceled, or is
unknown) returns at once, so duplicated messages are harmless; see ``dispatch`` for the rest of
the protocol.

The pool is prefork: the job runs in a child process, so a crash or an out-of-memory kill in
one job does not stop the worker (the child is replaced, the message given back finds the job
still claimed, and the server's reaper re-queues the job after its lease); the children are
killed with their parent, so no orphan keeps a dead worker's job.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from meshforge.catalog.db import Catalog
from meshforge.errors import MeshforgeError
from meshforge.service.settings import ServiceSettings
from meshforge.storage.blobs import BlobStore, open_store
from meshforge.workers.dispatch import TASK_NAME, celery_app
from meshforge.workers.local import beat_interval, claim_job, run_claimed, worker_name

log = logging.getLogger("meshforge.worker")
settings = ServiceSettings()
app = celery_app(settings)


@functools.cache
def _resources() -> tuple[Catalog, BlobStore]:
    """The catalog and the store of this process, opened at its first job (after the fork:
    a database connection must not be shared between processes)."""
    return Catalog(settings.catalog_url), open_store(settings.blob_url)


def run_job(job_id: str) -> str:
    """Claim ``job_id`` and run it; "not-claimed" when it is not queued (nothing is done)."""
    catalog, store = _resources()
    worker_id = worker_name("celery")
    if not claim_job(catalog, job_id, worker_id):
        log.info("job not claimed: running elsewhere, ended or unknown", extra={"job_id": job_id})
        return "not-claimed"
    return run_claimed(catalog, store, job_id, worker_id, beat_interval(settings))


run_job_task = app.task(name=TASK_NAME)(run_job)


def _configure_logging(**_: Any) -> None:
    from meshforge.service.logs import configure_logging

    configure_logging(settings.log_json)


def _connect_signals() -> None:
    from celery import signals

    signals.worker_init.connect(_configure_logging, weak=False)


_connect_signals()


def check_broker(timeout_s: float = 10.0) -> None:
    """Fail with a clear error when the broker cannot be reached (rather than Celery's retrying
    in a loop on start)."""
    from kombu.utils.url import maybe_sanitize_url

    connection = app.connection_for_write()
    try:
        connection.ensure_connection(
            max_retries=3, interval_start=0.5, interval_step=0.5, timeout=timeout_s
        )
    except Exception as error:
        where = maybe_sanitize_url(settings.celery_broker_url)  # the password masked
        raise MeshforgeError(
            f"cannot reach the Celery broker at {where} ({error})",
            stage="worker",
            hint="Start Redis or RabbitMQ there, or point MESHFORGE_CELERY_BROKER_URL at a "
            "running broker",
        ) from error
    finally:
        connection.release()


def run_worker(concurrency: int = 1) -> None:
    """Run a Celery worker on the meshforge queue until it is stopped (SIGTERM: warm shutdown,
    the running jobs finish first)."""
    check_broker()
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--queues={settings.celery_queue}",
            "--loglevel=INFO",
            # Revokes and worker events are not used (cancels and state live in the catalog):
            # no start-up synchronisation with other workers, no gossip traffic.
            "--without-mingle",
            "--without-gossip",
        ]
    )
