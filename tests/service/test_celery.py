"""The Celery transport, with real brokers (Redis, RabbitMQ) and real ``meshforge worker --celery``
processes; the API server runs in this process with no embedded worker.

The catalog stays the queue of record and its claim the lock: a message only says "job X is
ready". So jobs run once with their asset and files; a publish that was lost is made again by
the server; a job whose worker was killed is re-queued after its lease, published again and run
once more; a duplicated message finds nothing to claim and changes nothing.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from meshforge.catalog.db import Catalog
from meshforge.catalog.models import Asset, AssetFile, AssetVersion, Job
from meshforge.service.settings import ServiceSettings
from meshforge.workers.dispatch import TASK_NAME, JobPublisher, celery_app
from meshforge.workers.local import claim_job
from service_harness import (
    CELERY_WORKER,
    MESHFORGE_CELERY_WORKER,
    Service,
    broker_url,
    free_port,
    kill_group,
    product_png,
    start_celery_worker,
    start_service,
    stop_service,
)


def broker_health(service: Service) -> tuple[int, str, float, float]:
    """/readyz's status and broker check; /metrics' broker-up gauge and publish failures."""
    anonymous = service.anonymous()
    ready = anonymous.get("/readyz")
    text = anonymous.get("/metrics").text

    def value(name: str) -> float:
        found = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.MULTILINE)
        assert found, f"{name} is missing from /metrics"
        return float(found.group(1))

    return (
        ready.status_code,
        ready.json()["checks"].get("broker", "absent"),
        value("meshforge_celery_broker_up"),
        value("meshforge_celery_publish_failures_total"),
    )


def worker_env(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment with ``settings`` as its only MESHFORGE_* variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MESHFORGE_")} | settings


def run_worker_to_its_end(settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``meshforge worker --celery`` with a broker that does not work: it must exit."""
    return subprocess.run(
        [sys.executable, *MESHFORGE_CELERY_WORKER],
        env=worker_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


@dataclass
class Deployment:
    """A service on one catalog and one broker queue, and the Celery workers started on it."""

    service: Service
    broker: str
    queue: str
    tmp: Path
    workers: list[Any] = field(default_factory=list)

    def start_worker(self, command: tuple[str, ...] = MESHFORGE_CELERY_WORKER) -> Any:
        log = self.tmp / f"worker-{len(self.workers)}.log"
        worker = start_celery_worker(worker_env(self.service.env), log, command)
        self.workers.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("worker-*")))

    @functools.cached_property
    def app(self) -> Any:
        return celery_app(ServiceSettings(celery_broker_url=self.broker, celery_queue=self.queue))

    def purge(self, missing_ok: bool = False) -> int:
        """Delete the messages waiting in the queue; how many there were (0 for a queue not
        declared yet, with ``missing_ok``: the first publish declares it)."""
        with self.app.connection_for_write() as connection:
            try:
                return int(connection.default_channel.queue_purge(self.queue) or 0)
            except connection.channel_errors:
                if missing_ok:
                    return 0
                raise

    def purge_published(self, expected: int, timeout: float = 30) -> int:
        """Delete messages as they arrive until ``expected`` were deleted (or ``timeout``); how
        many. The server publishes from a thread after answering, so a message may still be
        on its way when the request has returned."""
        deleted = 0
        deadline = time.monotonic() + timeout
        while deleted < expected and time.monotonic() < deadline:
            deleted += self.purge(missing_ok=True)
            if deleted < expected:
                time.sleep(0.05)
        return deleted

    def send_duplicate(self, job_id: str) -> None:
        """What a redelivery or a second server's publish would put in the queue."""
        self.app.send_task(TASK_NAME, args=[job_id])

    def submit(self, client: httpx.Client, seed: int) -> str:
        response = client.post(
            "/v1/jobs",
            files={"image": (f"bottle-{seed}.png", product_png(seed=seed), "image/png")},
            data={"thumbnail": "false", "formats": "glb,stl"},
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def wait_for(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        try:
            return self.service.wait_for(job_id, timeout)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.logs()[-6000:]}") from None

    def rows(self) -> tuple[dict[str, Job], dict[str, int], int]:
        """Every job; the number of asset versions of each job; the number of assets."""
        catalog = Catalog(self.service.database_url)
        try:
            with catalog.session() as session:
                jobs = {job.id: job for job in session.scalars(select(Job))}
                versions = dict(
                    session.execute(
                        select(AssetVersion.job_id, func.count()).group_by(AssetVersion.job_id)
                    ).all()
                )
                assets = session.scalar(select(func.count()).select_from(Asset))
                return jobs, {str(k): int(v) for k, v in versions.items()}, int(assets or 0)
        finally:
            catalog.dispose()

    def not_claimed(self, job_id: str) -> int:
        """How many deliveries of ``job_id`` the workers logged as not claimed."""
        count = 0
        for line in self.logs().splitlines():
            if line.startswith("{") and job_id in line:
                record = json.loads(line)
                count += record.get("job_id") == job_id and "not claimed" in record["msg"]
        return count


@pytest.fixture
def deployment(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    """``request.param``: (broker kind, catalog backend, extra MESHFORGE_* settings)."""
    kind, backend, *extra = request.param
    url = broker_url(kind)
    queue = f"meshforge-test-{uuid.uuid4().hex[:10]}"
    settings = {
        "MESHFORGE_WORKERS": "0",
        "MESHFORGE_CELERY_BROKER_URL": url,
        "MESHFORGE_CELERY_QUEUE": queue,
        "MESHFORGE_CELERY_REDISPATCH_S": "2",
        "MESHFORGE_JOB_LEASE_S": "2",
        "MESHFORGE_RATE_PER_MINUTE": "0",
    }
    service, drop = start_service(backend, tmp_path, monkeypatch, **settings | dict(*extra))
    deployed = Deployment(service, url, queue, tmp_path)
    try:
        yield deployed
    finally:
        try:
            for worker in deployed.workers:
                kill_group(worker)
            stop_service(service, drop)
        finally:
            with deployed.app.connection_for_write() as connection:
                connection.default_channel.queue_delete(queue)
                connection.default_channel.exchange_delete(queue)  # Celery made one per queue
            deployed.app.close()


def assert_ran_once(deployment: Deployment, job: dict[str, Any], attempts: int = 1) -> None:
    assert job["state"] == "succeeded", (job["error"], deployment.logs()[-4000:])
    assert job["attempts"] == attempts
    names = sorted(f["name"] for f in job["results"]["files"])
    assert [n.rsplit(".", 1)[1] for n in names] == ["glb", "json", "stl"], names
    assert all(f["bytes"] > 0 for f in job["results"]["files"])
    catalog = Catalog(deployment.service.database_url)
    try:
        with catalog.session() as session:
            row = session.get(Job, job["id"])
            assert row is not None and row.worker_id is not None
            assert ":celery:" in row.worker_id, row.worker_id  # no embedded worker ran it
            stored = session.scalars(
                select(AssetFile.storage_key)
                .join(AssetVersion, AssetFile.version_id == AssetVersion.id)
                .where(AssetVersion.job_id == job["id"])
            ).all()
        assert len(stored) == 3 and all((deployment.service.storage / k).is_file() for k in stored)
    finally:
        catalog.dispose()


@pytest.mark.parametrize(
    ("deployment", "command"),
    [
        (("redis", "postgresql"), MESHFORGE_CELERY_WORKER),
        (("amqp", "postgresql"), CELERY_WORKER),
        (("redis", "sqlite"), MESHFORGE_CELERY_WORKER),
    ],
    ids=["redis-postgresql", "amqp-postgresql-celery-cli", "redis-sqlite"],
    indirect=["deployment"],
)
def test_celery_workers_run_jobs_and_ignore_duplicates(
    deployment: Deployment, command: tuple[str, ...]
) -> None:
    deployment.start_worker(command)
    client = deployment.service.client()
    ids = [deployment.submit(client, seed) for seed in range(2)]
    for job_id in ids:
        assert_ran_once(deployment, deployment.wait_for(job_id))

    # A duplicate message for a finished job, then a new job: the worker takes its messages in
    # order, one at a time, so the duplicate was handled once the new job has ended.
    deployment.send_duplicate(ids[0])
    ids.append(deployment.submit(client, 2))
    assert_ran_once(deployment, deployment.wait_for(ids[2]))
    jobs, versions, assets = deployment.rows()
    assert {i: (j.state, j.attempts) for i, j in jobs.items()} == dict.fromkeys(
        ids, ("succeeded", 1)
    )
    assert versions == dict.fromkeys(ids, 1) and assets == 3
    assert deployment.not_claimed(ids[0]) == 1, deployment.logs()[-4000:]
    assert broker_health(deployment.service) == (200, "ok", 1.0, 0.0)


@pytest.mark.parametrize(
    "deployment",
    [("amqp", "sqlite", {"MESHFORGE_JOB_LEASE_S": "60"})],
    ids=["amqp-sqlite"],
    indirect=True,
)
def test_lost_messages_are_published_again_and_duplicates_of_claimed_jobs_do_nothing(
    deployment: Deployment,
) -> None:
    client = deployment.service.client()
    ids = [deployment.submit(client, seed) for seed in range(2)]
    # Both were published when they were created (no worker is running yet); lose them.
    assert deployment.purge_published(2) == 2
    # The second job is taken by a worker elsewhere (the lease is long: it stays its own); a
    # copy of its message reaches the Celery worker before the first job's new publish does.
    catalog = Catalog(deployment.service.database_url)
    try:
        assert claim_job(catalog, ids[1], "elsewhere")
    finally:
        catalog.dispose()
    deployment.send_duplicate(ids[1])

    deployment.start_worker()
    assert_ran_once(deployment, deployment.wait_for(ids[0]))
    jobs, versions, assets = deployment.rows()
    held = jobs[ids[1]]
    assert (held.state, held.worker_id, held.attempts, held.asset_id) == (
        "running",
        "elsewhere",
        1,
        None,
    )
    assert versions == {ids[0]: 1} and assets == 1
    assert deployment.not_claimed(ids[1]) >= 1, deployment.logs()[-4000:]


@pytest.mark.parametrize(
    "deployment", [("redis", "postgresql")], ids=["redis-postgresql"], indirect=True
)
def test_a_job_of_a_killed_worker_is_requeued_republished_and_run_once(
    deployment: Deployment,
) -> None:
    first = deployment.start_worker()
    client = deployment.service.client()
    job_id = deployment.submit(client, 0)
    deadline = time.monotonic() + 30
    while client.get(f"/v1/jobs/{job_id}").json()["state"] == "queued":
        assert time.monotonic() < deadline, f"the job did not start\n{deployment.logs()}"
        time.sleep(0.02)
    kill_group(first)  # kill -9: the worker and the child running the job
    jobs, _, _ = deployment.rows()
    assert jobs[job_id].state == "running", "the job ended before its worker was killed"
    lost_worker = jobs[job_id].worker_id

    # With Redis the unacknowledged message comes back only after an hour (the visibility
    # timeout): the job runs again because the server re-queues and publishes it.
    deployment.start_worker()
    job = deployment.wait_for(job_id)
    assert_ran_once(deployment, job, attempts=2)
    jobs, versions, assets = deployment.rows()
    assert jobs[job_id].worker_id != lost_worker
    assert versions == {job_id: 1} and assets == 1


def test_a_broker_that_is_down_loses_no_job_and_stops_a_worker_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    service, drop = start_service(
        "sqlite", tmp_path, monkeypatch, MESHFORGE_WORKERS="0", MESHFORGE_CELERY_BROKER_URL=down
    )
    try:
        client = service.client()
        started = time.monotonic()
        response = client.post(
            "/v1/jobs", files={"image": ("b.png", product_png(), "image/png")}, data={}
        )
        assert response.status_code == 202, response.text
        assert time.monotonic() - started < 5
        assert client.get(f"/v1/jobs/{response.json()['id']}").json()["state"] == "queued"
        # The API stays ready (it takes jobs) and says the broker is not reachable; the
        # publisher's thread has counted its failed send.
        deadline = time.monotonic() + 5
        while (health := broker_health(service))[3] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        status, check, up, failures = health
        assert (status, up) == (200, 0.0) and failures >= 1  # later passes try again
        assert check.startswith("degraded: OperationalError"), check

        done = run_worker_to_its_end(service.env)
        assert done.returncode == 1, done.stderr
        assert f"cannot reach the Celery broker at {down}" in done.stderr
        assert "MESHFORGE_CELERY_BROKER_URL" in done.stderr
    finally:
        stop_service(service, drop)


@contextlib.contextmanager
def silent_broker() -> Iterator[int]:
    """A port that accepts connections and reads, but never answers (a hung broker, or a
    firewall that drops replies)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        server.close()


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_a_hung_broker_delays_no_request_and_loses_no_job(
    scheme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with silent_broker() as port:
        url = f"redis://127.0.0.1:{port}/0" if scheme == "redis" else f"amqp://127.0.0.1:{port}//"
        service, drop = start_service(
            "sqlite", tmp_path, monkeypatch, MESHFORGE_WORKERS="0", MESHFORGE_CELERY_BROKER_URL=url
        )
        try:
            client = service.client()
            took = []
            for seed in range(3):
                started = time.monotonic()
                response = client.post(
                    "/v1/jobs",
                    files={"image": ("b.png", product_png(seed=seed), "image/png")},
                    data={},
                    timeout=30,
                )
                took.append(time.monotonic() - started)
                assert response.status_code == 202, response.text
            assert max(took) < 1.0, took  # the publish happens off the request
            listed = client.get("/v1/jobs").json()["data"]
            assert [job["state"] for job in listed] == ["queued"] * 3
            # /readyz answers within its own deadline and reports the broker.
            started = time.monotonic()
            ready = service.anonymous().get("/readyz", timeout=30)
            assert time.monotonic() - started < 5
            assert ready.status_code == 200
            assert ready.json()["checks"]["broker"].startswith("degraded"), ready.json()
        finally:
            stop_service(service, drop)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("kafka://127.0.0.1:9092", "MESHFORGE_CELERY_BROKER_URL: Value error, unknown broker"),
        ("", "no Celery broker is configured"),
    ],
)
def test_worker_celery_refuses_a_missing_or_unknown_broker(url: str, says: str) -> None:
    done = run_worker_to_its_end({"MESHFORGE_CELERY_BROKER_URL": url})
    assert done.returncode == (2 if url else 1), done.stderr  # InputError, MeshforgeError
    assert says in " ".join(done.stderr.split()), done.stderr


def test_a_broker_means_no_embedded_workers_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESHFORGE_WORKERS", raising=False)
    monkeypatch.delenv("MESHFORGE_CELERY_BROKER_URL", raising=False)
    assert ServiceSettings().workers == 1
    monkeypatch.setenv("MESHFORGE_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    assert ServiceSettings().workers == 0
    monkeypatch.setenv("MESHFORGE_WORKERS", "2")
    assert ServiceSettings().workers == 2


def test_publisher_waits_longer_each_time_and_publishes_requeued_jobs_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The re-publish rule, on a clock of its own (no broker is reached: publish is stubbed)."""
    settings = ServiceSettings(celery_broker_url="redis://127.0.0.1:1/0", celery_redispatch_s=10)
    publisher = JobPublisher(settings, catalog=None)  # type: ignore[arg-type]
    clock = [1000.0]
    publisher.clock = lambda: clock[0]
    sent: list[str] = []
    monkeypatch.setattr(publisher.app, "send_task", lambda name, args, **_: sent.append(args[0]))
    new, other = ("job_new", 0), ("job_other", 0)

    assert publisher.publish("job_new")  # at submission
    assert publisher.due([new, other]) == []  # job_other: published by another server
    clock[0] += 9.9
    assert publisher.due([new, other]) == []
    clock[0] += 0.1
    assert publisher.due([new, other]) == [new, other]  # 10 s after the last publish
    publisher.publish("job_new")
    clock[0] += 19.9  # the next wait is twice as long
    assert publisher.due([new]) == []  # job_other left the queue: forgotten
    clock[0] += 0.1
    assert publisher.due([new, other]) == [new]  # job_other is seen anew: it waits again
    # Re-queued by a reaper (its attempts grew): at once, and the wait starts again from 10 s.
    assert publisher.due([("job_new", 1)]) == [("job_new", 1)]
    publisher.publish("job_new", 1)
    clock[0] += 9.9
    assert publisher.due([("job_new", 1)]) == []
    clock[0] += 0.1
    assert publisher.due([("job_new", 1)]) == [("job_new", 1)]
    assert sent == ["job_new", "job_new", "job_new"]

    def broker_down(*_: Any, **__: Any) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(publisher.app, "send_task", broker_down)
    assert not publisher.publish("job_new", 1)
    assert publisher.due([("job_new", 1)]) == [("job_new", 1)]  # a failed publish: next pass
