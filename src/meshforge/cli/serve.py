"""``meshforge serve`` (the REST service) and ``meshforge worker`` (a worker without the API)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from meshforge.cli.errors import exit_on_error

if TYPE_CHECKING:
    from meshforge.service.settings import ServiceSettings


def load_settings() -> ServiceSettings:
    """The MESHFORGE_* settings; a bad value is an error naming its variable."""
    from pydantic import ValidationError

    from meshforge.errors import InputError
    from meshforge.service.settings import ServiceSettings

    try:
        return ServiceSettings()
    except ValidationError as error:
        # The messages only: a value (a broker or database URL) may hold a password.
        problems = "; ".join(
            f"MESHFORGE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()
        )
        raise InputError(
            problems, stage="settings", hint="Fix or unset that environment variable."
        ) from error


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int | None = typer.Option(
        None, "--workers", help="Embedded worker processes (default MESHFORGE_WORKERS, 1)."
    ),
) -> None:
    """Run the REST service: API under /v1, docs at /docs, embedded workers."""
    with exit_on_error():
        if workers is not None:  # the environment: API processes read their settings there
            os.environ["MESHFORGE_WORKERS"] = str(workers)
        settings = load_settings()
        try:
            import uvicorn

            from meshforge.service.app import create_app
        except ImportError as error:
            from meshforge.errors import DependencyError

            raise DependencyError(
                f"the service needs {error.name}",
                stage="serve",
                hint="Install it with: pip install 'meshforge[service]'",
            ) from error
        if settings.api_processes > 1:
            from meshforge.service.processes import serve_processes

            serve_processes(settings, host, port)
            return
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=int(settings.drain_timeout_s) + 5,
        )


def worker(
    celery: bool = typer.Option(
        False,
        "--celery",
        help="Take jobs from the Celery broker of MESHFORGE_CELERY_BROKER_URL instead of polling "
        "the catalog.",
    ),
    concurrency: int = typer.Option(
        1, "--concurrency", min=1, help="With --celery: jobs run at once (one process each)."
    ),
) -> None:
    """Run one worker against the catalog and storage of MESHFORGE_DATABASE_URL/STORAGE_URL
    (for more machines than one; the API then runs with MESHFORGE_WORKERS=0)."""
    with exit_on_error():
        settings = load_settings()
        if concurrency != 1 and not celery:
            from meshforge.errors import InputError

            raise InputError(
                "--concurrency is an option of Celery workers",
                stage="worker",
                hint="Add --celery, or start more `meshforge worker` processes",
            )
        if celery:
            from meshforge.workers.celery_app import run_worker

            run_worker(concurrency)
            return
        import signal
        import threading

        from meshforge.service.logs import configure_logging
        from meshforge.workers.local import work_loop, worker_name

        configure_logging(settings.log_json)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        work_loop(settings, worker_name(), stop)
