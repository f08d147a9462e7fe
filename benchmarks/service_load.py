"""API latency of `meshforge serve` under a burst of concurrent requests, and no job lost.

    python benchmarks/service_load.py [--jobs 200] [--concurrency 200] [--max-wait 600]
                                      [--workers N] [--api-processes N] [--port 0]

The embedded setup, as `meshforge serve` starts with no configuration: a SQLite catalog and a
local storage folder under MESHFORGE_HOME (a temporary folder), MESHFORGE_WORKERS left at its
default (1) unless ``--workers`` is given, and MESHFORGE_API_PROCESSES at its default (1) unless
``--api-processes`` is given. The server runs as a subprocess on 127.0.0.1; this
script is the client, on asyncio with uvloop. By default (``--client raw``) each request of a
burst has its own connection, opened before the burst, its bytes are made before the burst is
released, and HTTP/1.1 is parsed by hand: the client then spends about 0.1 ms of CPU per request
during a burst, on the same two cores as the server. ``--client httpx`` uses one
httpx.AsyncClient with ``--concurrency`` connections instead; with 200 connections httpx spends
seconds of CPU per burst (its pool is scanned per request), on those cores, and the figures
then measure the client as much as the server.

1. ``meshforge keys create`` (the same environment) makes the key: scopes read+write, its rate
   limit off (``--rate 0``: the default 600/min with a burst of 100 would answer 429 to most of
   a 200-request burst, by design) and ``--max-active-jobs`` at least ``--jobs``.
2. One image is uploaded (POST /v1/uploads); 16 warm-up jobs and GETs are sent, each on its own
   connection, so that every API process has served some before the measured bursts.
3. ``--jobs`` POST /v1/jobs, all at once (JSON: upload_id, thumbnail false, metadata {"n": i});
   each request's latency from the client's send to the full response.
4. One GET /v1/jobs/{id} per job, all at once, while the worker processes the queue.
5. The same burst on GET /healthz (no key, no database): the framework's own floor.
6. 20 sequential POSTs and GETs (one connection, nothing concurrent from this client): the
   service time of one request, the unit a burst queues behind; then smaller bursts
   (``--sweep``, default 10, 25, 50, 100 POSTs then as many GETs) show where p99 crosses 100 ms.
7. Wait (at most ``--max-wait`` s) until every job is terminal; the rest are cancelled (POST
   /v1/jobs/{id}/cancel), then the running ones are awaited (bounded) to their end.
8. Zero lost jobs: every id submitted appears exactly once in GET /v1/jobs (all pages) and in the
   catalog's jobs table, in a terminal state, and no id appears twice.

Targets: p99 <= 100 ms for both bursts. Results: benchmarks/results/service_load.json and
service_load.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import machine, meshforge_command

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGET_P99_MS = 100.0
T = TypeVar("T")
TERMINAL = ("succeeded", "failed", "canceled")
SEQUENTIAL = 20
WARM_UP = 16  # warm-up submissions (and reads), one connection each
CLIENTS = {
    "raw": "asyncio on uvloop, HTTP/1.1 written by hand before the burst, one connection per "
    "request opened before the burst",
    "httpx": "asyncio + httpx.AsyncClient, {n} connections",
}


def bottle_png(size: int = 256) -> bytes:
    """A bottle-shaped RGBA photo on a transparent background (the alpha is the mask)."""
    yy, xx = np.mgrid[0:size, 0:size]
    cx, half_w = size / 2, size * 0.18
    body = (np.abs(xx - cx) < half_w) & (yy > size * 0.25) & (yy < size * 0.9)
    neck = (np.abs(xx - cx) < half_w * 0.4) & (yy > size * 0.1) & (yy <= size * 0.25)
    rgba = np.zeros((size, size, 4), np.uint8)
    shade = (1.0 - 0.5 * np.abs(xx - cx) / half_w).clip(0.3, 1.0)
    rgba[..., :3] = (np.array([60, 140, 200])[None, None, :] * shade[..., None]).astype(np.uint8)
    rgba[..., 3] = np.where(body | neck, 255, 0)
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, "PNG")
    return out.getvalue()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (0.0 where /proc is not there)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api_pids(server_pid: int, home: Path) -> list[int]:
    """The processes answering the API: the server itself, and with MESHFORGE_API_PROCESSES > 1
    its children other than the embedded workers (listed in its runtime folder)."""
    listed = home / "service" / "run" / str(server_pid) / "workers.json"
    if not listed.exists():
        return [server_pid]
    workers = set(json.loads(listed.read_text()))
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == server_pid and int(stat.parent.name) not in workers:
            children.append(int(stat.parent.name))
    return [server_pid, *children]


def api_cpu_seconds(server: Server) -> float:
    if server.process is None:
        return 0.0
    return sum(cpu_seconds(pid) for pid in api_pids(server.process.pid, server.home))


async def wait_for_work(
    server: Server, key: str, ids: list[str], timeout_s: float = 60.0
) -> dict[str, Any]:
    """Wait until the worker has taken a job of the burst (so the GET burst runs while it
    works): the seconds waited and whether it did."""
    headers = {"Authorization": f"Bearer {key}"}
    wanted = set(ids)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:
        while time.perf_counter() - started < timeout_s:
            listed = await client.get(
                "/v1/jobs", params={"state": ["running", "succeeded"], "limit": 100}
            )
            if wanted & {j["id"] for j in listed.json()["data"]}:
                return {"waited_s": round(time.perf_counter() - started, 2), "working": True}
            await asyncio.sleep(0.2)
    return {"waited_s": round(time.perf_counter() - started, 2), "working": False}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.asarray(samples_s) * 1000.0
    return {
        "n": len(samples_s),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p90_ms": round(float(np.percentile(ms, 90)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
        "mean_ms": round(float(ms.mean()), 1),
    }


class Server:
    """`meshforge serve` in its own session (so the whole group can be stopped)."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.home = Path(env["MESHFORGE_HOME"])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [*meshforge_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"meshforge serve exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("meshforge serve did not become ready in 120 s")
            time.sleep(0.2)

    def stop(self) -> float:
        """SIGTERM (drain), then the group's leftovers killed; seconds to exit."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(180)
        took = time.monotonic() - started
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(10)
        return took


class RawConnection:
    """One keep-alive HTTP/1.1 connection spoken by hand: about 0.1 ms of client CPU per
    request, so a burst measures the server, not the client (httpx.AsyncClient spends
    milliseconds of CPU per request with 200 connections open, on the cores the server uses)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    @staticmethod
    def encode(
        method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None
    ) -> bytes:
        """The request's bytes (made before a burst is released, so its timing has none of it)."""
        payload = json.dumps(body).encode() if body is not None else b""
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + payload

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None
    ) -> tuple[int, bytes]:
        return await self.send(self.encode(method, path, headers, body))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Write an encoded request; (status, body) of the response."""
        self.writer.write(request)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        head = raw.decode("latin-1")
        status = int(head[9:12])
        at = head.lower().find("\r\ncontent-length:")
        if at < 0:
            raise RuntimeError(f"no Content-Length in the response: {head[:200]!r}")
        length = int(head[at + 17 : head.index("\r\n", at + 2)])
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class Response:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content

    def json(self) -> Any:
        return json.loads(self.content)


def run_client(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run the client on uvloop (installed with uvicorn[standard]), as the server does: the
    client shares the server's cores, so the less CPU it spends per request the better."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


class Burst(NamedTuple):
    latencies_s: list[float]
    responses: list[Any]
    wall_s: float
    client_cpu_s: float


async def burst(
    port: int,
    key: str,
    requests: list[tuple[str, str, dict[str, Any] | None]],
    client: str,
    concurrency: int,
) -> Burst:
    """All requests at once: latency per request in s, responses, wall time of the burst and
    this client's CPU time from the release to the last response.

    ``raw``: one connection per request, opened before the burst starts. ``httpx``: one
    httpx.AsyncClient with ``concurrency`` connections (its connection set-up is timed too)."""
    gate = asyncio.Event()
    headers = {"Authorization": f"Bearer {key}"}

    if client == "raw":
        connections = await asyncio.gather(*(RawConnection.open(port) for _ in requests))
        encoded = [
            RawConnection.encode(method, url, headers, body) for method, url, body in requests
        ]

        async def one_raw(index: int) -> tuple[float, Any]:
            await gate.wait()
            started = time.perf_counter()
            status, content = await connections[index].send(encoded[index])
            return time.perf_counter() - started, Response(status, content)

        tasks = [asyncio.create_task(one_raw(i)) for i in range(len(requests))]
        await asyncio.sleep(0)  # every task now waits at the gate
        begun, cpu = time.perf_counter(), time.process_time()
        gate.set()
        done = await asyncio.gather(*tasks)
        wall, cpu = time.perf_counter() - begun, time.process_time() - cpu
        await asyncio.gather(*(c.close() for c in connections))
        return Burst([d[0] for d in done], [d[1] for d in done], wall, cpu)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits, timeout=120.0
    ) as pool:

        async def one_httpx(method: str, url: str, body: Any) -> tuple[float, Any]:
            await gate.wait()
            started = time.perf_counter()
            response = await pool.request(method, url, json=body)
            return time.perf_counter() - started, response

        tasks = [asyncio.create_task(one_httpx(*r)) for r in requests]
        await asyncio.sleep(0)
        begun, cpu = time.perf_counter(), time.process_time()
        gate.set()
        done = await asyncio.gather(*tasks)
        wall, cpu = time.perf_counter() - begun, time.process_time() - cpu
    return Burst([d[0] for d in done], [d[1] for d in done], wall, cpu)


async def warm_up(server: Server, key: str, upload_id: str) -> list[str]:
    """WARM_UP submissions and reads, each on its own connection, so that every API process
    has served some (its first submission imports the engines to check the options)."""
    posted = (
        await burst(
            server.port,
            key,
            [("POST", "/v1/jobs", job_body(upload_id, -1 - n)) for n in range(WARM_UP)],
            "raw",
            WARM_UP,
        )
    )[1]
    if any(r.status_code != 202 for r in posted):
        raise RuntimeError(f"warm-up submissions answered {[r.status_code for r in posted]}")
    ids = [r.json()["id"] for r in posted]
    await burst(server.port, key, [("GET", f"/v1/jobs/{i}", None) for i in ids], "raw", WARM_UP)
    return ids


def job_body(upload_id: str, n: int) -> dict[str, Any]:
    return {"upload_id": upload_id, "thumbnail": False, "metadata": {"n": n}}


def list_all(client: httpx.Client) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/jobs", params=params)
        page.raise_for_status()
        document = page.json()
        jobs.extend(document["data"])
        cursor = document["next_cursor"]
        if not cursor:
            return jobs


async def measure(
    server: Server,
    key: str,
    upload_id: str,
    jobs: int,
    concurrency: int,
    client: str,
    sweep: list[int],
) -> dict[str, Any]:
    server0 = api_cpu_seconds(server)
    post_s, posted, post_wall, post_cpu = await burst(
        server.port,
        key,
        [("POST", "/v1/jobs", job_body(upload_id, n)) for n in range(jobs)],
        client,
        concurrency,
    )
    post_server = api_cpu_seconds(server) - server0
    ids = [r.json()["id"] for r in posted if r.status_code == 202]
    before_get = await wait_for_work(server, key, ids)
    server0 = api_cpu_seconds(server)
    get_s, got, get_wall, get_cpu = await burst(
        server.port, key, [("GET", f"/v1/jobs/{i}", None) for i in ids], client, concurrency
    )
    get_server = api_cpu_seconds(server) - server0
    states_at_get = Counter(r.json().get("state") for r in got if r.status_code == 200)
    connection = await RawConnection.open(server.port)
    headers = {"Authorization": f"Bearer {key}"}
    seq_post, seq_get = [], []
    try:
        for n in range(SEQUENTIAL):
            started = time.perf_counter()
            status, content = await connection.request(
                "POST", "/v1/jobs", headers, job_body(upload_id, jobs + n)
            )
            seq_post.append(time.perf_counter() - started)
            if status != 202:
                raise RuntimeError(f"POST /v1/jobs answered {status}: {content[:300]!r}")
            ids.append(json.loads(content)["id"])
            started = time.perf_counter()
            status, _ = await connection.request("GET", f"/v1/jobs/{ids[n]}", headers, None)
            seq_get.append(time.perf_counter() - started)
    finally:
        await connection.close()
    # The floor: the same burst on the lightest route the app has (no key, no database), so
    # the POST and GET figures can be read against what the framework alone costs here.
    server0 = api_cpu_seconds(server)
    floor_s, floor_got, floor_wall, _ = await burst(
        server.port, key, [("GET", "/healthz", None)] * jobs, client, concurrency
    )
    floor_server = api_cpu_seconds(server) - server0
    sizes = []
    for size in sweep:
        post_n, posted_n, wall_post_n, _ = await burst(
            server.port,
            key,
            [("POST", "/v1/jobs", job_body(upload_id, 10_000 * size + n)) for n in range(size)],
            "raw",
            size,
        )
        new_ids = [r.json()["id"] for r in posted_n if r.status_code == 202]
        ids.extend(new_ids)
        get_n, _, wall_get_n, _ = await burst(
            server.port, key, [("GET", f"/v1/jobs/{i}", None) for i in new_ids], "raw", size
        )
        sizes.append(
            {
                "requests": size,
                "post": {**percentiles(post_n), "wall_s": round(wall_post_n, 3)},
                "get": {**percentiles(get_n), "wall_s": round(wall_get_n, 3)},
            }
        )
    return {
        "ids": ids,
        "sweep": sizes,
        "post": {
            **percentiles(post_s),
            "wall_s": round(post_wall, 3),
            "per_s": round(jobs / post_wall, 1),
            "client_cpu_s": round(post_cpu, 3),
            "server_cpu_s": round(post_server, 3),
            "status": dict(Counter(str(r.status_code) for r in posted)),
        },
        "get": {
            **percentiles(get_s),
            "wall_s": round(get_wall, 3),
            "per_s": round(len(get_s) / get_wall, 1),
            "client_cpu_s": round(get_cpu, 3),
            "server_cpu_s": round(get_server, 3),
            "status": dict(Counter(str(r.status_code) for r in got)),
            "job_states_seen": dict(states_at_get),
            "waited_for_worker": before_get,
        },
        "healthz": {
            **percentiles(floor_s),
            "wall_s": round(floor_wall, 3),
            "per_s": round(len(floor_s) / floor_wall, 1),
            "server_cpu_s": round(floor_server, 3),
            "status": dict(Counter(str(r.status_code) for r in floor_got)),
        },
        "sequential_post": percentiles(seq_post),
        "sequential_get": percentiles(seq_get),
    }


def settle(
    client: httpx.Client, ids: list[str], max_wait_s: float, cancel_wait_s: float
) -> dict[str, Any]:
    """Wait for every job to end; after ``max_wait_s`` cancel the rest, then wait for those."""
    started = time.monotonic()
    first_done: float | None = None
    while True:
        listed = {j["id"]: j["state"] for j in list_all(client)}
        open_ids = [i for i in ids if listed.get(i) not in TERMINAL]
        done = len(ids) - len(open_ids)
        if first_done is None and done:
            first_done = time.monotonic() - started
        if not open_ids or time.monotonic() - started > max_wait_s:
            break
        time.sleep(2.0)
    waited = time.monotonic() - started
    finished_in_wait = len(ids) - len(open_ids)
    cancel_status: Counter[str] = Counter()
    for job_id in open_ids:
        cancel_status[str(client.post(f"/v1/jobs/{job_id}/cancel").status_code)] += 1
    deadline = time.monotonic() + cancel_wait_s
    while open_ids and time.monotonic() < deadline:
        listed = {j["id"]: j["state"] for j in list_all(client)}
        if all(listed.get(i) in TERMINAL for i in ids):
            break
        time.sleep(1.0)
    return {
        "waited_s": round(waited, 1),
        "finished_in_wait": finished_in_wait,
        "cancel_requests": len(open_ids),
        "cancel_status": dict(cancel_status),
    }


def audit(client: httpx.Client, ids: list[str], catalog_url: str) -> dict[str, Any]:
    """Lost and duplicated jobs, by the API listing and by the catalog's own table."""
    from sqlalchemy import select

    from meshforge.catalog.db import Catalog
    from meshforge.catalog.models import Job

    listing = list_all(client)
    listed_ids = [j["id"] for j in listing]
    states = {j["id"]: j["state"] for j in listing}
    catalog = Catalog(catalog_url)
    try:
        with catalog.session() as session:
            rows = dict(session.execute(select(Job.id, Job.state)).all())
    finally:
        catalog.dispose()
    submitted = set(ids)
    return {
        "submitted": len(ids),
        "duplicate_submitted_ids": len(ids) - len(submitted),
        "listed": len(listed_ids),
        "duplicate_listed_ids": len(listed_ids) - len(set(listed_ids)),
        "lost_in_listing": len(submitted - set(listed_ids)),
        "lost_in_catalog": len(submitted - set(rows)),
        "not_terminal": sum(1 for i in ids if states.get(i) not in TERMINAL),
        "catalog_disagrees": sum(1 for i in ids if rows.get(i) != states.get(i)),
        "states": dict(Counter(states[i] for i in ids if i in states)),
    }


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    procs = max(1, min(doc.get("api_processes", 1), m["cores"]))
    lat = doc["latency"]
    rows = [
        ("POST /v1/jobs, burst", lat["post"]),
        ("GET /v1/jobs/{id}, burst", lat["get"]),
        ("GET /healthz, burst (the floor: no key, no database)", lat["healthz"]),
        ("POST /v1/jobs, sequential", lat["sequential_post"]),
        ("GET /v1/jobs/{id}, sequential", lat["sequential_get"]),
    ]
    lines = [
        f"# `meshforge serve` under {doc['jobs']} concurrent requests",
        "",
        f"Command: `{doc['command']}`  ",
        f"Date: {doc['date']}  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}",
        "",
        f"Setup: `meshforge serve` as a subprocess, embedded (SQLite catalog + local folder under "
        f"MESHFORGE_HOME), {doc.get('api_processes', 1)} API process(es) "
        f"(MESHFORGE_API_PROCESSES), {doc['workers']} worker process(es) (niced, every "
        "thread: MESHFORGE_WORKER_NICE); the client is this script on "
        f"loopback ({CLIENTS[doc['client']].format(n=doc['concurrency'])}). Key made with "
        "`meshforge keys create --rate 0` (rate limit off). Jobs: JSON `{upload_id, thumbnail: "
        f"false}}` on one uploaded 256 px PNG; {WARM_UP} warm-up jobs and GETs (one connection "
        "each) before measuring. Latency: "
        "from writing the request to reading the whole response. Burst: all requests released "
        "at once; sequential: one connection, one request at a time (the service time a burst "
        "queues behind).",
        "",
        "| requests | n | p50 ms | p90 ms | p99 ms | max ms | wall s | req/s | target p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        burst_row = "wall_s" in r and "healthz" not in name  # the target is the jobs API's
        lines.append(
            f"| {name} | {r['n']} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | "
            f"{r['max_ms']} | {r.get('wall_s', '')} | {r.get('per_s', '')} | "
            f"{(f'<= {TARGET_P99_MS:g}') if burst_row else ''} |"
        )
    if lat.get("sweep"):
        lines += [
            "",
            "Smaller bursts (same server, after the main ones; raw client):",
            "",
            "| burst size | POST p50 / p99 ms | GET p50 / p99 ms | POST ms per request | "
            "GET ms per request |",
            "|---:|---:|---:|---:|---:|",
        ]
        for b in lat["sweep"]:
            lines.append(
                f"| {b['requests']} | {b['post']['p50_ms']} / {b['post']['p99_ms']} | "
                f"{b['get']['p50_ms']} / {b['get']['p99_ms']} | "
                f"{b['post']['wall_s'] * 1000 / b['requests']:.1f} | "
                f"{b['get']['wall_s'] * 1000 / b['requests']:.1f} |"
            )
    verdict = doc["verdict"]
    lines += [
        "",
        f"p99 target: POST {'met' if verdict['post_p99_ok'] else 'MISSED'}, "
        f"GET {'met' if verdict['get_p99_ok'] else 'MISSED'}.  ",
        f"Statuses: POST {lat['post']['status']}, GET {lat['get']['status']}; job states seen "
        f"by the GET burst: {lat['get']['job_states_seen']}.  ",
        f"CPU during the bursts: the API process(es) (the workers are others) "
        f"{lat['post']['server_cpu_s']} s for the POSTs ("
        f"{lat['post']['server_cpu_s'] * 1000 / lat['post']['n']:.1f} ms per request), "
        f"{lat['get']['server_cpu_s']} s for the GETs ("
        f"{lat['get']['server_cpu_s'] * 1000 / lat['get']['n']:.1f} ms per request); this "
        f"client, from the release to the last response, {lat['post']['client_cpu_s']} s and "
        f"{lat['get']['client_cpu_s']} s.  ",
        f"The GET burst started once the worker had taken a job of the burst "
        f"({lat['get']['waited_for_worker']['waited_s']} s after the POST burst).  ",
        f"A burst queues behind the API's CPU, spread over {procs} process(es): p99 is about "
        f"burst size x API CPU per request / {procs} (POST "
        f"{lat['post']['server_cpu_s'] / procs:.2f} s against "
        f"{lat['post']['p99_ms'] / 1000:.2f} s measured; GET "
        f"{lat['get']['server_cpu_s'] / procs:.2f} s against "
        f"{lat['get']['p99_ms'] / 1000:.2f} s); {TARGET_P99_MS:g} ms for {lat['post']['n']} "
        f"requests at once needs at most {TARGET_P99_MS * procs / lat['post']['n']:.2f} ms of "
        f"API CPU per request; /healthz alone took "
        f"{lat['healthz']['server_cpu_s'] * 1000 / lat['healthz']['n']:.2f} ms per request "
        f"(p99 {lat['healthz']['p99_ms']} ms for {lat['healthz']['n']} at once).",
        "",
        "## Jobs",
        "",
    ]
    s, a = doc["settle"], doc["audit"]
    lines += [
        "| measure | value |",
        "|---|---:|",
        f"| jobs submitted (burst + sequential + warm-up) | {a['submitted']} |",
        f"| ended within the wait | {s['finished_in_wait']} (waited {s['waited_s']} s, "
        f"max {doc['max_wait_s']} s) |",
        f"| cancelled after the wait | {s['cancel_requests']} |",
        f"| final states | {a['states']} |",
        f"| worker throughput | {doc['throughput_jobs_per_min']} jobs/min |",
        f"| lost (listing / catalog) | {a['lost_in_listing']} / {a['lost_in_catalog']} |",
        f"| duplicate ids (submitted / listed) | {a['duplicate_submitted_ids']} / "
        f"{a['duplicate_listed_ids']} |",
        f"| not terminal at the end | {a['not_terminal']} |",
        f"| listing and catalog disagree | {a['catalog_disagrees']} |",
        f"| SIGTERM to exit | {doc['shutdown_s']} s |",
        "",
        f"Zero lost jobs: {'yes' if verdict['zero_lost'] else 'NO'}.",
    ]
    if doc.get("notes"):
        lines += ["", "## Notes", "", *doc["notes"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--max-wait", type=float, default=600.0, help="Seconds to let jobs end.")
    parser.add_argument("--cancel-wait", type=float, default=120.0)
    parser.add_argument("--workers", type=int, default=None, help="MESHFORGE_WORKERS (default 1).")
    parser.add_argument(
        "--api-processes",
        type=int,
        default=None,
        help="MESHFORGE_API_PROCESSES (default 1: the service's own default).",
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="raw: hand-written HTTP/1.1, one connection per request (default); httpx: one "
        "httpx.AsyncClient with --concurrency connections.",
    )
    parser.add_argument(
        "--sweep",
        default="10,25,50,100",
        help="Smaller bursts after the main ones (comma-separated sizes; '' for none).",
    )
    parser.add_argument("--no-write", action="store_true", help="Print only; write no results.")
    args = parser.parse_args()
    sweep = [int(v) for v in args.sweep.split(",") if v.strip()]

    with tempfile.TemporaryDirectory(prefix="meshforge-load-") as tmp_name:
        tmp = Path(tmp_name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MESHFORGE_")}
        env["MESHFORGE_HOME"] = str(tmp / "home")
        if args.workers is not None:
            env["MESHFORGE_WORKERS"] = str(args.workers)
        if args.api_processes is not None:
            env["MESHFORGE_API_PROCESSES"] = str(args.api_processes)
        catalog_url = f"sqlite:///{tmp / 'home' / 'service' / 'catalog.db'}"
        created = subprocess.run(
            [
                *meshforge_command(),
                "keys",
                "create",
                "load-bench",
                "--rate",
                "0",
                "--max-active-jobs",
                str(max(500, args.jobs + SEQUENTIAL + 10)),
            ],
            env=env,
            capture_output=True,
            check=True,
        )
        key = created.stdout.decode().strip().splitlines()[-1]
        server = Server(env, args.port or free_port(), tmp / "serve.log")
        try:
            server.start()
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
                upload = client.post(
                    "/v1/uploads", files={"file": ("bottle.png", bottle_png(), "image/png")}
                )
                upload.raise_for_status()
                upload_id = upload.json()["id"]
                warm_ids = run_client(warm_up(server, key, upload_id))
                began = time.monotonic()
                latency = run_client(
                    measure(server, key, upload_id, args.jobs, args.concurrency, args.client, sweep)
                )
                ids = [*warm_ids, *latency.pop("ids")]
                print(json.dumps(latency, indent=1), flush=True)
                settled = settle(client, ids, args.max_wait, args.cancel_wait)
                elapsed_min = (time.monotonic() - began) / 60.0
                print(json.dumps(settled, indent=1), flush=True)
                report = audit(client, ids, catalog_url)
                print(json.dumps(report, indent=1), flush=True)
            shutdown_s = server.stop()
        finally:
            server.stop()

    succeeded = report["states"].get("succeeded", 0)
    verdict = {
        "post_p99_ok": latency["post"]["p99_ms"] <= TARGET_P99_MS,
        "get_p99_ok": latency["get"]["p99_ms"] <= TARGET_P99_MS,
        "zero_lost": report["lost_in_listing"] == 0
        and report["lost_in_catalog"] == 0
        and report["duplicate_listed_ids"] == 0
        and report["duplicate_submitted_ids"] == 0
        and report["not_terminal"] == 0
        and report["catalog_disagrees"] == 0,
    }
    command = "python benchmarks/service_load.py " + " ".join(sys.argv[1:])
    doc = {
        "command": command.strip(),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "jobs": args.jobs,
        "concurrency": args.concurrency,
        "client": args.client,
        "workers": args.workers if args.workers is not None else 1,
        "api_processes": args.api_processes if args.api_processes is not None else 1,
        "max_wait_s": args.max_wait,
        "target_p99_ms": TARGET_P99_MS,
        "latency": latency,
        "settle": settled,
        "audit": report,
        "throughput_jobs_per_min": round(succeeded / elapsed_min, 1) if elapsed_min else None,
        "shutdown_s": round(shutdown_s, 2),
        "verdict": verdict,
        "notes": [],
    }
    print(json.dumps(verdict))
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "service_load.json").write_text(json.dumps(doc, indent=1) + "\n")
        (RESULTS / "service_load.md").write_text(markdown(doc))
    if not verdict["zero_lost"]:
        print("jobs were lost or duplicated", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
