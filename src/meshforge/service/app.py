"""The FastAPI application and its life cycle.

On start: migrate the catalog, open the storage, start the worker processes, the stale-job
reaper, the webhook dispatcher and, with a Celery broker, the job publisher (queued jobs of an
earlier run are simply picked up; running ones are re-run once their lease expires). On
shutdown: stop taking jobs, let running ones finish (``drain_timeout_s``), then stop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI

from meshforge import __version__
from meshforge.catalog.db import Catalog, upgrade_database
from meshforge.service.fetch import FetchPolicy
from meshforge.service.logs import configure_logging
from meshforge.service.metrics import ServiceMetrics
from meshforge.service.problems import install_handlers, problem_response
from meshforge.service.settings import ServiceSettings
from meshforge.service.state import ServiceState, make_limiter
from meshforge.storage.blobs import open_store

log = logging.getLogger("meshforge.service")


def build_state(settings: ServiceSettings, shared_dir: Path | None = None) -> ServiceState:
    upgrade_database(settings.catalog_url)
    state = ServiceState(
        settings=settings,
        catalog=Catalog(settings.catalog_url),
        store=open_store(settings.blob_url),
        signing_key=settings.signing_key(),
        policy=fetch_policy(settings),
        limiter=make_limiter(shared_dir, settings.rate_per_minute, settings.rate_burst),
        shared_dir=shared_dir,
    )
    state.metrics = ServiceMetrics(state)
    return state


def fetch_policy(settings: ServiceSettings) -> FetchPolicy:
    return FetchPolicy(
        allow_hosts=settings.allow_hosts,
        max_bytes=settings.max_upload_bytes,
        timeout_s=settings.fetch_timeout_s,
    )


def fallback_webhook_secret(signing_key: bytes) -> str:
    """The webhook secret of jobs submitted without a key (MESHFORGE_AUTH=false), derived from
    the URL-signing key so that it is stable across restarts."""
    digest = hmac.new(signing_key, b"meshforge webhook secret", hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest[:24]).decode()


@dataclass
class Background:
    """What a server runs beside its API: the embedded workers (with the stale-job reaper),
    the webhook dispatcher and, with a Celery broker, the job publisher."""

    pool: Any
    dispatcher: Any
    publisher: Any = None

    def stop(self, drain_timeout_s: float) -> None:
        """Publish no more, let running jobs finish (``drain_timeout_s``), stop the dispatcher."""
        if self.publisher is not None:
            self.publisher.stop()
        self.pool.stop(drain_timeout_s)
        self.dispatcher.stop()


def start_publisher(settings: ServiceSettings, catalog: Catalog) -> Any:
    if not settings.celery_broker_url:
        return None
    from meshforge.workers.dispatch import JobPublisher

    publisher = JobPublisher(settings, catalog)
    publisher.start()
    return publisher


def start_background(
    settings: ServiceSettings, catalog: Catalog, signing_key: bytes, *, publisher: bool
) -> Background:
    from meshforge.service.webhooks import WebhookDispatcher
    from meshforge.workers.local import LocalWorkerPool

    pool = LocalWorkerPool(settings, catalog)
    pool.start()
    dispatcher = WebhookDispatcher(
        catalog,
        fetch_policy(settings),
        fallback_webhook_secret(signing_key),
        retry_scale=settings.webhook_retry_scale,
        timeout_s=settings.webhook_timeout_s,
    )
    dispatcher.start()
    return Background(pool, dispatcher, start_publisher(settings, catalog) if publisher else None)


def create_app(settings: ServiceSettings | None = None, *, api_process: bool = False) -> FastAPI:
    """The service. ``api_process``: one of the API processes of ``meshforge serve`` with
    ``MESHFORGE_API_PROCESSES`` > 1, whose workers and webhook dispatcher run in the serving
    process (``service.processes``) and whose rate limits are shared through files there."""
    settings = settings or ServiceSettings()
    configure_logging(settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if api_process:
            from meshforge.service import processes

            runtime = processes.runtime_dir(settings, os.getppid())
            state = build_state(settings, shared_dir=runtime)
            state.pool = processes.PoolView(runtime)
            state.publisher = start_publisher(settings, state.catalog)
            background = None
            watch = asyncio.create_task(processes.exit_with_parent())
        else:
            state = build_state(settings)
            background = start_background(
                settings, state.catalog, state.signing_key, publisher=True
            )
            state.pool, state.dispatcher = background.pool, background.dispatcher
            state.publisher = background.publisher
        state.catalog_limiter = anyio.CapacityLimiter(settings.catalog_threads)
        app.state.meshforge = state
        await anyio.to_thread.run_sync(_warm_up, state)
        log.info("meshforge service started", extra={"path": settings.catalog_url})
        try:
            yield
        finally:
            if background is not None:
                log.info("draining running jobs")
                background.stop(settings.drain_timeout_s)
            else:
                watch.cancel()
                if state.publisher is not None:
                    state.publisher.stop()
            state.catalog.dispose()

    app = FastAPI(
        title="meshforge",
        version=__version__,
        description="Product photos in, production-ready 3D assets out.",
        lifespan=lifespan,
    )
    install_handlers(app)
    _install_middleware(app, settings)
    from meshforge.service.routes import assets, features, jobs, ops, uploads

    for module in (jobs, uploads, assets, features, ops):
        app.include_router(module.router)
    return app


def _warm_up(state: ServiceState) -> None:
    """Check the default options once before serving: that imports the engines (about a
    second of CPU), which the first submission would otherwise pay for."""
    from meshforge.service.intake import validate_options
    from meshforge.service.schemas import JobOptions

    try:
        validate_options(state, JobOptions(), False)
    except Exception:  # the first submission will say what is wrong, with the request's options
        log.exception("checking the default job options failed")


def create_api_process_app() -> FastAPI:
    """The app of one API process (uvicorn's factory; settings from the environment)."""
    return create_app(api_process=True)


class BodyTooLargeError(Exception):
    pass


def _install_middleware(app: FastAPI, settings: ServiceSettings) -> None:
    app.add_middleware(GuardAndMeasure, limit=settings.max_request_bytes)


class GuardAndMeasure:
    """Refuse bodies over the limit (declared or streamed) and count and time every request.

    A plain ASGI middleware, not ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware
    runs each request through a task group and memory streams, a cost every request pays. The
    latency is observed when the response starts, as BaseHTTPMiddleware's ``call_next`` did (a
    Server-Sent Events stream is not timed to its end).
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        limit = self.limit
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                declared = value.decode("latin-1")
                break
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = problem_response(
                413,
                "request-too-large",
                f"the request body has {declared} bytes; the limit is {limit} "
                "(MESHFORGE_MAX_REQUEST_BYTES)",
                scope.get("path"),
                {"Connection": "close"},
            )
            await response(scope, receive, MeasuredSend(scope, send, started))
            return
        received = 0

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError()
            return message

        measured = MeasuredSend(scope, send, started)
        try:
            await self.app(scope, counting_receive, measured)
        except BodyTooLargeError:
            if measured.started:
                raise
            response = problem_response(
                413, "request-too-large", f"the request body is over {limit} bytes", scope["path"]
            )
            await response(scope, receive, measured)


class MeasuredSend:
    """``send``, counting and timing the request when its response starts."""

    def __init__(self, scope: Any, send: Any, started: float) -> None:
        self.scope = scope
        self.send = send
        self.started_at = started
        self.started = False

    async def __call__(self, message: Any) -> None:
        if message["type"] == "http.response.start" and not self.started:
            self.started = True
            app = self.scope.get("app")
            state = getattr(getattr(app, "state", None), "meshforge", None)
            if state is not None and state.metrics is not None:
                route = getattr(self.scope.get("route"), "path", "unmatched")
                method = self.scope["method"]
                state.metrics.requests.labels(method, route, str(message["status"])).inc()
                state.metrics.latency.labels(method, route).observe(
                    time.perf_counter() - self.started_at
                )
        await self.send(message)
