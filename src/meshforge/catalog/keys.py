"""API keys: created once (the secret is shown only then), stored as a SHA-256 hash, scoped."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from meshforge.catalog.db import Catalog
from meshforge.catalog.models import ApiKey, new_id, now
from meshforge.catalog.rows import get_by

SCOPES = ("read", "write", "admin")
KEY_PREFIX = "mf_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedKey:
    id: str
    name: str
    scopes: tuple[str, ...]
    secret: str
    webhook_secret: str


def create_key(
    catalog: Catalog,
    name: str,
    scopes: tuple[str, ...] = ("read", "write"),
    *,
    rate_per_minute: float | None = None,
    max_active_jobs: int | None = None,
) -> CreatedKey:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(f"keys: unknown scope {unknown or scopes}; use {', '.join(SCOPES)}")
    from meshforge.service.signatures import generate_webhook_secret

    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        id=new_id("key"),
        name=name,
        prefix=secret[:10],
        secret_hash=hash_secret(secret),
        scopes=",".join(dict.fromkeys(scopes)),
        webhook_secret=generate_webhook_secret(),
        rate_per_minute=rate_per_minute,
        max_active_jobs=max_active_jobs,
        created_at=now(),
    )
    with catalog.session() as session:
        session.add(row)
    return CreatedKey(row.id, name, tuple(row.scopes.split(",")), secret, row.webhook_secret)


def find_key(catalog: Catalog, secret: str) -> ApiKey | None:
    """The live key with this secret, or None (unknown or revoked).

    Every authenticated request asks, so this is one Core query (``catalog.rows``), not an ORM
    session; never cached, so a revocation holds from the next request on, in every process."""
    row = get_by(catalog, ApiKey, "secret_hash", hash_secret(secret))
    if row is None or row.revoked_at is not None:
        return None
    return row


def list_keys(catalog: Catalog) -> list[ApiKey]:
    with catalog.session() as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_key(catalog: Catalog, key_id: str) -> bool:
    """Revoke a key by id or by its secret's prefix; False when no live key matched."""
    with catalog.session() as session:
        row = session.get(ApiKey, key_id) or session.scalar(
            select(ApiKey).where(ApiKey.prefix == key_id)
        )
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = now()
        return True
