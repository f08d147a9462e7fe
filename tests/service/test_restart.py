"""``meshforge serve`` as a real process: killed outright, then restarted; and stopped gracefully.

Kill: with jobs running and queued, the server gets SIGKILL. Its worker processes must end by
themselves (they watch their parent), and a new server on the same catalog and storage must run
every job to ``succeeded``: none lost, none recorded twice, the interrupted ones re-run.

Drain: SIGTERM while a job runs; the job still ends ``succeeded`` before the process exits, and a
job still queued stays queued for the next server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from meshforge.catalog.db import Catalog
from meshforge.catalog.models import Asset, AssetFile, AssetVersion, Job
from service_harness import product_png
from service_processes import Deployment, alive, deployed

JOBS = 8
TERMINAL = ("succeeded", "failed", "canceled")


@pytest.fixture(params=["sqlite", "postgresql"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    with deployed(
        tmp_path,
        request.param,
        "restart-test",
        MESHFORGE_WORKERS="2",
        MESHFORGE_JOB_LEASE_S="2",
        MESHFORGE_RATE_PER_MINUTE="0",
    ) as deployment:
        yield deployment


def submit(client: httpx.Client, count: int, **fields: str) -> list[str]:
    ids = []
    for seed in range(count):
        response = client.post(
            "/v1/jobs",
            files={"image": (f"bottle-{seed}.png", product_png(seed=seed), "image/png")},
            data={"thumbnail": "false", **fields},
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


def states(client: httpx.Client, ids: list[str]) -> dict[str, dict[str, Any]]:
    return {job_id: client.get(f"/v1/jobs/{job_id}").json() for job_id in ids}


def wait_until(
    deployment: Deployment, check: Any, timeout: float, what: Any, interval: float = 0.05
) -> Any:
    """``check()``'s first true answer; fails after ``timeout`` s with ``what`` (or ``what()``)
    and the servers' logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    message = what() if callable(what) else what
    raise AssertionError(f"{message} within {timeout} s\n{deployment.logs()}")


def test_a_killed_server_loses_and_duplicates_no_job(deployment: Deployment) -> None:
    first = deployment.start()
    workers = deployment.record(first)
    assert len(workers) >= 2, f"expected 2 worker processes, found {workers}"
    with deployment.client() as client:
        ids = submit(client, JOBS)

        def busy_and_waiting() -> bool:
            seen = [j["state"] for j in states(client, ids).values()]
            return "running" in seen and "queued" in seen

        wait_until(deployment, busy_and_waiting, 30, "no job was running with others queued")
        deployment.record(first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)

    wait_until(
        deployment,
        lambda: not alive(deployment.seen),
        10,
        lambda: f"the processes of the killed server ({alive(deployment.seen)}) did not exit",
        interval=0.1,
    )
    # Read once every process of the old server is gone: the jobs it left running.
    interrupted = {i for i, job in deployment.jobs().items() if job.state == "running"}
    assert interrupted, "no job was running when the server was killed"

    deployment.start()
    with deployment.client() as client:

        def all_ended() -> dict[str, dict[str, Any]] | None:
            now = states(client, ids)
            return now if all(j["state"] in TERMINAL for j in now.values()) else None

        final = wait_until(
            deployment, all_ended, 45, "the jobs did not all end after the restart", interval=0.2
        )
    assert {i: j["state"] for i, j in final.items()} == dict.fromkeys(ids, "succeeded"), [
        j["error"] for j in final.values()
    ]
    for job_id in interrupted:
        assert final[job_id]["attempts"] >= 2, final[job_id]

    catalog = Catalog(deployment.database_url)
    try:
        with catalog.session() as session:
            rows = {job.id: job for job in session.scalars(select(Job))}
            assert sorted(rows) == sorted(ids), "jobs were lost or added"
            versions = dict(
                session.execute(
                    select(AssetVersion.job_id, func.count()).group_by(AssetVersion.job_id)
                ).all()
            )
            assert versions == dict.fromkeys(ids, 1), "a job has no asset, or more than one"
            assets = dict(
                session.execute(
                    select(AssetVersion.job_id, func.count(func.distinct(Asset.id)))
                    .join(Asset, Asset.id == AssetVersion.asset_id)
                    .group_by(AssetVersion.job_id)
                ).all()
            )
            assert assets == dict.fromkeys(ids, 1)
            assert session.scalar(select(func.count()).select_from(Asset)) == JOBS
            for job_id, job in rows.items():
                assert job.asset_id is not None
                assert job.state == "succeeded" and job.worker_id is not None
                files = session.scalars(
                    select(AssetFile)
                    .join(AssetVersion, AssetFile.version_id == AssetVersion.id)
                    .where(AssetVersion.job_id == job_id)
                ).all()
                assert any(f.kind == "glb" for f in files), [f.name for f in files]
                for entry in files:
                    stored = deployment.storage / entry.storage_key
                    assert stored.is_file(), f"{job_id}: {entry.storage_key} is missing"
                    assert stored.stat().st_size == entry.bytes
    finally:
        catalog.dispose()


@pytest.mark.parametrize(
    "stop", ["sigterm-to-server", "sigint-to-group"], ids=["sigterm", "ctrl-c"]
)
def test_sigterm_drains_the_running_jobs(deployment: Deployment, stop: str) -> None:
    """SIGTERM to the server, or Ctrl-C (SIGINT to the whole process group, workers included):
    either way the running jobs finish before the process exits."""
    server = deployment.start()
    with deployment.client() as client:
        # A turntable (36 rendered frames) makes each job last seconds, not a fraction of one.
        ids = submit(client, 3, turntable="true")

        def running_and_queued() -> list[str] | None:
            now = states(client, ids)
            running = [i for i, j in now.items() if j["state"] == "running"]
            queued = [i for i, j in now.items() if j["state"] == "queued"]
            return running if len(running) == 2 and queued else None

        running = wait_until(deployment, running_and_queued, 30, "both workers did not start a job")
        processes = deployment.record(server)
        stopped_at = time.time()
        if stop == "sigterm-to-server":
            os.kill(server.pid, signal.SIGTERM)
        else:
            os.killpg(server.pid, signal.SIGINT)
    try:
        code = server.wait(60)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the server did not exit on SIGTERM\n{deployment.logs()}") from None
    # uvicorn re-raises the signal it caught once it has shut down: "killed by SIGTERM" is a
    # clean exit here, as long as it came after the drain.
    assert code in (0, -signal.SIGTERM, -signal.SIGINT), deployment.logs()
    assert "draining running jobs" in deployment.logs()
    wait_until(
        deployment,
        lambda: not alive(processes),
        5,
        lambda: f"worker processes ({alive(processes)}) outlived the server",
        interval=0.1,
    )

    jobs = deployment.jobs()
    for job_id in running:
        drained = jobs[job_id]
        assert drained.state == "succeeded", (drained.state, drained.error, deployment.logs())
        assert drained.attempts == 1
        assert drained.finished_at is not None and drained.finished_at > stopped_at
    # The pool stops claiming when the lifespan shutdown starts, a moment after the signal: a
    # worker that finished in between may take one more job, which must then be drained too.
    for job in jobs.values():
        if job.id in running:
            continue
        taken_late = job.state == "succeeded" and (job.started_at or 0) > stopped_at
        assert (job.state == "queued" and job.attempts == 0) or taken_late, (
            [(j.state, j.attempts, j.started_at, j.finished_at) for j in jobs.values()],
            stopped_at,
            deployment.logs(),
        )
