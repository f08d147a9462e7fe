"""The FastAPI application and its life cycle.

On start: migrate the catalog, open the storage, start the worker processes, the stale-job
reaper and the webhook dispatcher (queued jobs of an earlier run are simply picked up; running
ones are re-run once their lease expires). On shutdown: stop taking jobs, let running ones
finish (``drain_timeout_s``), then stop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

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


def _start_background(state: ServiceState) -> None:
    from meshforge.service.webhooks import WebhookDispatcher
    from meshforge.workers.local import LocalWorkerPool

    state.pool = LocalWorkerPool(state.settings, state.catalog)
    state.pool.start()
    state.dispatcher = WebhookDispatcher(
        state.catalog,
        state.policy,
        "whsec_" + __import__("base64").b64encode(state.signing_key[:24]).decode(),
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
        app.state.meshforge = state
        _start_background(state)
        log.info("meshforge service started", extra={"path": settings.catalog_url})
        try:
            yield
        finally:
            log.info("draining running jobs")
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
    limit = settings.max_request_bytes

    @app.middleware("http")
    async def guard_and_measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return problem_response(
                413,
                "request-too-large",
                f"the request body has {declared} bytes; the limit is {limit} "
                "(MESHFORGE_MAX_REQUEST_BYTES)",
                request.url.path,
                {"Connection": "close"},
            )
        received = 0
        receive = request._receive

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError()
            return message

        request._receive = counting_receive
        try:
            response = await call_next(request)
        except BodyTooLargeError:
            response = problem_response(
                413,
                "request-too-large",
                f"the request body is over {limit} bytes",
                request.url.path,
            )
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        state = getattr(request.app.state, "meshforge", None)
        if state is not None and state.metrics is not None:
            state.metrics.requests.labels(request.method, name, str(response.status_code)).inc()
            state.metrics.latency.labels(request.method, name).observe(
                time.perf_counter() - started
            )
        return response
