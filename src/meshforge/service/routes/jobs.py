"""/v1/jobs: submit (JSON or multipart), read, list, cancel, follow (Server-Sent Events)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from sqlalchemy import or_, select, update
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from meshforge.catalog.models import TERMINAL_STATES, Job, Upload, WebhookDelivery, now
from meshforge.catalog.rows import get_by
from meshforge.service import intake
from meshforge.service.deps import Caller, get_state, in_catalog, require
from meshforge.service.problems import Problem
from meshforge.service.schemas import JobOptions, JobRequest
from meshforge.service.state import ServiceState
from meshforge.service.views import job_view
from meshforge.service.webhooks import redeliver
from meshforge.workers.dispatch import publish_new_job

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
JSON_FIELDS = ("engine_options", "metadata")


def base_url(request: Request) -> str:
    configured = get_state(request).settings.public_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


def load_job(state: ServiceState, caller: Caller, job_id: str) -> Job:
    job = read_job(state, job_id)
    if job is None or not caller.can_see(job.key_id):
        raise Problem(404, "job-not-found", f"no job {job_id!r} for this API key")
    return job


async def _read_multipart(request: Request) -> tuple[dict[str, Any], list[tuple[bytes, str]]]:
    state = get_state(request)
    form = await request.form(max_files=16, max_fields=64)
    fields: dict[str, Any] = {}
    images: list[tuple[bytes, str]] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "image":
                    raise Problem(
                        422,
                        "unknown-field",
                        f"unexpected file part {name!r}; name image parts 'image'",
                    )
                data = await value.read(state.settings.max_upload_bytes + 1)
                images.append((data, value.filename or "image"))
            elif name in JSON_FIELDS:
                try:
                    fields[name] = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise Problem(
                        422, "invalid-request", f"{name}: not valid JSON ({exc.msg})"
                    ) from exc
            elif name == "formats":
                fields.setdefault("formats", []).extend(v for v in value.split(",") if v.strip())
            else:
                fields[name] = value
    finally:
        await form.close()
    return fields, images


def _parse_request(fields: dict[str, Any]) -> JobRequest:
    try:
        return JobRequest.model_validate(fields)
    except ValidationError as exc:
        errors = [
            {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(e['loc']) or 'body'}: {e['msg']}" for e in errors)
        raise Problem(422, "invalid-options", detail, errors=errors) from exc


def _decode_base64(text: str) -> bytes:
    """Strict base64 (a data: URL's payload too); line breaks and spaces are ignored, as MIME
    base64 (what `base64 photo.jpg` prints) wraps its lines at 76 characters."""
    payload = text.split(",", 1)[-1] if text.startswith("data:") else text
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Problem(422, "invalid-base64", "image_base64 is not valid base64") from exc


async def _submit(
    request: Request, caller: Caller, idempotency_key: str | None
) -> tuple[Job, bool]:
    state = get_state(request)
    content_type = request.headers.get("content-type", "")
    images: list[tuple[bytes, str]] = []
    if content_type.startswith("multipart/form-data"):
        fields, images = await _read_multipart(request)
    elif content_type.startswith("application/json") or not content_type:
        try:
            fields = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Problem(400, "invalid-json", "the body is not valid JSON") from exc
        if not isinstance(fields, dict):
            raise Problem(422, "invalid-request", "the body must be a JSON object")
    else:
        raise Problem(415, "unsupported-media-type", "send application/json or multipart/form-data")
    body = _parse_request(fields)
    sources = [s for s in ("image_url", "image_base64", "upload_id", "prompt") if getattr(body, s)]
    if (images and sources) or len(sources) > 1:
        raise Problem(
            422,
            "too-many-inputs",
            f"give one input; got {', '.join(sources + (['image'] if images else []))}",
        )
    if not images and not sources:
        raise Problem(
            422,
            "missing-input",
            "no input: send an 'image' part (multipart) or one of image_url, image_base64, "
            "upload_id, prompt",
        )
    options = JobOptions.model_validate(body.model_dump(include=set(JobOptions.model_fields)))
    intake.check_webhook_url(state, body.webhook_url)
    checked: list[intake.ImageBytes] = [intake.check_image(d, n, state) for d, n in images]
    if body.image_base64:
        checked.append(intake.check_image(_decode_base64(body.image_base64), "image", state))
    if body.image_url:  # options first: a bad one must not cost a fetch (checked again below)
        await run_in_threadpool(intake.validate_options, state, options, body.prompt is not None)
        checked.append(await run_in_threadpool(intake.fetch_url_image, state, body.image_url))
    # The request's catalog work in one go; images to store make it slow I/O, done on a
    # thread (see deps.in_catalog).
    job, created = await in_catalog(
        state,
        _register,
        state,
        caller,
        body,
        options,
        checked,
        idempotency_key,
        inline=not checked,
    )
    if created:  # a replay's job was published when it was created
        publish_new_job(state, job.id)  # returns at once: a thread sends it
    return job, created


def _register(
    state: ServiceState,
    caller: Caller,
    body: JobRequest,
    options: JobOptions,
    checked: list[intake.ImageBytes],
    idempotency_key: str | None,
) -> tuple[Job, bool]:
    """Validate the options, find the upload, then replay the earlier job of this
    Idempotency-Key or store the images and create the job (the images are removed again
    when no job comes of them): (job, created)."""
    intake.validate_options(state, options, body.prompt is not None)
    uploads: list[Upload] = []
    if body.upload_id:
        uploads.append(intake.find_upload(state, caller, body.upload_id))
    digests = [c.sha256 for c in checked] + [u.sha256 for u in uploads]
    if body.prompt:
        digests.append("prompt:" + body.prompt)
    digest = intake.request_hash(options, digests, body.webhook_url, body.metadata)
    earlier = intake.existing_for_key(state, caller, idempotency_key, digest)
    if earlier is not None:
        return earlier, False
    if checked:  # refuse before storing anything; create_job enforces the limit exactly
        intake.check_quota(state, caller)
    stored: list[Upload] = []  # what this request writes, removed again if no job comes of it
    created = False
    try:
        stored.extend(intake.store_upload(state, image, caller) for image in checked)
        job, created = intake.create_job(
            state,
            caller,
            options,
            uploads + stored,
            prompt=body.prompt,
            webhook_url=body.webhook_url,
            metadata=body.metadata,
            idempotency_key=idempotency_key,
            digest=digest,
        )
    finally:
        if not created:
            intake.discard_uploads(state, stored)
    return job, created


def read_job(state: ServiceState, job_id: str) -> Job | None:
    return get_by(state.catalog, Job, "id", job_id)


async def wait_for_end(state: ServiceState, job_id: str, seconds: float) -> Job | None:
    """The job once it ended, or None after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        job = await run_in_threadpool(read_job, state, job_id)
        if job is not None and job.state in TERMINAL_STATES:
            return job
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(0.05)


@router.post("", status_code=202, summary="Submit a job (JSON or multipart)")
async def submit_job(
    request: Request,
    caller: Caller = Depends(require("write")),
    idempotency_key: str | None = Header(default=None, max_length=200),
    wait: float = Query(default=0.0, ge=0.0, description="Wait up to this long for the result."),
) -> JSONResponse:
    state = get_state(request)
    job, created = await _submit(request, caller, idempotency_key)
    if wait > 0 and job.state not in TERMINAL_STATES:
        finished = await wait_for_end(state, job.id, min(wait, state.settings.max_wait_s))
        job = finished or job
    status = 200 if job.state in TERMINAL_STATES else 202
    headers = {"Location": f"/v1/jobs/{job.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    view = await in_catalog(state, job_view, state, base_url(request), job)
    # A replay answers like the first request would now: 202 while the job is under way.
    return JSONResponse(view, status_code=status, headers=headers)


@router.get("/{job_id}", summary="A job: state, progress, results")
async def get_job(
    job_id: str, request: Request, caller: Caller = Depends(require("read"))
) -> dict[str, Any]:
    state = get_state(request)
    base = base_url(request)
    return await in_catalog(state, lambda: job_view(state, base, load_job(state, caller, job_id)))


def _encode_cursor(job: Job) -> str:
    return base64.urlsafe_b64encode(f"{job.created_at!r}|{job.id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, job_id = raw.split("|", 1)
        return float(stamp), job_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(422, "invalid-cursor", "the cursor is not one this API returned") from exc


@router.get("", summary="List jobs, newest first, with cursor pagination")
def list_jobs(
    request: Request,
    caller: Caller = Depends(require("read")),
    state_filter: list[str] | None = Query(default=None, alias="state"),
    created_after: float | None = Query(default=None, description="UNIX seconds."),
    created_before: float | None = Query(default=None, description="UNIX seconds."),
    limit: int = Query(default=20, ge=1, le=100),
    cursor: str | None = Query(default=None),
) -> dict[str, Any]:
    state = get_state(request)
    query = select(Job)
    if not caller.sees_everything:
        query = query.where(Job.key_id == caller.key_id)
    if state_filter:
        unknown = set(state_filter) - {"queued", "running", "succeeded", "failed", "canceled"}
        if unknown:
            raise Problem(422, "invalid-request", f"unknown state {sorted(unknown)}")
        query = query.where(Job.state.in_(state_filter))
    if created_after is not None:
        query = query.where(Job.created_at > created_after)
    if created_before is not None:
        query = query.where(Job.created_at < created_before)
    if cursor:
        stamp, last_id = _decode_cursor(cursor)
        query = query.where(
            or_(Job.created_at < stamp, (Job.created_at == stamp) & (Job.id < last_id))
        )
    query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
    with state.catalog.session() as session:
        rows = list(session.scalars(query))
    page, more = rows[:limit], len(rows) > limit
    base = base_url(request)
    return {
        "data": [job_view(state, base, j, details=False) for j in page],
        "next_cursor": _encode_cursor(page[-1]) if more and page else None,
    }


@router.post("/{job_id}/cancel", summary="Cancel a queued or running job")
def cancel_job(
    job_id: str, request: Request, caller: Caller = Depends(require("write"))
) -> JSONResponse:
    state = get_state(request)
    job = load_job(state, caller, job_id)
    from meshforge.workers.runner import queue_webhook

    # Conditional UPDATEs, not read-then-write: atomic on SQLite too (where FOR UPDATE locks
    # nothing), so a job that a worker claims or finishes meanwhile is never overwritten.
    for _ in range(3):  # a job can move from queued to running (or back) between the two
        with state.catalog.session() as session:
            canceled = session.execute(
                update(Job)
                .where(Job.id == job.id, Job.state == "queued")
                .values(state="canceled", finished_at=now(), cancel_requested=True)
                .execution_options(synchronize_session=False)
            )
            if getattr(canceled, "rowcount", 0) == 1:
                row = session.get(Job, job.id)
                assert row is not None
                queue_webhook(session, row, "job.canceled")
                break
            asked = session.execute(
                update(Job)
                .where(Job.id == job.id, Job.state == "running")
                .values(cancel_requested=True)
                .execution_options(synchronize_session=False)
            )
            if getattr(asked, "rowcount", 0) == 1:
                break
            current = session.scalar(select(Job.state).where(Job.id == job.id))
        if current in TERMINAL_STATES:
            raise Problem(
                409, "job-finished", f"job {job_id} already ended ({current}); nothing to cancel"
            )
    job = load_job(state, caller, job_id)
    return JSONResponse(
        job_view(state, base_url(request), job), status_code=202 if job.state == "running" else 200
    )


@router.post("/{job_id}/webhooks/{delivery_id}/redeliver", summary="Send a webhook again")
def redeliver_webhook(
    job_id: str, delivery_id: str, request: Request, caller: Caller = Depends(require("write"))
) -> JSONResponse:
    state = get_state(request)
    load_job(state, caller, job_id)
    with state.catalog.session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.job_id != job_id:
            raise Problem(404, "delivery-not-found", f"job {job_id} has no webhook {delivery_id!r}")
    redeliver(state.catalog, delivery_id)
    if state.dispatcher is not None:
        state.dispatcher.wake()
    return JSONResponse({"id": delivery_id, "state": "pending"}, status_code=202)


@router.get("/{job_id}/events", summary="Progress as Server-Sent Events")
async def job_events(
    job_id: str, request: Request, caller: Caller = Depends(require("read"))
) -> StreamingResponse:
    state = get_state(request)
    await run_in_threadpool(load_job, state, caller, job_id)

    async def stream() -> Any:
        last: tuple[Any, ...] | None = None
        sequence = 0
        while True:
            if await request.is_disconnected():
                return
            # A blocking read (SQLite may wait on its lock) must not stall the event loop.
            job = await run_in_threadpool(read_job, state, job_id)
            assert job is not None
            snapshot = (job.state, job.progress, job.stage)
            if snapshot != last:
                last = snapshot
                sequence += 1
                data = {
                    "id": job.id,
                    "state": job.state,
                    "progress": job.progress,
                    "stage": job.stage,
                }
                event = "end" if job.state in TERMINAL_STATES else "progress"
                yield f"id: {sequence}\nevent: {event}\ndata: {json.dumps(data)}\n\n"
                if event == "end":
                    return
            await asyncio.sleep(0.1)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
