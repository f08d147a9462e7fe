"""What this machine can serve at all: the load benchmark's burst against a minimal FastAPI app.

    python benchmarks/service_floor.py [--requests 200] [--rounds 3]

The app (written below, served by uvicorn in a subprocess on 127.0.0.1) does the least a job
submission must: an async route that validates a JSON body with pydantic, looks the API key's
hash up, counts the key's active jobs, inserts the job and commits, on SQLite in WAL mode
through the sqlite3 module, on the event loop; and an async /healthz. The client is
service_load.py's: one hand-written HTTP/1.1 connection per request, all released at once.

It is a yardstick for `meshforge serve` (benchmarks/results/service_load.md): the difference
between the two is meshforge's request path, not the framework, the server or the machine.
Results: benchmarks/results/service_floor.json and service_floor.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import machine
from service_load import (
    RESULTS,
    TARGET_P99_MS,
    burst,
    cpu_seconds,
    free_port,
    percentiles,
    run_client,
)

KEY = "floor-benchmark-key"
QUIET = ("--log-level", "warning")
APP = """
import hashlib, os, sqlite3, time, uuid
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

db = sqlite3.connect(os.environ["FLOOR_DB"], check_same_thread=False, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, key TEXT, state TEXT, body TEXT, at REAL)")
db.execute("CREATE INDEX jobs_key_state ON jobs (key, state)")
db.execute("CREATE TABLE keys (hash TEXT PRIMARY KEY, id TEXT, revoked INTEGER)")
db.execute(
    "INSERT INTO keys VALUES (?, 'key_1', 0)",
    (hashlib.sha256(os.environ["FLOOR_KEY"].encode()).hexdigest(),),
)
app = FastAPI()


class JobBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upload_id: str
    thumbnail: bool = True
    metadata: dict = {}


@app.post("/v1/jobs", status_code=202)
async def submit(body: JobBody, request: Request):
    secret = request.headers.get("authorization", "").removeprefix("Bearer ")
    key = db.execute(
        "SELECT id, revoked FROM keys WHERE hash = ?",
        (hashlib.sha256(secret.encode()).hexdigest(),),
    ).fetchone()
    if key is None or key[1]:
        return JSONResponse({"detail": "unknown key"}, status_code=401)
    job_id = "job_" + uuid.uuid4().hex[:20]
    db.execute("BEGIN IMMEDIATE")
    active = db.execute(
        "SELECT count(*) FROM jobs WHERE key = ? AND state IN ('queued', 'running')", (key[0],)
    ).fetchone()[0]
    db.execute(
        "INSERT INTO jobs VALUES (?, ?, 'queued', ?, ?)",
        (job_id, key[0], body.model_dump_json(), time.time()),
    )
    db.execute("COMMIT")
    return {"id": job_id, "state": "queued", "active_before": active}


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}
"""


async def rounds(port: int, pid: int, count: int, repeat: int) -> list[dict[str, Any]]:
    out = []
    for index in range(repeat):
        row: dict[str, Any] = {"round": index + 1}
        for name, requests in (
            (
                "post",
                [
                    (
                        "POST",
                        "/v1/jobs",
                        {"upload_id": "upl_1", "thumbnail": False, "metadata": {"n": n}},
                    )
                    for n in range(count)
                ],
            ),
            ("healthz", [("GET", "/healthz", None)] * count),
        ):
            before = cpu_seconds(pid)
            latencies, responses, wall, _ = await burst(port, KEY, requests, "raw", count)
            row[name] = {
                **percentiles(latencies),
                "wall_s": round(wall, 3),
                "server_cpu_ms_per_request": round((cpu_seconds(pid) - before) * 1000 / count, 3),
                "status": sorted({r.status_code for r in responses}),
            }
        out.append(row)
    return out


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        f"# The floor: {doc['requests']} requests at once against a minimal FastAPI app",
        "",
        f"Command: `{doc['command']}`  ",
        f"Date: {doc['date']}  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}",
        "",
        "The app is in `benchmarks/service_floor.py`: an async POST /v1/jobs that validates the "
        "body (pydantic), looks the key's hash up, counts the key's active jobs, inserts and "
        "commits (sqlite3, WAL, on the event loop), and an async /healthz; uvicorn, one "
        "process. The client is service_load.py's raw one. Compare with "
        "`service_load.md`, which runs the same bursts against `meshforge serve`.",
        "",
        "| round | POST p50 / p99 ms | POST server CPU ms per request | /healthz p50 / p99 ms | "
        "/healthz server CPU ms per request |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in doc["rounds"]:
        lines.append(
            f"| {r['round']} | {r['post']['p50_ms']} / {r['post']['p99_ms']} | "
            f"{r['post']['server_cpu_ms_per_request']} | {r['healthz']['p50_ms']} / "
            f"{r['healthz']['p99_ms']} | {r['healthz']['server_cpu_ms_per_request']} |"
        )
    best = min(r["post"]["p99_ms"] for r in doc["rounds"])
    worst = max(r["post"]["p99_ms"] for r in doc["rounds"])
    verdict = (
        "a submission that authenticates and writes the catalog can meet it on this machine"
        if best <= TARGET_P99_MS
        else "in this run not even this minimal submission met it"
    )
    lines += ["", f"POST p99 {best}-{worst} ms against the {TARGET_P99_MS:g} ms target: {verdict}."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="Print only; write no results.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meshforge-floor-") as folder:
        Path(folder, "floor_app.py").write_text(APP)
        port = free_port()
        env = {"FLOOR_DB": str(Path(folder, "floor.db")), "FLOOR_KEY": KEY}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "floor_app:app", "--port", str(port), *QUIET],
            cwd=folder,
            env={**os.environ, **env},
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the floor app did not start")
                time.sleep(0.1)
            measured = run_client(rounds(port, server.pid, args.requests, args.rounds))
        finally:
            server.terminate()
            server.wait(10)
    doc = {
        "command": "python benchmarks/service_floor.py",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "requests": args.requests,
        "rounds": measured,
    }
    print(json.dumps(doc["rounds"], indent=1))
    if not args.no_write:
        (RESULTS / "service_floor.json").write_text(json.dumps(doc, indent=2) + "\n")
        (RESULTS / "service_floor.md").write_text(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
