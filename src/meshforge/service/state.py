"""What the running service holds: settings, catalog, blob store, limits, workers, webhooks,
and the publisher of jobs to Celery workers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshforge.catalog.db import Catalog
from meshforge.service.fetch import FetchPolicy
from meshforge.service.ratelimit import RateLimiter, SharedRateLimiter
from meshforge.service.settings import ServiceSettings
from meshforge.storage.blobs import BlobStore


def make_limiter(
    shared_dir: Path | None, rate_per_minute: float, burst: int
) -> RateLimiter | SharedRateLimiter:
    """In this process, or (``shared_dir``: several API processes) in a table they share."""
    if shared_dir is None:
        return RateLimiter(rate_per_minute, burst)
    path = shared_dir / f"rate-{rate_per_minute:g}-{burst}.table"
    return SharedRateLimiter(path, rate_per_minute, burst)


@dataclass
class ServiceState:
    settings: ServiceSettings
    catalog: Catalog
    store: BlobStore
    signing_key: bytes
    policy: FetchPolicy
    limiter: RateLimiter | SharedRateLimiter
    pool: Any = None  # workers.local.LocalWorkerPool, or a view of the serving process's pool
    dispatcher: Any = None
    publisher: Any = None  # workers.dispatch.JobPublisher, with a Celery broker
    catalog_limiter: Any = None  # anyio.CapacityLimiter of the catalog threads (deps.in_catalog)
    metrics: Any = None
    # Where the API processes of one server share their rate limits (None: one process).
    shared_dir: Path | None = None
    limiters: dict[float, RateLimiter | SharedRateLimiter] = field(default_factory=dict)

    def limiter_for(self, rate_per_minute: float | None) -> RateLimiter | SharedRateLimiter:
        """The shared limiter, or one per distinct per-key rate.

        A key's own rate brings its own burst: ten seconds of that rate, at most ``rate_burst``
        (the default 600/min with burst 100 is the same ratio). Otherwise a key limited to, say,
        60 requests a minute could still send ``rate_burst`` (100) requests at once.
        """
        if rate_per_minute is None:
            return self.limiter
        if rate_per_minute not in self.limiters:
            burst = max(1, min(self.settings.rate_burst, math.ceil(rate_per_minute / 6)))
            self.limiters[rate_per_minute] = make_limiter(self.shared_dir, rate_per_minute, burst)
        return self.limiters[rate_per_minute]
