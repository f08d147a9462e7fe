"""Turning requests into stored uploads and queued jobs, with nothing half-written on failure.

An image is stored (atomically) before its catalog row is committed; if the row cannot be
written the blob is removed again. A job row is only written once its options, engine, profile,
inputs and webhook URL have all been checked, so a bad request leaves nothing behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, func, or_, select, text
from sqlalchemy.exc import IntegrityError

from meshforge.catalog.dbapi import Prepared
from meshforge.catalog.models import Job, Upload, new_id, now
from meshforge.catalog.rows import column_values, detached, from_row, get_by, insert_into
from meshforge.errors import MeshforgeError
from meshforge.service.deps import Caller
from meshforge.service.fetch import FetchRefused, check_url, fetch_image, sniff_image
from meshforge.service.problems import Problem, from_library_error
from meshforge.service.schemas import JobOptions
from meshforge.service.state import ServiceState

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/tiff": ".tiff",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/avif": ".avif",
}


@dataclass(frozen=True)
class ImageBytes:
    data: bytes
    filename: str
    content_type: str
    sha256: str


def check_image(data: bytes, filename: str, state: ServiceState) -> ImageBytes:
    """The bytes as an image we can read, or a 413/415/422 problem saying why not."""
    limit = state.settings.max_upload_bytes
    if len(data) > limit:
        raise Problem(
            413, "image-too-large", f"the image has {len(data)} bytes; the limit is {limit}"
        )
    if not data:
        raise Problem(
            422, "empty-image", f"the image {filename!r} is empty (0 bytes); send the file"
        )
    kind = sniff_image(data)
    if kind is None:
        raise Problem(
            415,
            "not-an-image",
            f"{filename!r} is not an image meshforge reads (PNG, JPEG, WebP, GIF, BMP, TIFF, "
            "HEIC/AVIF); send the photo itself",
        )
    stem = SAFE_NAME.sub("_", filename.rsplit("/", 1)[-1].rsplit(".", 1)[0])[:80].strip("._")
    name = (stem or "image") + EXTENSIONS[kind]
    return ImageBytes(data, name, kind, hashlib.sha256(data).hexdigest())


def store_upload(state: ServiceState, image: ImageBytes, caller: Caller) -> Upload:
    upload_id = new_id("upl")
    key = f"uploads/{upload_id}/{image.filename}"
    blob = state.store.put_bytes(key, image.data)
    row = Upload(
        id=upload_id,
        key_id=caller.key_id,
        filename=image.filename,
        content_type=image.content_type,
        bytes=blob.bytes,
        sha256=blob.sha256,
        storage_key=key,
        created_at=now(),
    )
    try:
        with state.catalog.session() as session:
            session.add(row)
    except Exception:
        state.store.delete(key)
        raise
    return row


def discard_uploads(state: ServiceState, uploads: list[Upload]) -> None:
    """Remove uploads this request stored when its job was not created after all (it lost an
    Idempotency-Key race to an identical request, or the insert failed): rows, then blobs."""
    if not uploads:
        return
    with state.catalog.session() as session:
        session.execute(delete(Upload).where(Upload.id.in_([u.id for u in uploads])))
    for upload in uploads:
        state.store.delete(upload.storage_key)


def find_upload(state: ServiceState, caller: Caller, ref: str) -> Upload:
    """An upload by id or by storage path (``uploads/<id>/<name>``), visible to the caller."""
    row = get_by(state.catalog, Upload, "id", ref) or get_by(
        state.catalog, Upload, "storage_key", ref.lstrip("/")
    )
    if row is None or (caller.key_id is not None and row.key_id not in (caller.key_id, None)):
        raise Problem(
            422, "unknown-upload", f"no upload {ref!r}; upload the image first (POST /v1/uploads)"
        )
    return row


def fetch_url_image(state: ServiceState, url: str) -> ImageBytes:
    try:
        data, _ = fetch_image(url, state.policy)
    except FetchRefused as refused:
        raise Problem(422, "url-refused", str(refused), reason=refused.reason) from refused
    return check_image(data, url.split("?", 1)[0] or "image", state)


def validate_options(state: ServiceState, options: JobOptions, has_prompt: bool) -> None:
    """Fail now (422) on an unknown engine, engine option or profile, not in the worker."""
    _validate_options(options.model_dump_json(), has_prompt)


@functools.lru_cache(maxsize=256)
def _validate_options(options_json: str, has_prompt: bool) -> None:
    """Checked once per distinct set of options (a pipeline submits the same few over and over;
    building the engine and the recipe cost a fifth of a submission). Only passes are cached:
    a refusal raises each time."""
    options = JobOptions.model_validate_json(options_json)
    from meshforge.engines.base import create_engine, engine_names, get_engine_class
    from meshforge.recipe import build_recipe
    from meshforge.validate.profiles import builtin_profiles, load_profile

    try:
        engine = create_engine(options.engine, options.engine_options)
        if has_prompt and not engine.capabilities.text:
            takes_text = [n for n in engine_names() if get_engine_class(n).capabilities.text]
            raise Problem(
                422,
                "prompt-not-supported",
                f"engine {options.engine!r} builds from photos, not text; send an image or "
                f"choose an engine that takes prompts ({', '.join(takes_text)})",
            )
        if options.profile is not None:
            # Only the built-in profiles: a name must never become a path on the server.
            if options.profile not in builtin_profiles():
                raise Problem(
                    422,
                    "unknown-profile",
                    f"unknown profile {options.profile!r}; use one of "
                    f"{', '.join(builtin_profiles())}",
                )
            load_profile(options.profile)
        build_recipe(
            {
                "input": {"path": "x.png"},
                "size": {"height": options.height, "width": options.width, "depth": options.depth},
            }
        )
    except MeshforgeError as error:
        raise from_library_error(error) from error


def check_webhook_url(state: ServiceState, url: str | None) -> None:
    if url is None:
        return
    try:
        check_url(url, state.policy)
    except FetchRefused as refused:
        raise Problem(422, "webhook-url-refused", str(refused), reason=refused.reason) from refused


def request_hash(
    options: JobOptions, digests: list[str], webhook_url: str | None, metadata: dict[str, Any]
) -> str:
    document = {
        "options": options.model_dump(mode="json"),
        "inputs": digests,
        "webhook_url": webhook_url,
        "metadata": metadata,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def existing_for_key(
    state: ServiceState, caller: Caller, idempotency_key: str | None, digest: str
) -> Job | None:
    """The job an earlier request with this Idempotency-Key made (409 if its body differed)."""
    if idempotency_key is None:
        return None
    jobs = Job.__table__
    with state.catalog.engine.connect() as connection:
        row = connection.execute(
            select(jobs).where(
                jobs.c.key_id == caller.key_id, jobs.c.idempotency_key == idempotency_key
            )
        ).first()
    job = None if row is None else from_row(Job, row)
    if job is not None and job.request_hash != digest:
        raise Problem(
            409,
            "idempotency-key-reused",
            f"the Idempotency-Key {idempotency_key!r} was used for a different request (job "
            f"{job.id}); use a new key for a new request",
            job_id=job.id,
        )
    return job


def active_job_limit(state: ServiceState, caller: Caller) -> int:
    return caller.max_active_jobs or state.settings.max_active_jobs


def _active_jobs_statement(key_is_null: bool) -> Select[Any]:
    jobs = Job.__table__
    key = jobs.c.key_id.is_(None) if key_is_null else jobs.c.key_id == bindparam("key_id")
    # Built once: every submission counts, and building the statement cost more than running it.
    return (
        select(func.count())
        .select_from(jobs)
        .where(key, or_(jobs.c.state == "queued", jobs.c.state == "running"))
    )


_ACTIVE_JOBS = {True: _active_jobs_statement(True), False: _active_jobs_statement(False)}
_PREPARED_ACTIVE_JOBS = {null: Prepared(statement) for null, statement in _ACTIVE_JOBS.items()}
_INSERT_JOB = Prepared(insert_into(Job))


def count_active_jobs(connection: Connection, key_id: str | None) -> int:
    """The key's queued and running jobs (index ``ix_jobs_key_state``)."""
    if key_id is None:
        return int(connection.scalar(_ACTIVE_JOBS[True]) or 0)
    return int(connection.scalar(_ACTIVE_JOBS[False], {"key_id": key_id}) or 0)


def quota_refused(active: int, limit: int) -> Problem:
    return Problem(
        429,
        "too-many-active-jobs",
        f"this API key has {active} jobs queued or running (limit {limit}); retry once some "
        "have finished",
        headers={"Retry-After": "5"},
    )


def check_quota(state: ServiceState, caller: Caller) -> None:
    """An early refusal before anything is stored; ``create_job`` enforces the limit exactly."""
    limit = active_job_limit(state, caller)
    with state.catalog.engine.connect() as connection:
        active = count_active_jobs(connection, caller.key_id)
    if active >= limit:
        raise quota_refused(active, limit)


def lock_key_jobs(connection: Connection, key_id: str | None) -> None:
    """Serialise job creation per key until the transaction ends, so that counting a key's
    active jobs and inserting one cannot interleave with another request of the same key.

    PostgreSQL takes a transaction-scoped advisory lock on the key. SQLite needs nothing here:
    the job's INSERT takes the database's single write lock, held to the commit, and the count
    follows it in the same transaction.
    """
    if connection.dialect.name == "postgresql":
        digest = hashlib.sha256(f"meshforge-jobs:{key_id}".encode()).digest()
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:lock)"),
            {"lock": int.from_bytes(digest[:8], "big", signed=True)},
        )


def create_job(
    state: ServiceState,
    caller: Caller,
    options: JobOptions,
    uploads: list[Upload],
    *,
    prompt: str | None,
    webhook_url: str | None,
    metadata: dict[str, Any],
    idempotency_key: str | None,
    digest: str,
) -> tuple[Job, bool]:
    """Insert the queued job; (job, True) or, on an idempotent replay, (earlier job, False).

    The key's active-job quota is checked in the same transaction as the insert (429 when it
    is full), so concurrent submissions cannot exceed it.
    """
    inputs: list[Any] = [
        {
            "kind": "upload",
            "upload_id": u.id,
            "storage_key": u.storage_key,
            "filename": u.filename,
            "sha256": u.sha256,
        }
        for u in uploads
    ]
    if prompt is not None:
        inputs.append({"kind": "prompt", "text": prompt})
    job = detached(
        Job,
        id=new_id("job"),
        key_id=caller.key_id,
        state="queued",
        progress=0.0,
        options=options.model_dump(mode="json", exclude_defaults=True),
        inputs=inputs,
        webhook_url=webhook_url,
        metadata_=metadata,
        idempotency_key=idempotency_key,
        request_hash=digest,
        warnings=[],
        timings={},
        cancel_requested=False,
        attempts=0,
        created_at=now(),
    )
    limit = active_job_limit(state, caller)
    values = column_values(job)
    try:
        with state.catalog.driver_connection() as raw:
            if raw is not None:  # inline on SQLite: the same statements on the driver's cursor
                dialect = state.catalog.engine.dialect
                _INSERT_JOB.execute(raw, dialect, values)
                statement = _PREPARED_ACTIVE_JOBS[caller.key_id is None]
                active = int(statement.scalar(raw, dialect, {"key_id": caller.key_id}) or 0)
                if active > limit:
                    raise quota_refused(active - 1, limit)  # rolls the insert back
                raw.commit()
                return job, True
        with state.catalog.engine.begin() as connection:  # one Core transaction
            lock_key_jobs(connection, caller.key_id)
            connection.execute(insert_into(Job), values)
            active = count_active_jobs(connection, caller.key_id)  # this job included
            if active > limit:
                raise quota_refused(active - 1, limit)  # rolls the insert back
    except (IntegrityError, sqlite3.IntegrityError):
        earlier = existing_for_key(state, caller, idempotency_key, digest)
        if earlier is None:
            raise
        return earlier, False
    return job, True
