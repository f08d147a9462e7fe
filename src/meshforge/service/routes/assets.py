"""/v1/assets and /v1/files: the catalog's assets, versions and file downloads.

Downloads stream from the blob store with a strong ETag (the file's SHA-256), answer
If-None-Match with 304 and a single ``Range: bytes=a-b`` with 206; HEAD answers the same
headers without the body. A signed URL
(``?expires=…&signature=…``) works without an API key until it expires.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from meshforge.catalog.models import Asset, AssetFile, AssetVersion
from meshforge.service.deps import Caller, authenticate, get_state, require
from meshforge.service.problems import Problem
from meshforge.service.routes.jobs import base_url
from meshforge.service.signatures import SignatureError, verify_path
from meshforge.service.state import ServiceState
from meshforge.service.views import asset_view, file_path, signed_file_url, version_view

router = APIRouter(tags=["assets"])
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _owned_asset(state: ServiceState, caller: Caller, asset_id: str) -> Asset:
    with state.catalog.session() as session:
        asset = session.get(Asset, asset_id)
    if asset is None or not caller.can_see(asset.key_id):
        raise Problem(404, "asset-not-found", f"no asset {asset_id!r} for this API key")
    return asset


@router.get("/v1/assets/{asset_id}", summary="An asset and its versions")
def get_asset(
    asset_id: str, request: Request, caller: Caller = Depends(require("read"))
) -> dict[str, Any]:
    state = get_state(request)
    return asset_view(state, base_url(request), _owned_asset(state, caller, asset_id))


@router.get("/v1/assets/{asset_id}/versions", summary="An asset's versions")
def list_versions(
    asset_id: str, request: Request, caller: Caller = Depends(require("read"))
) -> dict[str, Any]:
    state = get_state(request)
    view = asset_view(state, base_url(request), _owned_asset(state, caller, asset_id))
    return {"data": view["versions"]}


def _version(state: ServiceState, asset_id: str, version: int) -> AssetVersion:
    with state.catalog.session() as session:
        row = session.scalar(
            select(AssetVersion).where(
                AssetVersion.asset_id == asset_id, AssetVersion.version == version
            )
        )
    if row is None:
        raise Problem(404, "version-not-found", f"asset {asset_id} has no version {version}")
    return row


@router.get("/v1/assets/{asset_id}/versions/{version}", summary="One version with its files")
def get_version(
    asset_id: str, version: int, request: Request, caller: Caller = Depends(require("read"))
) -> dict[str, Any]:
    state = get_state(request)
    _owned_asset(state, caller, asset_id)
    return version_view(state, base_url(request), asset_id, _version(state, asset_id, version))


@router.get("/v1/assets/{asset_id}/versions/{version}/files/{name:path}", summary="Download a file")
@router.head("/v1/assets/{asset_id}/versions/{version}/files/{name:path}", include_in_schema=False)
def download_by_name(
    asset_id: str,
    version: int,
    name: str,
    request: Request,
    caller: Caller = Depends(require("read")),
) -> Response:
    state = get_state(request)
    _owned_asset(state, caller, asset_id)
    row = _version(state, asset_id, version)
    with state.catalog.session() as session:
        file = session.scalar(
            select(AssetFile).where(AssetFile.version_id == row.id, AssetFile.name == name)
        )
    if file is None:
        raise Problem(
            404, "file-not-found", f"version {version} of {asset_id} has no file {name!r}"
        )
    return stream_file(state, request, file)


@router.post("/v1/files/{file_id}/signed-url", summary="A time-limited link that needs no API key")
def make_signed_url(
    file_id: str,
    request: Request,
    ttl: int | None = Query(default=None, ge=1, le=7 * 86400),
    caller: Caller = Depends(require("read")),
) -> dict[str, Any]:
    state = get_state(request)
    _load_file(state, caller, file_id)
    url, expires = signed_file_url(state, base_url(request), file_id, ttl)
    return {"url": url, "expires_at": expires}


def _load_file(state: ServiceState, caller: Caller | None, file_id: str) -> AssetFile:
    with state.catalog.session() as session:
        file = session.get(AssetFile, file_id)
        version = session.get(AssetVersion, file.version_id) if file is not None else None
    if file is None or version is None:
        raise Problem(404, "file-not-found", f"no file {file_id!r}")
    if caller is not None:
        _owned_asset(state, caller, version.asset_id)
    return file


@router.get("/v1/files/{file_id}", summary="Download a file (API key or signed URL)")
@router.head("/v1/files/{file_id}", include_in_schema=False)
def download(
    file_id: str,
    request: Request,
    expires: str | None = Query(default=None),
    signature: str | None = Query(default=None),
) -> Response:
    state = get_state(request)
    if expires is not None or signature is not None:
        try:
            verify_path(state.signing_key, file_path(file_id), expires or "", signature or "")
        except SignatureError as error:
            code = "signed-url-expired" if "expired" in str(error) else "signed-url-invalid"
            raise Problem(403, code, f"{error}; ask the API for a new link") from error
        file = _load_file(state, None, file_id)
    else:
        caller = authenticate(request)
        file = _load_file(state, caller, file_id)
    return stream_file(state, request, file)


def _none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` matches: ``*`` or any listed tag, compared weakly (RFC 9110
    13.1.2), so ``W/"<sha256>"`` from a cache matches too."""
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in [t.removeprefix("W/") for t in tags]


def stream_file(state: ServiceState, request: Request, file: AssetFile) -> Response:
    etag = f'"{file.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{file.name.rsplit("/", 1)[-1]}"',
        "Cache-Control": "private, max-age=3600",
    }
    if _none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    size = file.bytes
    start, end, status = 0, size - 1, 200
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if wanted and (if_range is None or if_range == etag):
        match = RANGE.match(wanted.strip())
        first, last = match.groups() if match else ("", "")
        # "bytes=9-5" is not a valid range (RFC 9110 14.1.1): ignored, as an unknown one is
        if (first or last) and not (first and last and int(last) < int(first)):
            if first:
                start, end = int(first), min(int(last), size - 1) if last else size - 1
            else:
                start, end = max(0, size - int(last)), size - 1
            if start > end or start >= size:
                raise Problem(
                    416,
                    "range-not-satisfiable",
                    f"the range {wanted!r} is outside the file's {size} bytes",
                    headers={"Content-Range": f"bytes */{size}"},
                )
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=file.content_type)
    return StreamingResponse(
        state.store.read_range(file.storage_key, start, end),
        status_code=status,
        headers=headers,
        media_type=file.content_type,
    )
