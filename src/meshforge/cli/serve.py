"""``meshforge serve`` (the REST service) and ``meshforge worker`` (a worker without the API)."""

from __future__ import annotations

import typer

from meshforge.cli.errors import exit_on_error


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int | None = typer.Option(
        None, "--workers", help="Embedded worker processes (default MESHFORGE_WORKERS, 1)."
    ),
) -> None:
    """Run the REST service: API under /v1, docs at /docs, embedded workers."""
    with exit_on_error():
        from meshforge.service.settings import ServiceSettings

        settings = ServiceSettings()
        if workers is not None:
            settings = settings.model_copy(update={"workers": workers})
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
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=int(settings.drain_timeout_s) + 5,
        )


def worker() -> None:
    """Run one worker against the catalog and storage of MESHFORGE_DATABASE_URL/STORAGE_URL
    (for more machines than one; the API then runs with MESHFORGE_WORKERS=0)."""
    with exit_on_error():
        import os
        import signal
        import threading
        import uuid

        from meshforge.service.logs import configure_logging
        from meshforge.service.settings import ServiceSettings
        from meshforge.workers.local import work_loop

        settings = ServiceSettings()
        configure_logging(settings.log_json)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        work_loop(settings, f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}", stop)
