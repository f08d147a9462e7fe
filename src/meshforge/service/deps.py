"""Request dependencies: the service state, the caller's API key with its scopes, rate limits."""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import Request

from meshforge.catalog.db import is_busy
from meshforge.catalog.keys import find_key
from meshforge.service.problems import Problem
from meshforge.service.state import ServiceState

T = TypeVar("T")
# Pauses before each further inline try of work that found SQLite's write lock taken, then a
# thread: 3.5 ms in all on the loop, where the other requests go on meanwhile.
INLINE_PAUSES_S = (0.0, 0.0005, 0.001, 0.002)


@dataclass(frozen=True)
class Caller:
    key_id: str | None
    scopes: frozenset[str]
    max_active_jobs: int | None = None

    @property
    def sees_everything(self) -> bool:
        """Local use without keys, or an admin key: every key's jobs and assets are visible."""
        return self.key_id is None or "admin" in self.scopes

    def can_see(self, owner_key_id: str | None) -> bool:
        return self.sees_everything or owner_key_id == self.key_id


LOCAL_CALLER = Caller(None, frozenset({"read", "write", "admin"}))


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.meshforge
    return state


def _secret_from(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or request.headers.get("api-key") or None


def authenticate(request: Request) -> Caller:
    """The caller's key (401 when missing or unknown), after its rate limit (429)."""
    state = get_state(request)
    if not state.settings.auth:
        return LOCAL_CALLER
    secret = _secret_from(request)
    if secret is None:
        raise Problem(
            401,
            "missing-api-key",
            "this endpoint needs an API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY' "
            "(create one with `meshforge keys create NAME`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    row = find_key(state.catalog, secret)
    if row is None:
        raise Problem(
            401,
            "invalid-api-key",
            "the API key is unknown or revoked; check it or create a new one",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    wait = state.limiter_for(row.rate_per_minute).acquire(row.id)
    if wait > 0:
        raise Problem(
            429,
            "rate-limited",
            f"this API key is over its request rate; retry in {math.ceil(wait)} s",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return Caller(row.id, frozenset(row.scopes.split(",")), row.max_active_jobs)


async def in_catalog(
    state: ServiceState, work: Callable[..., T], *args: Any, inline: bool = True
) -> T:
    """``work(*args)``: short catalog work, without blocking the event loop for long.

    On an SQLite file (``inline``, the default) it runs right here, on the event loop: a
    statement on a local file takes less time than handing it to a thread, and under a burst
    those hand-overs were most of a request's CPU. Its connections do not wait for SQLite's
    write lock (SQLite would sleep with the loop blocked): should another connection or process
    hold it, the work raises, keeps nothing, and runs again after a pause in which the loop
    serves other requests (``INLINE_PAUSES_S``; a commit holds the lock for a fraction of a
    millisecond), and at last on a catalog thread, where it waits for the lock. So ``work``
    must keep nothing outside the catalog before its last write: pass ``inline=False`` for work
    that stores blobs or does other I/O.

    Elsewhere (PostgreSQL) it runs on one of the few catalog threads
    (``MESHFORGE_CATALOG_THREADS``): with the default 40 threads a burst of requests spent more
    CPU on threads taking turns on the GIL than on the work."""
    catalog = state.catalog
    if inline and catalog.can_run_inline:
        for pause in (*INLINE_PAUSES_S, None):
            try:
                with catalog.inline():
                    return work(*args)
            except Exception as error:
                if not is_busy(error):
                    raise
                if state.metrics is not None:
                    state.metrics.catalog_busy.inc()
            if pause is not None:
                await asyncio.sleep(pause)
    return await anyio.to_thread.run_sync(
        functools.partial(work, *args), limiter=state.catalog_limiter
    )


def require(scope: str) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency admitting callers whose key has ``scope`` (admin has every scope)."""

    async def dependency(request: Request) -> Caller:
        caller = await in_catalog(get_state(request), authenticate, request)
        if scope not in caller.scopes and "admin" not in caller.scopes:
            raise Problem(
                403,
                "insufficient-scope",
                f"this API key lacks the '{scope}' scope; create a key with it "
                f"(`meshforge keys create NAME --scope {scope}`)",
            )
        return caller

    return dependency
