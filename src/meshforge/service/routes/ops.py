"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from meshforge.service.deps import get_state
from meshforge.service.metrics import render_metrics

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, Any]:
    # async: nothing to wait for, so no hand-over to a thread (a probe under load stays cheap)
    return {"status": "ok"}


@router.get("/readyz", summary="The catalog, storage and workers answer; the broker is reported")
def readyz(request: Request) -> JSONResponse:
    state = get_state(request)
    checks: dict[str, str] = {}
    for name, probe in (("catalog", state.catalog.ping), ("storage", state.store.ping)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as error:
            checks[name] = f"failed: {type(error).__name__}: {error}"[:300]
    if state.pool is not None and state.settings.workers > 0:
        alive = state.pool.alive()
        checks["workers"] = "ok" if alive > 0 else "failed: no worker process is alive"
    ready = all(v == "ok" for v in checks.values())
    if state.publisher is not None:
        # Reported, but not a reason to refuse traffic: without the broker, jobs are still
        # accepted into the catalog and published once it is back.
        try:
            state.publisher.ping()
            checks["broker"] = "ok"
        except Exception as error:
            checks["broker"] = f"degraded: {type(error).__name__}: {error}"[:300]
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics")
def metrics(request: Request) -> Response:
    body, content_type = render_metrics(get_state(request))
    return Response(body, media_type=content_type)
