"""/v1/uploads: store an image once, use it in jobs by id or storage path."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from meshforge.catalog.models import Upload
from meshforge.service import intake
from meshforge.service.deps import Caller, get_state, require
from meshforge.service.problems import Problem
from meshforge.service.views import iso

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])


def upload_view(row: Upload) -> dict[str, Any]:
    return {
        "id": row.id,
        "filename": row.filename,
        "content_type": row.content_type,
        "bytes": row.bytes,
        "sha256": row.sha256,
        "storage_path": row.storage_key,
        "created_at": iso(row.created_at),
    }


@router.post("", status_code=201, summary="Store an image (multipart part 'file')")
async def create_upload(
    request: Request, caller: Caller = Depends(require("write"))
) -> JSONResponse:
    state = get_state(request)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Problem(415, "unsupported-media-type", "send multipart/form-data with a part 'file'")
    form = await request.form(max_files=1, max_fields=8)
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise Problem(
                422, "missing-file", "no file: send the image as the multipart part 'file'"
            )
        data = await part.read(state.settings.max_upload_bytes + 1)
        image = intake.check_image(data, part.filename or "image", state)
    finally:
        await form.close()
    row = await run_in_threadpool(intake.store_upload, state, image, caller)
    return JSONResponse(
        upload_view(row), status_code=201, headers={"Location": f"/v1/uploads/{row.id}"}
    )


@router.get("/{upload_id}", summary="An upload's record")
def get_upload(
    upload_id: str, request: Request, caller: Caller = Depends(require("read"))
) -> dict[str, Any]:
    return upload_view(intake.find_upload(get_state(request), caller, upload_id))
