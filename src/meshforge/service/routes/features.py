"""``POST /api/features``: the common "features" API shape, for clients written against it.

The request names an image by http(s) URL or by the storage path of an earlier upload; the
answer is an ``aiRecord`` describing the job (waited for up to ``max_wait_s``) with the stored
file paths, and ``temporaryUrl``, a signed link to the model that needs no key.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from meshforge.catalog.models import Job
from meshforge.service import intake
from meshforge.service.deps import Caller, get_state, require
from meshforge.service.problems import Problem
from meshforge.service.routes.jobs import base_url, load_job, wait_for_end
from meshforge.service.schemas import FeaturesRequest, JobOptions
from meshforge.service.state import ServiceState
from meshforge.service.views import iso, signed_file_url, version_files
from meshforge.workers.dispatch import publish_new_job

router = APIRouter(prefix="/api/features", tags=["compatibility"])
STATUS = {
    "queued": "PENDING",
    "running": "PROCESSING",
    "succeeded": "COMPLETED",
    "failed": "FAILED",
    "canceled": "CANCELED",
}


def ai_record(
    state: ServiceState, base: str, job: Job, request_body: dict[str, Any]
) -> dict[str, Any]:
    files = version_files(state, job.asset_id, job.asset_version or 1) if job.asset_id else []
    model = next((f for f in files if f.kind == "glb"), files[0] if files else None)
    temporary = signed_file_url(state, base, model.id)[0] if model is not None else None
    record = {
        "uuid": job.id,
        "type": "IMAGE_3D_GENERATOR",
        "model": job.options.get("engine", "silhouette"),
        "status": STATUS[job.state],
        "createdAt": iso(job.created_at),
        "updatedAt": iso(job.finished_at or job.started_at or job.created_at),
        "aiRecordDetail": {
            "promptObject": request_body.get("promptObject", {}),
            "resultObject": {
                "files": [f.storage_key for f in files],
                "modelUrl": model.storage_key if model is not None else None,
                "thumbnail": next((f.storage_key for f in files if f.kind == "thumbnail"), None),
                "error": job.error,
            },
        },
    }
    return {"aiRecord": record, "temporaryUrl": temporary}


@router.post("", summary="Generate a 3D model (features API shape)")
async def create_feature(
    request: Request, caller: Caller = Depends(require("write"))
) -> dict[str, Any]:
    state = get_state(request)
    try:
        raw = await request.json()
        body = FeaturesRequest.model_validate(raw)
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise Problem(422, "invalid-request", detail) from exc
    except ValueError as exc:
        raise Problem(400, "invalid-json", "the body is not valid JSON") from exc
    options = JobOptions(engine=body.model)
    await run_in_threadpool(intake.validate_options, state, options, False)
    await run_in_threadpool(intake.check_quota, state, caller)  # before fetching or storing
    url = body.promptObject.imageUrl
    if url.startswith(("http://", "https://")):
        image = await run_in_threadpool(intake.fetch_url_image, state, url)
        upload = await run_in_threadpool(intake.store_upload, state, image, caller)
    else:
        upload = await run_in_threadpool(intake.find_upload, state, caller, url)
    digest = intake.request_hash(options, [upload.sha256], None, {})
    job, created = await run_in_threadpool(
        lambda: intake.create_job(
            state,
            caller,
            options,
            [upload],
            prompt=None,
            webhook_url=None,
            metadata={},
            idempotency_key=None,
            digest=digest,
        )
    )
    if created:
        publish_new_job(state, job.id)  # returns at once: a thread sends it
    job = await wait_for_end(state, job.id, state.settings.max_wait_s) or job
    return await run_in_threadpool(ai_record, state, base_url(request), job, raw)


@router.get("/{record_id}", summary="A record made by POST /api/features")
def get_feature(
    record_id: str, request: Request, caller: Caller = Depends(require("read"))
) -> dict[str, Any]:
    state = get_state(request)
    job = load_job(state, caller, record_id)
    source = job.inputs[0] if job.inputs else {}
    return ai_record(
        state, base_url(request), job, {"promptObject": {"imageUrl": source.get("storage_key")}}
    )
