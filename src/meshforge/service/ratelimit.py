"""In-process request rate limits and concurrency quotas, per API key.

Why in-process: a single service process (or each replica, with its share of the limit) can
refuse a burst of requests before they reach the database or the job queue, answering
``429 Too Many Requests`` with a ``Retry-After`` it can compute exactly. Nothing here needs Redis
or a clock of its own: the clock is injected, so the tests are exact and instant.

* :class:`RateLimiter` is a token bucket per key: a key may spend ``burst`` requests at once,
  then one more every ``60 / rate_per_minute`` seconds. A refused request costs nothing.
* :class:`SharedRateLimiter` keeps the same buckets in a file that the API processes of one
  server (``MESHFORGE_API_PROCESSES``) map into memory, so a key's limit holds across them.
* :class:`ConcurrencyQuota` counts what a key is running right now. The service counts a key's
  queued and running jobs from its database (that count survives restarts and spans replicas),
  so this class stays a small counter for in-process work such as open uploads.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ConcurrencyQuota", "RateLimiter", "SharedRateLimiter"]

log = logging.getLogger("meshforge.service")

# A request is allowed when the bucket holds at least 1 - _EPSILON tokens: a client that waits
# exactly the Retry-After it was given must not be refused for a rounding error.
_EPSILON = 1e-9
# Buckets are dropped once full again (a full bucket is the same as no bucket), when the number
# of keys passes this many, or twice the number left after the last sweep.
_MIN_SWEEP_AT = 1024


@dataclass
class _Bucket:
    tokens: float
    updated: float


class _TokenBuckets:
    """The rules both limiters share: a bucket holds up to ``burst`` tokens and refills at
    ``rate_per_minute``; ``rate_per_minute <= 0`` means unlimited."""

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.unlimited = rate_per_minute <= 0
        if not self.unlimited and burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate_per_minute = float(rate_per_minute)
        self.burst = burst
        self._per_second = self.rate_per_minute / 60.0
        self._clock = clock

    def _refilled(self, tokens: float, updated: float, now: float) -> float:
        elapsed = max(now - updated, 0.0)  # a clock stepping back refills nothing
        return min(float(self.burst), tokens + elapsed * self._per_second)


class RateLimiter(_TokenBuckets):
    """A token bucket per key: ``burst`` requests at once, ``rate_per_minute`` sustained.

    ``rate_per_minute <= 0`` means unlimited: :meth:`acquire` always returns 0.0. Thread-safe.
    """

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(rate_per_minute, burst, clock)
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._sweep_at = _MIN_SWEEP_AT

    def acquire(self, key: str) -> float:
        """Spend one request of ``key``: 0.0 if allowed, else the seconds to wait (Retry-After).

        A refused request consumes nothing; retrying after the returned delay succeeds unless
        another caller spent the token first. Round the delay up for an HTTP ``Retry-After``.
        """
        if self.unlimited:
            return 0.0
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._sweep_at:
                    self._sweep(now)
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            else:
                self._refill(bucket, now)
            if bucket.tokens >= 1.0 - _EPSILON:
                bucket.tokens = max(bucket.tokens - 1.0, 0.0)
                return 0.0
            return (1.0 - bucket.tokens) / self._per_second

    def _refill(self, bucket: _Bucket, now: float) -> None:
        bucket.tokens = self._refilled(bucket.tokens, bucket.updated, now)
        bucket.updated = max(now, bucket.updated)

    def _sweep(self, now: float) -> None:
        """Forget the keys whose buckets are full again; called with the lock held."""
        for key in list(self._buckets):
            bucket = self._buckets[key]
            self._refill(bucket, now)
            if bucket.tokens >= self.burst:
                del self._buckets[key]
        self._sweep_at = max(_MIN_SWEEP_AT, 2 * len(self._buckets))


class SharedRateLimiter(_TokenBuckets):
    """:class:`RateLimiter`'s token buckets in a file mapped by every API process of a server.

    The file is a table of ``slots`` entries (key hash, tokens, time of the last update) found
    by linear probing and updated under an exclusive ``fcntl`` lock on the file; the clock is
    ``time.monotonic``, one clock for every process of the machine. A bucket that is full again
    is as good as none, so a new key takes over the first such entry on its probe path. Should
    ``PROBES`` entries in a row all hold keys that are spending (far more keys at once than the
    table is sized for), the request is let through and a warning logged: a limiter that cannot
    keep up must not refuse traffic it cannot account for.
    """

    SLOTS = 1 << 16
    PROBES = 256
    _ENTRY = struct.Struct("<Qdd")

    def __init__(
        self,
        path: Path,
        rate_per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(rate_per_minute, burst, clock)
        self._lock = threading.Lock()  # fcntl locks belong to the process, not to a thread
        size = self.SLOTS * self._ENTRY.size
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)  # zeros: every entry empty; the same size in each process
        self._table = mmap.mmap(self._fd, size)

    def close(self) -> None:
        self._table.close()
        os.close(self._fd)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            fcntl.lockf(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def acquire(self, key: str) -> float:
        """As :meth:`RateLimiter.acquire`, for every process sharing the file."""
        if self.unlimited:
            return 0.0
        digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
        wanted = digest or 1  # 0 marks an empty entry
        entry = self._ENTRY
        with self._locked():
            now = self._clock()
            free = None
            for probe in range(self.PROBES):
                offset = ((wanted + probe) % self.SLOTS) * entry.size
                held, tokens, updated = entry.unpack_from(self._table, offset)
                if held == wanted:
                    break
                if held == 0 or self._refilled(tokens, updated, now) >= self.burst:
                    free = offset if free is None else free
                    if held == 0:  # nothing was ever stored past an empty entry
                        break
            else:
                if free is None:
                    log.warning("rate limiter table full; request let through", extra={})
                    return 0.0
            if held != wanted:
                assert free is not None
                offset, tokens, updated = free, float(self.burst), now
            tokens = self._refilled(tokens, updated, now)
            if tokens >= 1.0 - _EPSILON:
                entry.pack_into(self._table, offset, wanted, max(tokens - 1.0, 0.0), now)
                return 0.0
            entry.pack_into(self._table, offset, wanted, tokens, max(now, updated))
            return (1.0 - tokens) / self._per_second


class ConcurrencyQuota:
    """At most ``limit`` concurrent holders per key; ``limit <= 0`` means unlimited. Thread-safe.

    Pair every successful :meth:`try_enter` with one :meth:`leave` (in a ``finally``).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._active: dict[str, int] = {}

    def try_enter(self, key: str) -> bool:
        """Take a slot of ``key`` if one is free; False (taking nothing) when all are in use."""
        with self._lock:
            active = self._active.get(key, 0)
            if self.limit > 0 and active >= self.limit:
                return False
            self._active[key] = active + 1
            return True

    def leave(self, key: str) -> None:
        """Give back a slot of ``key`` taken by :meth:`try_enter`."""
        with self._lock:
            active = self._active.get(key, 0)
            if active <= 0:
                raise ValueError(f"leave({key!r}) without a matching try_enter")
            if active == 1:
                del self._active[key]
            else:
                self._active[key] = active - 1

    def active(self, key: str) -> int:
        """How many slots of ``key`` are taken now."""
        with self._lock:
            return self._active.get(key, 0)
