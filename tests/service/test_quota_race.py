"""The active-job quota holds under concurrent submissions, on SQLite and PostgreSQL: the count
and the insert happen in one transaction, serialised per key."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from meshforge.catalog.db import Catalog
from meshforge.catalog.models import Job
from meshforge.service.deps import Caller
from meshforge.service.intake import create_job
from meshforge.service.problems import Problem
from meshforge.service.schemas import JobOptions
from service_harness import migrated_catalog

SUBMITTERS = 16


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    with migrated_catalog(request.param, tmp_path) as opened:
        yield opened


def _submit_at_once(state: Any, callers: list[Caller]) -> list[str]:
    """Every caller submits one job at the same moment; the outcome of each, in order."""
    outcomes = [""] * len(callers)
    start = threading.Barrier(len(callers))

    def submit(index: int) -> None:
        start.wait()
        try:
            _, created = create_job(
                state,
                callers[index],
                JobOptions(),
                [],
                prompt=None,
                webhook_url=None,
                metadata={},
                idempotency_key=None,
                digest=f"request-{index}",
            )
            outcomes[index] = "created" if created else "replayed"
        except Problem as problem:
            outcomes[index] = problem.code

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(callers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def _active(catalog: Catalog, key_id: str | None) -> int:
    with catalog.session() as session:
        jobs = session.scalars(select(Job).where(Job.key_id == key_id)).all()
    return sum(job.state in ("queued", "running") for job in jobs)


def test_concurrent_submissions_never_exceed_the_quota(catalog: Catalog) -> None:
    state = SimpleNamespace(catalog=catalog, settings=SimpleNamespace(max_active_jobs=50))
    limited = Caller("key_limited", frozenset({"read", "write"}), max_active_jobs=3)
    other = Caller("key_other", frozenset({"read", "write"}), max_active_jobs=3)

    outcomes = _submit_at_once(state, [limited] * SUBMITTERS)

    assert outcomes.count("created") == 3, outcomes
    assert outcomes.count("too-many-active-jobs") == SUBMITTERS - 3, outcomes
    assert _active(catalog, "key_limited") == 3
    # Another key's quota is its own: the full one does not block it.
    again = _submit_at_once(state, [other] * 4 + [limited] * 2)
    assert sorted(again[:4]) == ["created"] * 3 + ["too-many-active-jobs"], again
    assert again[4:] == ["too-many-active-jobs"] * 2, again
    assert _active(catalog, "key_other") == 3
    assert _active(catalog, "key_limited") == 3


def test_an_ended_job_frees_its_slot(catalog: Catalog) -> None:
    state = SimpleNamespace(catalog=catalog, settings=SimpleNamespace(max_active_jobs=2))
    local = Caller(None, frozenset({"read", "write", "admin"}))  # no key: the settings' limit
    assert _submit_at_once(state, [local] * 5).count("created") == 2
    with catalog.session() as session:
        first = session.scalars(select(Job).where(Job.key_id.is_(None))).first()
        assert first is not None
        first.state = "succeeded"
    assert _submit_at_once(state, [local] * 5).count("created") == 1
    assert _active(catalog, None) == 2
