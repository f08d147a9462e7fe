"""Prometheus metrics read from the catalog at scrape time, so every worker process's jobs
count without a shared registry: jobs by state, queue depth, oldest queued job, the Celery
broker's reachability, and stage durations (a summary over the jobs that ended since the server
started, added incrementally)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from meshforge.catalog.models import JOB_STATES, Job

#: How far before the newest folded job a scrape looks again. A worker stamps ``finished_at``
#: before its transaction commits, so a job can become visible after a later-stamped one was
#: already folded; looking back (and remembering which jobs were counted) still counts it once.
LOOKBACK_S = 300.0


class CatalogCollector:
    def __init__(self, state: Any) -> None:
        self.state = state
        self.lock = threading.Lock()
        self.started = time.time()
        self.since = self.started
        self.counted: dict[str, float] = {}  # job id -> finished_at, within the look-back
        self.stage_sums: dict[str, float] = {}
        self.stage_counts: dict[str, int] = {}

    def _fold_finished(self) -> None:
        floor = max(self.started, self.since - LOOKBACK_S)
        with self.state.catalog.session() as session:
            rows = session.execute(
                select(Job.id, Job.finished_at, Job.timings)
                .where(Job.finished_at > floor, Job.state == "succeeded")
                .order_by(Job.finished_at)
            ).all()
        for job_id, finished_at, timings in rows:
            if job_id in self.counted:
                continue
            self.counted[job_id] = finished_at
            for stage, seconds in (timings or {}).items():
                if isinstance(seconds, int | float) and stage != "total":
                    self.stage_sums[stage] = self.stage_sums.get(stage, 0.0) + float(seconds)
                    self.stage_counts[stage] = self.stage_counts.get(stage, 0) + 1
            self.since = max(self.since, finished_at)
        floor = self.since - LOOKBACK_S
        self.counted = {k: v for k, v in self.counted.items() if v > floor}

    def collect(self) -> Any:
        with self.state.catalog.session() as session:
            counts = dict(
                session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
            )
            oldest = session.scalar(select(func.min(Job.created_at)).where(Job.state == "queued"))
        jobs = GaugeMetricFamily(
            "meshforge_jobs", "Jobs in the catalog by state.", labels=["state"]
        )
        for name in JOB_STATES:
            jobs.add_metric([name], float(counts.get(name, 0)))
        yield jobs
        yield GaugeMetricFamily(
            "meshforge_queue_depth",
            "Jobs waiting for a worker.",
            value=float(counts.get("queued", 0)),
        )
        yield GaugeMetricFamily(
            "meshforge_oldest_queued_seconds",
            "Age of the oldest queued job.",
            value=time.time() - oldest if oldest else 0.0,
        )
        with self.lock:
            self._fold_finished()
            stages = SummaryMetricFamily(
                "meshforge_stage_seconds", "Stage durations of succeeded jobs.", labels=["stage"]
            )
            for stage in sorted(self.stage_sums):
                stages.add_metric([stage], self.stage_counts[stage], self.stage_sums[stage])
        yield stages
        if self.state.pool is not None:
            yield GaugeMetricFamily(
                "meshforge_workers_alive",
                "Embedded worker processes alive.",
                value=float(self.state.pool.alive()),
            )
        publisher = self.state.publisher
        if publisher is not None:
            yield GaugeMetricFamily(
                "meshforge_celery_broker_up",
                "1 when the last publish or check reached the Celery broker, else 0.",
                value=float(bool(publisher.broker_up)),
            )
            yield CounterMetricFamily(
                "meshforge_celery_publish_failures",
                "Job publishes that did not reach the Celery broker (the job stayed queued).",
                value=float(publisher.publish_failures),
            )


class ServiceMetrics:
    """The registry of one app: request counters and latency, plus the catalog's figures."""

    def __init__(self, state: Any) -> None:
        self.registry = CollectorRegistry()
        self.catalog = CatalogCollector(state)
        self.registry.register(self.catalog)
        self.requests = Counter(
            "meshforge_http_requests",
            "HTTP requests.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "meshforge_http_request_seconds",
            "HTTP request latency.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.catalog_busy = Counter(
            "meshforge_catalog_busy",
            "Tries of catalog work on the event loop that found SQLite's write lock taken "
            "(the work then ran again: on the loop after a pause, at last on a catalog thread).",
            registry=self.registry,
        )


def render_metrics(state: Any) -> tuple[bytes, str]:
    """The exposition. With several API processes (prometheus_client's multiprocess mode,
    ``service.processes``) the request figures are summed over all of them from their files,
    and the catalog's figures are read once."""
    if state.shared_dir is None or not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(state.metrics.registry), CONTENT_TYPE_LATEST
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(state.metrics.catalog)
    return generate_latest(registry), CONTENT_TYPE_LATEST
