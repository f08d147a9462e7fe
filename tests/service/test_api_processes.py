"""``meshforge serve`` with MESHFORGE_API_PROCESSES=2: two API processes on one port, the
workers in the serving process; jobs run, rate limits and metrics span the processes; SIGTERM
stops everything and leaves no runtime folder; after ``kill -9`` of the serving process its API
processes and workers end by themselves."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service_harness import product_png
from service_processes import Deployment, alive, deployed, descendants

REQUESTS = 40


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    with deployed(
        tmp_path, "sqlite", "processes", MESHFORGE_WORKERS="1", MESHFORGE_API_PROCESSES="2"
    ) as deployment:
        yield deployment


def _runtime(deployment: Deployment, server_pid: int) -> Path:
    return deployment.tmp / "home" / "service" / "run" / str(server_pid)


def _nice(pid: int) -> int:
    return _nice_of(Path(f"/proc/{pid}/stat"))


def _nice_of(stat: Path) -> int:
    text = stat.read_text()
    return int(text[text.rindex(")") + 2 :].split()[16])


def _counted(metrics: str, route: str, status: str) -> float:
    pattern = (
        r'meshforge_http_requests_total\{method="GET",route="'
        + re.escape(route)
        + r'",status="'
        + status
        + r'"\} ([0-9.e+]+)'
    )
    found = re.search(pattern, metrics)
    return float(found.group(1)) if found else 0.0


def test_two_api_processes_serve_jobs_share_limits_and_metrics(deployment: Deployment) -> None:
    server = deployment.start()
    runtime = _runtime(deployment, server.pid)
    workers = json.loads((runtime / "workers.json").read_text())
    children = descendants(server.pid)
    api = [pid for pid in children if pid not in workers and _nice(pid) == 0]
    assert len(workers) == 1 and len(api) >= 2, (workers, children)
    # MESHFORGE_WORKER_NICE's default, on every thread: numeric libraries start their own
    threads = list(Path(f"/proc/{workers[0]}/task").iterdir())
    assert len(threads) > 1
    assert {_nice_of(t / "stat") for t in threads} == {10}

    with deployment.client() as client:
        job = client.post(
            "/v1/jobs",
            files={"image": ("mug.png", product_png(), "image/png")},
            data={"thumbnail": "false", "target_faces": "2000", "formats": "glb"},
        )
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]
        deadline = time.monotonic() + 120
        while (state := client.get(f"/v1/jobs/{job_id}").json()["state"]) not in (
            "succeeded",
            "failed",
        ):
            assert time.monotonic() < deadline, "the job did not end"
            time.sleep(0.2)
        assert state == "succeeded"

    # Each request on a new connection: the kernel spreads them over the two processes.
    limited = deployment.cli("keys", "create", "limited", "--rate", "6").strip().splitlines()[-1]
    statuses = []
    for _ in range(REQUESTS):
        answer = httpx.get(
            f"{deployment.url}/v1/jobs", headers={"X-API-Key": limited}, params={"limit": 1}
        )
        statuses.append(answer.status_code)
    # --rate 6 a minute brings a burst of 1 (and one more token every 10 s): the processes
    # spend one budget; with a budget each, both would have let one through
    assert statuses.count(200) == 1 and statuses.count(429) == REQUESTS - 1, statuses

    for _ in range(REQUESTS):
        assert httpx.get(f"{deployment.url}/healthz").status_code == 200
    metrics = httpx.get(f"{deployment.url}/metrics").text
    # the counts of every process, summed: exactly what was sent
    assert _counted(metrics, "/healthz", "200") == REQUESTS
    assert _counted(metrics, "/v1/jobs", "429") == REQUESTS - 1
    assert len(list((runtime / "metrics").glob("counter_*.db"))) >= 2
    assert re.search(r"^meshforge_workers_alive 1\.0$", metrics, re.M), metrics[-2000:]

    server.send_signal(signal.SIGTERM)
    assert server.wait(60) == 0
    deadline = time.monotonic() + 10
    while alive(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(children) == []
    assert not runtime.exists()


def test_api_processes_end_when_the_serving_process_is_killed(deployment: Deployment) -> None:
    server = deployment.start()
    children = descendants(server.pid)
    assert len(children) >= 3  # two API processes and a worker
    os.kill(server.pid, signal.SIGKILL)
    server.wait(10)
    deadline = time.monotonic() + 15
    while alive(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(children) == [], "processes outlived their server"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{deployment.url}/healthz", timeout=2)
    # the next server removes the folder the killed one left
    stale = _runtime(deployment, server.pid)
    assert stale.exists()
    deployment.start()
    assert not stale.exists()
