"""The FastAPI application and its life cycle.

On start: migrate the catalog, open the storage, start the worker processes, the stale-job
reaper, the webhook dispatcher and, with a Celery broker, the job publisher (queued jobs of an
earlier run are simply picked up; running ones are re-run once their lease expires). On
shutdown: stop taking jobs, let running ones finish (``drain_timeout_s``), then stop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI

from meshforge import __version__
from meshforge.catalog.db import Catalog, upgrade_database
from meshforge.service.fetch import FetchPolicy
from meshforge.service.logs import configure_logging
from meshforge.service.metrics import ServiceMetrics
from meshforge.service.problems import install_handlers, problem_response
from meshforge.service.ratelimit import RateLimiter
from meshforge.service.settings import ServiceSettings
from meshforge.service.state import ServiceState
from meshforge.storage.blobs import open_store

log = logging.getLogger("meshforge.service")


def build_state(settings: ServiceSettings) -> ServiceState:
    upgrade_database(settings.catalog_url)
    state = ServiceState(
        settings=settings,
        catalog=Catalog(settings.catalog_url),
        store=open_store(settings.blob_url),
        signing_key=settings.signing_key(),
        policy=FetchPolicy(
            allow_hosts=settings.allow_hosts,
            max_bytes=settings.max_upload_bytes,
            timeout_s=settings.fetch_timeout_s,
        ),
        limiter=RateLimiter(settings.rate_per_minute, settings.rate_burst),
    )
    state.metrics = ServiceMetrics(state)
    return state


def fallback_webhook_secret(signing_key: bytes) -> str:
    """The webhook secret of jobs submitted without a key (MESHFORGE_AUTH=false), derived from
    the URL-signing key so that it is stable across restarts."""
    digest = hmac.new(signing_key, b"meshforge webhook secret", hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest[:24]).decode()


def _start_background(state: ServiceState) -> None:
    from meshforge.service.webhooks import WebhookDispatcher
    from meshforge.workers.local import LocalWorkerPool

    state.pool = LocalWorkerPool(state.settings, state.catalog)
    state.pool.start()
    if state.settings.celery_broker_url:
        from meshforge.workers.dispatch import JobPublisher

        state.publisher = JobPublisher(state.settings, state.catalog)
        state.publisher.start()
    state.dispatcher = WebhookDispatcher(
        state.catalog,
        state.policy,
        fallback_webhook_secret(state.signing_key),
        retry_scale=state.settings.webhook_retry_scale,
        timeout_s=state.settings.webhook_timeout_s,
    )
    state.dispatcher.start()


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()
    configure_logging(settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = build_state(settings)
        state.catalog_limiter = anyio.CapacityLimiter(settings.catalog_threads)
        app.state.meshforge = state
        _start_background(state)
        log.info("meshforge service started", extra={"path": settings.catalog_url})
        try:
            yield
        finally:
            log.info("draining running jobs")
            if state.publisher is not None:
                state.publisher.stop()
            state.pool.stop(settings.drain_timeout_s)
            state.dispatcher.stop()
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
