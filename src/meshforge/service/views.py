"""Catalog rows as API documents, with links (API-key links and signed, time-limited ones)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, bindparam, select

from meshforge.catalog.dbapi import Prepared
from meshforge.catalog.models import (
    Asset,
    AssetFile,
    AssetVersion,
    Job,
    WebhookAttempt,
    WebhookDelivery,
)
from meshforge.catalog.rows import from_columns, from_row
from meshforge.service.signatures import sign_path
from meshforge.service.state import ServiceState


def iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return (
        datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def file_path(file_id: str) -> str:
    return f"/v1/files/{file_id}"


def signed_file_url(
    state: ServiceState, base: str, file_id: str, ttl_s: int | None = None
) -> tuple[str, int]:
    expires = int(time.time()) + (ttl_s or state.settings.signed_url_ttl_s)
    path = file_path(file_id)
    return f"{base}{path}?{sign_path(state.signing_key, path, expires)}", expires


def file_view(state: ServiceState, base: str, row: AssetFile) -> dict[str, Any]:
    signed, expires = signed_file_url(state, base, row.id)
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "content_type": row.content_type,
        "bytes": row.bytes,
        "sha256": row.sha256,
        "storage_path": row.storage_key,
        "url": f"{base}{file_path(row.id)}",
        "signed_url": signed,
        "signed_url_expires_at": iso(expires),
    }


def _version_files_statement() -> Select[Any]:
    files, versions = AssetFile.__table__, AssetVersion.__table__
    return (
        select(files)
        .join(versions, files.c.version_id == versions.c.id)
        .where(
            versions.c.asset_id == bindparam("asset_id"),
            versions.c.version == bindparam("version"),
        )
        .order_by(files.c.name)
    )


_VERSION_FILES = _version_files_statement()  # every read of a finished job lists its files
_PREPARED_VERSION_FILES = Prepared(_VERSION_FILES)


def version_files(state: ServiceState, asset_id: str, version: int) -> list[AssetFile]:
    params = {"asset_id": asset_id, "version": version}
    with state.catalog.driver_connection() as raw:
        if raw is not None:  # inline on SQLite (catalog.dbapi)
            found = _PREPARED_VERSION_FILES.rows(raw, state.catalog.engine.dialect, params)
            return [from_columns(AssetFile, values) for values in found]
    with state.catalog.engine.connect() as connection:
        return [from_row(AssetFile, row) for row in connection.execute(_VERSION_FILES, params)]


def deliveries_view(state: ServiceState, job_id: str) -> list[dict[str, Any]]:
    with state.catalog.session() as session:
        deliveries = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.job_id == job_id)
            .order_by(WebhookDelivery.created_at)
        ).all()
        out = []
        for d in deliveries:
            attempts = session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == d.id)
                .order_by(WebhookAttempt.number)
            ).all()
            out.append(
                {
                    "id": d.id,
                    "event": d.event,
                    "url": d.url,
                    "state": d.state,
                    "next_attempt_at": iso(d.next_attempt_at) if d.state == "pending" else None,
                    "attempts": [
                        {
                            "number": a.number,
                            "at": iso(a.at),
                            "status_code": a.status_code,
                            "error": a.error,
                            "seconds": a.seconds,
                        }
                        for a in attempts
                    ],
                }
            )
        return out


def job_view(state: ServiceState, base: str, job: Job, *, details: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": job.id,
        "state": job.state,
        "progress": job.progress,
        "stage": job.stage,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "options": job.options,
        "inputs": [
            {k: v for k, v in i.items() if k in ("kind", "upload_id", "filename", "sha256", "text")}
            for i in job.inputs
        ],
        "metadata": job.metadata_,
        "webhook_url": job.webhook_url,
        "warnings": job.warnings,
        "error": job.error,
        "timings": job.timings,
        "asset_id": job.asset_id,
        "asset_version": job.asset_version,
        "links": {
            "self": f"{base}/v1/jobs/{job.id}",
            "events": f"{base}/v1/jobs/{job.id}/events",
            "cancel": f"{base}/v1/jobs/{job.id}/cancel",
        },
    }
    if job.asset_id:
        view["links"]["asset"] = f"{base}/v1/assets/{job.asset_id}"
    if details:
        files = version_files(state, job.asset_id, job.asset_version or 1) if job.asset_id else []
        view["results"] = {"files": [file_view(state, base, f) for f in files]}
        # A job without a webhook URL has no deliveries: skip the query.
        view["webhooks"] = deliveries_view(state, job.id) if job.webhook_url else []
    return view


def asset_view(state: ServiceState, base: str, asset: Asset) -> dict[str, Any]:
    with state.catalog.session() as session:
        versions = session.scalars(
            select(AssetVersion)
            .where(AssetVersion.asset_id == asset.id)
            .order_by(AssetVersion.version)
        ).all()
    return {
        "id": asset.id,
        "name": asset.name,
        "created_at": iso(asset.created_at),
        "latest_version": asset.latest_version,
        "versions": [version_view(state, base, asset.id, v, files=False) for v in versions],
    }


def version_view(
    state: ServiceState, base: str, asset_id: str, version: AssetVersion, *, files: bool = True
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "version": version.version,
        "job_id": version.job_id,
        "created_at": iso(version.created_at),
        "lineage": version.lineage,
        "links": {"self": f"{base}/v1/assets/{asset_id}/versions/{version.version}"},
    }
    if files:
        view["files"] = [
            file_view(state, base, f) for f in version_files(state, asset_id, version.version)
        ]
    return view
