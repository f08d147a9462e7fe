"""``deps.in_catalog``: short catalog work runs on the event loop for an SQLite file; when
another connection holds SQLite's write lock it runs again, whole, after short pauses on the
loop, and at last on a thread; on PostgreSQL it always runs on a thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from meshforge.catalog.models import Job
from meshforge.service.app import build_state
from meshforge.service.deps import INLINE_PAUSES_S, Caller, in_catalog
from meshforge.service.intake import create_job
from meshforge.service.problems import Problem
from meshforge.service.schemas import JobOptions
from meshforge.service.settings import ServiceSettings
from meshforge.service.state import ServiceState
from service_harness import new_database, queued_job


@contextmanager
def _service_state(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServiceState]:
    url, drop = new_database(backend, tmp_path)
    monkeypatch.setenv("MESHFORGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MESHFORGE_DATABASE_URL", url)
    built = build_state(ServiceSettings())
    try:
        yield built
    finally:
        built.catalog.dispose()
        drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def state(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServiceState]:
    with _service_state(request.param, tmp_path, monkeypatch) as built:
        yield built


@pytest.fixture
def sqlite_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceState]:
    with _service_state("sqlite", tmp_path, monkeypatch) as built:
        yield built


def _insert_job(state: ServiceState, calls: list[int]) -> str:
    calls.append(threading.get_ident())
    job = queued_job()
    with state.catalog.session() as session:
        session.add(job)
    return job.id


def _jobs(state: ServiceState) -> int:
    with state.catalog.session() as session:
        return session.query(Job).count()


def test_short_work_runs_on_the_event_loop_only_for_an_sqlite_file(state: ServiceState) -> None:
    calls: list[int] = []

    async def submit() -> int:
        await in_catalog(state, _insert_job, state, calls)
        return threading.get_ident()

    loop_thread = asyncio.run(submit())
    on_loop = calls == [loop_thread]
    assert on_loop == (state.catalog.engine.dialect.name == "sqlite")
    assert len(calls) == 1 and _jobs(state) == 1


def test_work_that_finds_the_write_lock_taken_waits_for_it_on_a_thread(
    sqlite_state: ServiceState,
) -> None:
    state = sqlite_state
    database = state.catalog.engine.url.database
    assert database is not None
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # what a worker process holds while it commits
    release = threading.Timer(0.5, lambda: holder.execute("ROLLBACK"))
    calls: list[int] = []
    gaps: list[float] = []

    async def submit() -> tuple[str, int]:
        stop = asyncio.Event()

        async def tick() -> None:  # the loop must stay free while the lock is held
            last = time.monotonic()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                gaps.append(time.monotonic() - last)
                last = time.monotonic()

        ticker = asyncio.create_task(tick())
        try:
            job_id = await in_catalog(state, _insert_job, state, calls)
        finally:
            stop.set()
            await ticker
        return job_id, threading.get_ident()

    release.start()
    try:
        started = time.monotonic()
        job_id, loop_thread = asyncio.run(submit())
        waited = time.monotonic() - started
    finally:
        release.join()
        holder.close()
    assert waited >= 0.45  # it did wait for the lock...
    assert max(gaps) < 0.25  # ...on a thread: the loop went on
    # every try on the loop refused (one, then one after each pause), the last on a thread
    tries_on_loop = len(INLINE_PAUSES_S) + 1
    assert calls[:tries_on_loop] == [loop_thread] * tries_on_loop
    assert len(calls) == tries_on_loop + 1 and calls[-1] != loop_thread
    assert _jobs(state) == 1  # the refused tries kept nothing
    with state.catalog.session() as session:
        assert session.get(Job, job_id) is not None
    assert state.metrics is not None
    assert state.metrics.catalog_busy._value.get() == tries_on_loop


def test_work_refused_briefly_runs_again_on_the_loop(sqlite_state: ServiceState) -> None:
    state = sqlite_state
    calls: list[int] = []

    def busy_twice() -> str:
        calls.append(threading.get_ident())
        if len(calls) <= 2:  # what SQLite raises while another connection commits
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = 5  # type: ignore[attr-defined]
            raise error
        return _insert_job(state, [])

    async def submit() -> tuple[str, int]:
        return await in_catalog(state, busy_twice), threading.get_ident()

    job_id, loop_thread = asyncio.run(submit())
    assert job_id.startswith("job_")
    assert calls == [loop_thread] * 3  # no thread was needed
    assert _jobs(state) == 1
    assert state.metrics is not None
    assert state.metrics.catalog_busy._value.get() == 2


def test_other_errors_of_inline_work_are_raised_once(state: ServiceState) -> None:
    calls: list[int] = []

    def refuse() -> None:
        calls.append(1)
        raise Problem(422, "invalid-options", "no")

    with pytest.raises(Problem):
        asyncio.run(in_catalog(state, refuse))
    assert calls == [1]


def _create(state: ServiceState, caller: Caller, key: str | None, digest: str) -> tuple[Job, bool]:
    return create_job(
        state,
        caller,
        JobOptions(),
        [],
        prompt="a mug",
        webhook_url=None,
        metadata={"sku": "A-1"},
        idempotency_key=key,
        digest=digest,
    )


def test_the_inline_insert_replays_a_twin_and_enforces_the_quota(
    sqlite_state: ServiceState,
) -> None:
    """create_job on the driver's cursor: an Idempotency-Key already taken (a twin request that
    another process inserted a moment before) replays that job; a full quota rolls back."""
    state = sqlite_state
    caller = Caller("key_a", frozenset({"read", "write"}), max_active_jobs=2)
    with state.catalog.inline():
        with state.catalog.driver_connection() as raw:
            assert raw is not None  # create_job takes the driver's cursor here
        first, created = _create(state, caller, "idem-1", "digest-1")
        assert created
        twin, created_again = _create(state, caller, "idem-1", "digest-1")  # the unique key
        assert not created_again and twin.id == first.id
        assert twin.metadata_ == {"sku": "A-1"} and twin.inputs == [
            {"kind": "prompt", "text": "a mug"}
        ]
        with pytest.raises(Problem) as conflict:  # same key, another body: 409
            _create(state, caller, "idem-1", "digest-2")
        assert conflict.value.code == "idempotency-key-reused"
        _create(state, caller, None, "digest-3")
        with pytest.raises(Problem) as refused:
            _create(state, caller, None, "digest-4")
        assert refused.value.code == "too-many-active-jobs"
    assert _jobs(state) == 2  # the refused insert was rolled back
