"""The catalog on SQLite and PostgreSQL: migrations, keys, and the job queue's claim and lease
rules (two workers never run one job; a silent worker's job is re-run, then failed)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from meshforge.catalog.db import Catalog, upgrade_database
from meshforge.catalog.keys import create_key, find_key, list_keys, revoke_key
from meshforge.catalog.models import Job, WebhookDelivery, now
from meshforge.workers.local import claim_next, recover_stale_jobs
from service_harness import migrated_catalog, new_database, queued_job


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    with migrated_catalog(request.param, tmp_path) as opened:
        upgrade_database(opened.url)  # a second upgrade is a no-op
        yield opened


def _queue(catalog: Catalog, count: int, **fields: object) -> list[str]:
    ids = []
    with catalog.session() as session:
        for index in range(count):
            job = queued_job(created_at=now() + index * 1e-3, **fields)
            session.add(job)
            ids.append(job.id)
    return ids


def test_migrations_create_every_table(catalog: Catalog) -> None:
    tables = set(inspect(catalog.engine).get_table_names())
    assert {
        "api_keys",
        "uploads",
        "jobs",
        "assets",
        "asset_versions",
        "asset_files",
        "webhook_deliveries",
        "webhook_attempts",
        "alembic_version",
    } <= tables


def test_keys_are_hashed_scoped_and_revocable(catalog: Catalog) -> None:
    created = create_key(catalog, "shop", ("read",))
    assert created.secret.startswith("mf_") and len(created.secret) > 40
    assert created.webhook_secret.startswith("whsec_")
    row = find_key(catalog, created.secret)
    assert row is not None and row.scopes == "read"
    assert created.secret not in row.secret_hash  # only the hash is stored
    assert find_key(catalog, created.secret + "x") is None
    assert revoke_key(catalog, created.id) is True
    assert find_key(catalog, created.secret) is None
    assert revoke_key(catalog, created.id) is False
    assert [k.id for k in list_keys(catalog)] == [created.id]
    with pytest.raises(ValueError, match="unknown scope"):
        create_key(catalog, "bad", ("root",))


def test_jobs_are_claimed_oldest_first_and_once(catalog: Catalog) -> None:
    ids = _queue(catalog, 30)
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (job_id := claim_next(catalog, name)) is not None:
            with lock:
                claimed.append(job_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)  # every job once, none twice
    with catalog.session() as session:
        jobs = session.scalars(select(Job)).all()
    assert all(j.state == "running" and j.attempts == 1 and j.worker_id for j in jobs)


def test_a_silent_workers_job_is_requeued_then_failed(catalog: Catalog) -> None:
    (job_id,) = _queue(catalog, 1, webhook_url="https://example.com/hook")
    for attempt in (1, 2):
        assert claim_next(catalog, f"w{attempt}") == job_id
        with catalog.session() as session:
            session.get(Job, job_id).heartbeat_at = now() - 100  # type: ignore[union-attr]
        assert recover_stale_jobs(catalog, lease_s=10, max_attempts=2) == 1
    with catalog.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.state, job.attempts, job.error["code"]) == ("failed", 2, "worker-lost")
        events = session.scalars(select(WebhookDelivery.event)).all()
    assert events == ["job.failed"]


def test_a_live_heartbeat_keeps_the_job(catalog: Catalog) -> None:
    (job_id,) = _queue(catalog, 1)
    assert claim_next(catalog, "w") == job_id
    assert recover_stale_jobs(catalog, lease_s=10, max_attempts=3) == 0
    with catalog.session() as session:
        assert session.get(Job, job_id).state == "running"  # type: ignore[union-attr]


MIGRATE_WHEN_TOLD = """
import sys, time
from pathlib import Path
from meshforge.catalog.db import upgrade_database
print("ready", flush=True)
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
upgrade_database(sys.argv[1])
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_servers_starting_together_migrate_an_empty_catalog_once(
    backend: str, tmp_path: Path
) -> None:
    """Several API replicas (processes) start at once on a new database: each runs the
    migrations on start, none fails, and the schema is made once."""
    url, drop = new_database(backend, tmp_path)
    go = tmp_path / "go"
    try:
        replicas = [
            subprocess.Popen(
                [sys.executable, "-c", MIGRATE_WHEN_TOLD, url, str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        for replica in replicas:  # every one imported and waiting: they start within ~1 ms
            assert replica.stdout is not None and replica.stdout.readline() == "ready\n"
        go.touch()
        errors = [replica.communicate(timeout=120)[1] for replica in replicas]
        failures = [e for r, e in zip(replicas, errors, strict=True) if r.returncode != 0]
        assert failures == []
        catalog = Catalog(url)
        try:
            with catalog.session() as session:
                versions = session.execute(text("SELECT version_num FROM alembic_version")).all()
            assert len(versions) == 1
            assert create_key(catalog, "after-migration").secret
        finally:
            catalog.dispose()
    finally:
        drop()
