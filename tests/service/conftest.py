"""Fixtures of the service tests; the harness itself lives in tests/service_harness.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service_harness import (
    Service,
    free_port,
    new_database,
    product_png,
    service_env,
    start_service,
    stop_service,
)

__all__ = [
    "Service",
    "free_port",
    "new_database",
    "product_png",
    "service_env",
    "start_service",
    "stop_service",
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """A running service on SQLite, then on PostgreSQL (module-wide: its jobs are shared)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        running, drop = start_service(
            request.param, tmp_path_factory.mktemp(f"svc-{request.param}"), monkeypatch
        )
        try:
            yield running
        finally:
            stop_service(running, drop)
