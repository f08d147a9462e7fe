"""Single rows through Core statements (catalog.rows), the quota count's index, and the
connections of ``Catalog.inline`` that never wait for SQLite's write lock."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, inspect, select, text

from meshforge.catalog.db import Catalog, is_busy
from meshforge.catalog.models import Job
from meshforge.catalog.rows import column_values, from_row, get_by
from service_harness import migrated_catalog, queued_job


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    with migrated_catalog(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
def sqlite_catalog(tmp_path: Path) -> Iterator[Catalog]:
    with migrated_catalog("sqlite", tmp_path) as opened:
        yield opened


def _job(**fields: object) -> Job:
    values: dict[str, object] = {
        "key_id": "key_a",
        "options": {"engine": "silhouette", "target_faces": 5000},
        "inputs": [{"kind": "upload", "upload_id": "upl_1"}],
        "metadata_": {"sku": "A-1", "tags": ["x"]},
        **fields,
    }
    job: Job = queued_job(**values)
    return job


def test_a_job_written_and_read_as_core_rows_keeps_every_value(catalog: Catalog) -> None:
    job = _job()
    with catalog.engine.begin() as connection:
        connection.execute(insert(Job.__table__), column_values(job))
    read = get_by(catalog, Job, "id", job.id)
    assert read is not None
    # metadata_ is the column "metadata": the attribute and column names differ
    assert read.metadata_ == {"sku": "A-1", "tags": ["x"]}
    assert read.options == {"engine": "silhouette", "target_faces": 5000}
    assert read.inputs == [{"kind": "upload", "upload_id": "upl_1"}]
    # unset attributes were left to the columns' defaults
    assert (read.attempts, read.cancel_requested, read.progress) == (0, False, 0.0)
    assert read.started_at is None and read.error is None
    assert get_by(catalog, Job, "id", "job_missing") is None
    # the ORM session sees the same row
    with catalog.session() as session:
        orm = session.get(Job, job.id)
        assert orm is not None and orm.metadata_ == read.metadata_


def test_from_row_makes_a_detached_instance_with_no_pending_changes(catalog: Catalog) -> None:
    job = _job()
    with catalog.session() as session:
        session.add(job)
    with catalog.engine.connect() as connection:
        jobs = Job.__table__
        row = connection.execute(select(jobs).where(jobs.c.id == job.id)).one()
    read = from_row(Job, row)
    assert read.id == job.id and read.metadata_ == job.metadata_
    state = inspect(read)
    assert state.detached or state.transient
    assert not state.modified  # nothing to write back


def test_the_active_job_count_reads_the_key_state_index(sqlite_catalog: Catalog) -> None:
    with sqlite_catalog.engine.connect() as connection:
        plan = connection.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT count(*) FROM jobs WHERE key_id = 'k' "
                "AND (state = 'queued' OR state = 'running')"
            )
        ).all()
    assert any("ix_jobs_key_state" in str(step) for step in plan), plan


def test_inline_connections_refuse_soon_while_another_holds_the_write_lock(
    sqlite_catalog: Catalog,
) -> None:
    assert sqlite_catalog.can_run_inline
    database = sqlite_catalog.engine.url.database
    assert database is not None
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as a worker's commit holds it
    try:
        started = time.monotonic()
        with (
            sqlite_catalog.inline(),
            pytest.raises(Exception) as refused,  # noqa: PT011
            sqlite_catalog.session() as session,
        ):
            session.add(_job())
        assert is_busy(refused.value), refused.value
        # after INLINE_BUSY_TIMEOUT_MS, not the 30 s the threads' connections wait
        assert time.monotonic() - started < 0.5
        # the same on the driver's cursor (catalog.dbapi), where the driver raises it
        from meshforge.catalog.dbapi import Prepared
        from meshforge.catalog.rows import insert_into

        complete = {"progress": 0.0, "cancel_requested": False, "attempts": 0}
        values = column_values(_job(**complete))
        with (
            sqlite_catalog.inline(),
            sqlite_catalog.driver_connection() as raw,
            pytest.raises(sqlite3.OperationalError) as driver_refused,
        ):
            Prepared(insert_into(Job)).execute(raw, sqlite_catalog.engine.dialect, values)
        assert is_busy(driver_refused.value)
        # reads are never refused (WAL)
        with sqlite_catalog.inline():
            assert get_by(sqlite_catalog, Job, "id", "job_x") is None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with sqlite_catalog.inline(), sqlite_catalog.session() as session:
        session.add(_job())
    with sqlite_catalog.session() as session:
        assert session.query(Job).count() == 1  # the refused insert left nothing


def test_only_sqlite_files_run_inline(tmp_path: Path) -> None:
    memory = Catalog("sqlite://")
    try:
        assert not memory.can_run_inline
    finally:
        memory.dispose()
    assert not is_busy(ValueError("database is locked"))


def _stored(catalog: Catalog, job_id: str) -> dict[str, object]:
    with catalog.engine.connect() as connection:
        jobs = Job.__table__
        return dict(connection.execute(select(jobs).where(jobs.c.id == job_id)).one()._mapping)


def test_the_driver_path_reads_what_core_reads(sqlite_catalog: Catalog) -> None:
    job = _job(cancel_requested=True, attempts=2, progress=0.5, error={"code": "x"})
    with sqlite_catalog.engine.begin() as connection:
        connection.execute(insert(Job.__table__), column_values(job))
    core = get_by(sqlite_catalog, Job, "id", job.id)
    with sqlite_catalog.inline():
        with sqlite_catalog.driver_connection() as raw:
            assert raw is not None  # inline on an SQLite file: the driver's connection
        driver = get_by(sqlite_catalog, Job, "id", job.id)
        assert get_by(sqlite_catalog, Job, "id", "job_missing") is None
    assert core is not None and driver is not None
    for attribute in ("metadata_", "options", "inputs", "error", "warnings", "timings"):
        assert getattr(driver, attribute) == getattr(core, attribute)
        assert isinstance(getattr(driver, attribute), dict | list)  # JSON decoded, not text
    assert driver.cancel_requested is True and driver.attempts == 2 and driver.progress == 0.5
    assert driver.created_at == core.created_at and driver.key_id == "key_a"
    with sqlite_catalog.driver_connection() as raw:
        assert raw is None  # outside ``inline``: Core


def test_the_driver_path_inserts_what_core_inserts(tmp_path: Path) -> None:
    from meshforge.catalog.dbapi import NotPreparableError, Prepared
    from meshforge.catalog.rows import insert_into

    with migrated_catalog("sqlite", tmp_path) as catalog:
        complete = {"progress": 0.0, "cancel_requested": False, "attempts": 0}
        by_core, by_driver = _job(**complete), _job(**complete)
        with catalog.engine.begin() as connection:
            connection.execute(insert_into(Job), column_values(by_core))
        with catalog.inline(), catalog.driver_connection() as raw:
            Prepared(insert_into(Job)).execute(
                raw, catalog.engine.dialect, column_values(by_driver)
            )
            raw.commit()
        core, driver = _stored(catalog, by_core.id), _stored(catalog, by_driver.id)
        assert {k: v for k, v in driver.items() if k not in ("id", "created_at")} == {
            k: v for k, v in core.items() if k not in ("id", "created_at")
        }
        # a column with a Python-side default left out cannot run without SQLAlchemy
        partial = {k: v for k, v in column_values(_job(**complete)).items() if k != "attempts"}
        with (
            catalog.inline(),
            catalog.driver_connection() as raw,
            pytest.raises(NotPreparableError),
        ):
            Prepared(insert_into(Job)).execute(raw, catalog.engine.dialect, partial)


def test_each_thread_keeps_one_driver_connection_with_nothing_left_open(tmp_path: Path) -> None:
    import threading

    from meshforge.catalog.dbapi import Prepared
    from meshforge.catalog.rows import insert_into

    complete = {"progress": 0.0, "cancel_requested": False, "attempts": 0}
    with migrated_catalog("sqlite", tmp_path) as catalog:
        with catalog.inline(), catalog.driver_connection() as first:
            pass
        with catalog.inline(), catalog.driver_connection() as again:
            assert again is first  # kept for this thread, not taken from the pool each time
            # a block that writes and does not commit leaves no transaction (nor lock) open
            Prepared(insert_into(Job)).execute(
                again, catalog.engine.dialect, column_values(_job(**complete))
            )
            assert again.driver_connection.in_transaction
        assert not first.driver_connection.in_transaction
        with catalog.inline():
            assert _count(catalog) == 0  # ...and what it wrote is gone
        elsewhere: list[object] = []

        def on_another_thread() -> None:
            with catalog.inline(), catalog.driver_connection() as raw:
                elsewhere.append(raw)

        thread = threading.Thread(target=on_another_thread)
        thread.start()
        thread.join()
        assert elsewhere and elsewhere[0] is not first

        # a block that raises leaves nothing either, and the connection stays usable
        def write_then_fail() -> None:
            with catalog.inline(), catalog.driver_connection() as raw:
                Prepared(insert_into(Job)).execute(
                    raw, catalog.engine.dialect, column_values(_job(**complete))
                )
                raise RuntimeError("refused")

        with pytest.raises(RuntimeError, match="refused"):
            write_then_fail()
        with catalog.inline():
            assert _count(catalog) == 0
        catalog.dispose()  # closes every thread's connection; the next block opens a new one
        with catalog.inline(), catalog.driver_connection() as after:
            assert after is not first
            assert after.driver_connection.execute("SELECT 1").fetchone() == (1,)


def _count(catalog: Catalog) -> int:
    with catalog.driver_connection() as raw:
        return int(raw.driver_connection.execute("SELECT count(*) FROM jobs").fetchone()[0])
