"""The /v1/jobs API through HTTP against the real app, on SQLite and on PostgreSQL.

Life cycle (multipart, JSON base64, JSON upload id), Server-Sent Events, the synchronous tier,
idempotency, cancel, pagination and filters, authentication and scopes, rate limits and the
active-job quota, and bad requests that must leave nothing half-written.

The service is module-wide with one worker process, so every test starts once the queue is
empty (``quiet_queue``) and cancels the jobs it does not need to finish.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from meshforge.catalog.db import Catalog
from meshforge.catalog.keys import revoke_key
from meshforge.catalog.models import Job, Upload
from meshforge.pipeline import STAGES
from service_harness import Service, product_png

PROBLEM = "application/problem+json"
TERMINAL = ("succeeded", "failed", "canceled")
PNG = product_png()
PNG_SHA = hashlib.sha256(PNG).hexdigest()
FAST = {"thumbnail": "false"}  # most jobs skip the thumbnail render to save time


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def catalog(service: Service) -> Iterator[Catalog]:
    """A direct connection to the service's catalog, to count and inspect rows."""
    opened = Catalog(service.database_url)
    try:
        yield opened
    finally:
        opened.dispose()


def active_jobs(catalog: Catalog) -> int:
    with catalog.session() as session:
        count = session.scalar(
            select(func.count()).select_from(Job).where(Job.state.in_(("queued", "running")))
        )
    return int(count or 0)


@pytest.fixture(autouse=True)
def quiet_queue(catalog: Catalog) -> None:
    """Start each test with no job queued or running (one worker serves the whole module)."""
    deadline = time.monotonic() + 60
    while active_jobs(catalog):
        assert time.monotonic() < deadline, "jobs of an earlier test are still active"
        time.sleep(0.05)


def row_counts(catalog: Catalog) -> tuple[int, int]:
    """(jobs, uploads) rows in the catalog."""
    with catalog.session() as session:
        jobs = session.scalar(select(func.count()).select_from(Job))
        uploads = session.scalar(select(func.count()).select_from(Upload))
    return int(jobs or 0), int(uploads or 0)


def stored_files(storage: Path, under: str = "") -> set[str]:
    """Every file in the blob store (or under one of its folders), as storage paths."""
    return {p.relative_to(storage).as_posix() for p in (storage / under).rglob("*") if p.is_file()}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 document with this status and code; the document."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:meshforge:problem:{code}", body
    assert body["code"] == code
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def submit(
    client: httpx.Client,
    image: bytes = PNG,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> httpx.Response:
    """POST /v1/jobs as multipart with one image part and ``fields`` as form fields."""
    return client.post(
        "/v1/jobs",
        files={"image": ("bottle.png", image, "image/png")},
        data={**FAST, **fields},
        params=params,
        headers=headers,
    )


def submit_id(client: httpx.Client, **fields: str) -> str:
    response = submit(client, **fields)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def read_events(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    """Every Server-Sent Event of the job's stream, until the server ends it."""
    events: list[dict[str, Any]] = []
    with client.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if not line:
                if fields:
                    events.append(
                        {
                            "id": int(fields["id"]),
                            "event": fields["event"],
                            "data": json.loads(fields["data"]),
                        }
                    )
                fields = {}
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
    assert not fields, f"the stream ended inside an event: {fields}"
    return events


def finish(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """Wait for the job's end through its event stream (one request, not a poll loop), then
    its document."""
    events = read_events(client, job_id)
    assert events[-1]["event"] == "end"
    response = client.get(f"/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    assert job["state"] == events[-1]["data"]["state"]
    return job


def wait_until_running(client: httpx.Client, job_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(f"/v1/jobs/{job_id}").json()["state"]
        if state == "running":
            return
        assert state == "queued", f"job {job_id} is {state}, never seen running"
        assert time.monotonic() < deadline, f"job {job_id} did not start in {timeout} s"
        time.sleep(0.02)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def stamp(iso: str | None) -> float:
    assert iso is not None
    return datetime.fromisoformat(iso).timestamp()


def glb_bounds(data: bytes) -> tuple[list[float], list[float]]:
    """The (min, max) corners of a GLB's vertex positions, read from its JSON chunk."""
    assert data[:4] == b"glTF" and data[16:20] == b"JSON"
    length = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + length])
    assert all(set(node) <= {"name", "mesh", "children"} for node in document["nodes"])
    accessors = [
        document["accessors"][primitive["attributes"]["POSITION"]]
        for mesh in document["meshes"]
        for primitive in mesh["primitives"]
    ]
    low = [min(a["min"][axis] for a in accessors) for axis in range(3)]
    high = [max(a["max"][axis] for a in accessors) for axis in range(3)]
    return low, high


def new_client(service: Service, name: str, **limits: Any) -> tuple[httpx.Client, Any]:
    """A client with a fresh read+write key (its own jobs, rate bucket and quota)."""
    key = service.create_key(name, **limits)
    return service.client(key.secret), key


# ----------------------------------------------------------------------------- life cycle


def check_succeeded(service: Service, client: httpx.Client, job: dict[str, Any]) -> None:
    """A succeeded job's numbers, timings and downloadable results."""
    assert job["state"] == "succeeded", job["error"]
    assert job["progress"] == 1.0
    assert job["stage"] is None
    assert job["error"] is None
    assert job["attempts"] == 1
    assert job["cancel_requested"] is False
    created, started, finished = (
        stamp(job[k]) for k in ("created_at", "started_at", "finished_at")
    )
    assert created <= started <= finished
    files = job["results"]["files"]
    rendered = any(f["kind"] == "thumbnail" for f in files)
    stages = [name for name, _ in STAGES if name != "render" or rendered]
    timings = job["timings"]
    assert set(timings) == {*stages, "total", "job_total"}
    assert all(timings[name] >= 0 for name in stages)
    assert sum(timings[name] for name in stages) <= timings["total"] + 0.001
    assert 0 < timings["total"] <= timings["job_total"] <= finished - started + 0.01
    for warning in job["warnings"]:
        assert {"code", "stage", "message"} <= set(warning)
        assert "meshforge-job-" not in warning["message"]  # no worker paths in the API
    assert job["asset_id"].startswith("ast_") and job["asset_version"] == 1
    base = service.base_url
    assert job["links"] == {
        "self": f"{base}/v1/jobs/{job['id']}",
        "events": f"{base}/v1/jobs/{job['id']}/events",
        "cancel": f"{base}/v1/jobs/{job['id']}/cancel",
        "asset": f"{base}/v1/assets/{job['asset_id']}",
    }
    assert files
    anonymous = service.anonymous()
    for entry in files:
        assert entry["url"] == f"{base}/v1/files/{entry['id']}"
        assert entry["storage_path"].startswith(f"assets/{job['asset_id']}/v1/")
        body = client.get(entry["url"])
        assert body.status_code == 200, body.text
        assert len(body.content) == entry["bytes"] > 0
        assert hashlib.sha256(body.content).hexdigest() == entry["sha256"]
        assert body.headers["content-type"].startswith(entry["content_type"])
        assert anonymous.get(entry["url"]).status_code == 401
        signed = anonymous.get(entry["signed_url"])
        assert signed.status_code == 200 and signed.content == body.content
        assert stamp(entry["signed_url_expires_at"]) > time.time() + 3000
        assert (service.storage / entry["storage_path"]).is_file()


def test_multipart_job_life_cycle_with_events(service: Service) -> None:
    client, _ = new_client(service, "life-multipart")
    before = time.time()
    response = client.post(
        "/v1/jobs",
        files={"image": ("my bottle.png", PNG, "image/png")},
        data={"formats": "glb,stl", "height": "0.3", "metadata": '{"sku": "A-1", "n": 2}'},
    )
    assert response.status_code == 202, response.text
    job = response.json()
    job_id = job["id"]
    assert job_id.startswith("job_")
    assert response.headers["location"] == f"/v1/jobs/{job_id}"
    assert "idempotent-replayed" not in response.headers
    assert job["state"] == "queued" and job["progress"] == 0.0
    assert job["started_at"] is None and job["finished_at"] is None
    assert before - 1 <= stamp(job["created_at"]) <= time.time() + 1
    assert job["results"] == {"files": []} and job["asset_id"] is None
    assert job["options"] == {"formats": ["glb", "stl"], "height": 0.3}
    assert job["metadata"] == {"sku": "A-1", "n": 2}
    assert job["inputs"] == [
        {
            "kind": "upload",
            "upload_id": job["inputs"][0]["upload_id"],
            "filename": "my_bottle.png",
            "sha256": PNG_SHA,
        }
    ]

    events = read_events(client, job_id)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert [e["event"] for e in events] == ["progress"] * (len(events) - 1) + ["end"]
    assert all(e["data"]["id"] == job_id for e in events)
    states = [e["data"]["state"] for e in events]
    distinct = [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]
    assert distinct in (["queued", "running", "succeeded"], ["running", "succeeded"]), states
    progress = [e["data"]["progress"] for e in events]
    assert progress == sorted(progress), progress
    assert all(0.0 <= p <= 1.0 for p in progress)
    assert events[-1]["data"] == {
        "id": job_id,
        "state": "succeeded",
        "progress": 1.0,
        "stage": None,
    }
    running = [e["data"] for e in events if e["data"]["state"] == "running"]
    assert len({d["progress"] for d in running}) >= 2  # progress moved while it ran
    stages = [d["stage"] for d in running if d["stage"] is not None]
    assert stages, running
    order = [name for name, _ in STAGES]
    assert [order.index(s) for s in stages] == sorted(order.index(s) for s in stages)

    done = client.get(f"/v1/jobs/{job_id}").json()
    check_succeeded(service, client, done)
    kinds = sorted(f["kind"] for f in done["results"]["files"])
    assert kinds == ["glb", "report", "stl", "thumbnail"]
    glb = next(f for f in done["results"]["files"] if f["kind"] == "glb")
    low, high = glb_bounds(client.get(glb["url"]).content)
    assert high[1] - low[1] == pytest.approx(0.3, abs=1e-5)  # the height asked for, in metres
    assert low[1] == pytest.approx(0.0, abs=1e-6)  # standing on the ground
    codes = {w["code"] for w in done["warnings"]}
    assert "default-size" not in codes and "small-image" in codes
    small = next(w for w in done["warnings"] if w["code"] == "small-image")
    assert small["message"].startswith("my_bottle.png is only 256x256 px")
    assert done["metadata"] == {"sku": "A-1", "n": 2}
    assert done["webhooks"] == []

    # Following an ended job gives just its end event.
    again = read_events(client, job_id)
    assert len(again) == 1 and again[0]["event"] == "end" and again[0]["id"] == 1
    assert again[0]["data"]["state"] == "succeeded"
    listed = service.client().get("/v1/jobs", params={"limit": 100}).json()["data"]
    assert job_id in [j["id"] for j in listed]


def test_json_base64_job(service: Service) -> None:
    client, _ = new_client(service, "life-base64")
    image = product_png(seed=3)
    response = client.post(
        "/v1/jobs",
        json={
            "image_base64": b64(image),
            "formats": ["glb"],
            "thumbnail": False,
            "width": 0.1,
            "metadata": {"from": "json"},
        },
    )
    assert response.status_code == 202, response.text
    job = finish(client, response.json()["id"])
    check_succeeded(service, client, job)
    assert job["options"] == {"width": 0.1, "thumbnail": False}
    assert job["inputs"][0]["sha256"] == hashlib.sha256(image).hexdigest()
    assert job["inputs"][0]["filename"] == "image.png"
    assert sorted(f["kind"] for f in job["results"]["files"]) == ["glb", "report"]
    assert job["metadata"] == {"from": "json"}
    glb = next(f for f in job["results"]["files"] if f["kind"] == "glb")
    low, high = glb_bounds(client.get(glb["url"]).content)
    assert high[0] - low[0] == pytest.approx(0.1, abs=1e-5)  # the width asked for
    assert "default-size" not in {w["code"] for w in job["warnings"]}


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(lambda text: "data:image/png;base64," + text, id="data-url"),
        # What `base64 photo.png` prints: MIME lines of 76 characters.
        pytest.param(lambda text: "\n".join(textwrap.wrap(text, 76)) + "\n", id="mime-lines"),
    ],
)
def test_base64_spellings_are_accepted(service: Service, spelling: Callable[[str], str]) -> None:
    client, _ = new_client(service, "base64-spellings")
    image = product_png(seed=6)
    response = client.post("/v1/jobs", json={"image_base64": spelling(b64(image))})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["inputs"][0]["sha256"] == hashlib.sha256(image).hexdigest()
    assert client.post(f"/v1/jobs/{job['id']}/cancel").status_code in (200, 202)
    assert finish(client, job["id"])["state"] == "canceled"


def test_upload_then_job_by_upload_id(service: Service, catalog: Catalog) -> None:
    client, _ = new_client(service, "life-upload")
    image = product_png(seed=4)
    response = client.post("/v1/uploads", files={"file": ("shelf/bottle.png", image, "image/png")})
    assert response.status_code == 201, response.text
    upload = response.json()
    assert response.headers["location"] == f"/v1/uploads/{upload['id']}"
    assert upload["bytes"] == len(image)
    assert upload["sha256"] == hashlib.sha256(image).hexdigest()
    assert upload["content_type"] == "image/png"
    assert upload["filename"] == "bottle.png"
    assert upload["storage_path"] == f"uploads/{upload['id']}/bottle.png"
    assert (service.storage / upload["storage_path"]).read_bytes() == image
    assert client.get(f"/v1/uploads/{upload['id']}").json() == upload

    jobs_before, uploads_before = row_counts(catalog)
    response = client.post("/v1/jobs", json={"upload_id": upload["id"], "thumbnail": False})
    assert response.status_code == 202, response.text
    job = finish(client, response.json()["id"])
    check_succeeded(service, client, job)
    assert job["inputs"] == [
        {
            "kind": "upload",
            "upload_id": upload["id"],
            "filename": "bottle.png",
            "sha256": upload["sha256"],
        }
    ]
    assert row_counts(catalog) == (jobs_before + 1, uploads_before)  # the upload was reused

    # Another key cannot see or use this upload.
    other, _ = new_client(service, "life-upload-other")
    assert_problem(other.get(f"/v1/uploads/{upload['id']}"), 422, "unknown-upload")
    refused = other.post("/v1/jobs", json={"upload_id": upload["id"]})
    assert_problem(refused, 422, "unknown-upload")
    assert row_counts(catalog) == (jobs_before + 1, uploads_before)


# ----------------------------------------------------------------------------- sync tier


def test_wait_answers_200_with_the_finished_job(service: Service) -> None:
    client, _ = new_client(service, "sync")
    started = time.monotonic()
    response = submit(client, params={"wait": 60})
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    job = response.json()
    check_succeeded(service, client, job)
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert elapsed < 30
    assert elapsed >= job["timings"]["job_total"]
    assert "default-size" in {w["code"] for w in job["warnings"]}  # no size was given


def test_short_wait_answers_202_with_a_job_under_way(service: Service) -> None:
    client, _ = new_client(service, "sync-short")
    started = time.monotonic()
    response = submit(client, params={"wait": 0.01})
    assert time.monotonic() - started < 5
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["state"] in ("queued", "running")
    assert job["finished_at"] is None and job["results"] == {"files": []}
    assert client.post(f"/v1/jobs/{job['id']}/cancel").status_code in (200, 202)
    assert finish(client, job["id"])["state"] == "canceled"
    assert_problem(submit(client, params={"wait": -1}), 422, "invalid-request")


# ----------------------------------------------------------------------------- idempotency


def test_idempotency_key_replays_or_conflicts(service: Service, catalog: Catalog) -> None:
    client, _ = new_client(service, "idem")
    headers = {"Idempotency-Key": "order-42"}
    first = submit(client, headers=headers, height="0.2")
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    job_id = first.json()["id"]
    counts = row_counts(catalog)
    uploads = stored_files(service.storage, "uploads")

    replay = submit(client, headers=headers, height="0.2")
    assert replay.status_code in (200, 202), replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == job_id
    # A replay answers like the first request: 202 while the job is under way, 200 once ended.
    assert replay.status_code == (200 if replay.json()["state"] in TERMINAL else 202)
    assert row_counts(catalog) == counts  # no second job, no second upload

    for image, changed in (
        (product_png(seed=9), {"height": "0.2"}),  # another photo
        (PNG, {"height": "0.25"}),  # other options
        (PNG, {"height": "0.2", "metadata": '{"x": 1}'}),  # other metadata
    ):
        conflict = submit(client, image, headers=headers, **changed)
        body = assert_problem(conflict, 409, "idempotency-key-reused")
        assert body["job_id"] == job_id
        assert "order-42" in body["detail"]
    assert row_counts(catalog) == counts
    assert stored_files(service.storage, "uploads") == uploads  # no image stored for a 409

    # The same Idempotency-Key under another API key is another request.
    other, _ = new_client(service, "idem-other")
    second = submit(other, headers=headers, height="0.2")
    assert second.status_code == 202 and second.json()["id"] != job_id
    assert "idempotent-replayed" not in second.headers

    for cid, client_ in ((job_id, client), (second.json()["id"], other)):
        assert client_.post(f"/v1/jobs/{cid}/cancel").status_code in (200, 202)
        assert finish(client_, cid)["state"] == "canceled"
    ended = submit(client, headers=headers, height="0.2")
    assert ended.status_code == 200
    assert ended.headers["idempotent-replayed"] == "true"
    assert ended.json()["id"] == job_id and ended.json()["state"] == "canceled"


def test_concurrent_replays_make_one_job_and_one_upload(service: Service, catalog: Catalog) -> None:
    client, _ = new_client(service, "idem-race")
    counts = row_counts(catalog)
    uploads = stored_files(service.storage, "uploads")
    gate = threading.Barrier(6)

    def send(_: int) -> httpx.Response:
        gate.wait()
        return submit(client, headers={"Idempotency-Key": "race-1"}, height="0.4")

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(send, range(6)))
    assert all(r.status_code in (200, 202) for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    replayed = [r.headers.get("idempotent-replayed") for r in responses]
    assert replayed.count(None) == 1 and replayed.count("true") == 5
    assert row_counts(catalog) == (counts[0] + 1, counts[1] + 1)
    now_uploads = stored_files(service.storage, "uploads")
    assert len(now_uploads - uploads) == 1 and uploads <= now_uploads
    job_id = responses[0].json()["id"]
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code in (200, 202)
    assert finish(client, job_id)["state"] == "canceled"


# ----------------------------------------------------------------------------- cancel


def test_cancel_queued_running_and_finished_jobs(service: Service) -> None:
    client, _ = new_client(service, "cancel")
    first, second, third = (submit_id(client, name=f"c{i}") for i in range(3))

    # One worker: the third job waits behind the first two.
    queued = client.post(f"/v1/jobs/{third}/cancel")
    assert queued.status_code == 200, queued.text
    view = queued.json()
    assert view["state"] == "canceled" and view["cancel_requested"] is True
    assert view["started_at"] is None and view["finished_at"] is not None
    assert view["progress"] == 0.0

    wait_until_running(client, first)
    running = client.post(f"/v1/jobs/{first}/cancel")
    assert running.status_code == 202, running.text
    assert running.json()["state"] == "running" and running.json()["cancel_requested"] is True
    events = read_events(client, first)
    assert events[-1]["event"] == "end"
    assert events[-1]["data"]["state"] == "canceled"
    ended = client.get(f"/v1/jobs/{first}").json()
    assert ended["state"] == "canceled" and ended["cancel_requested"] is True
    assert ended["progress"] < 1.0
    assert ended["asset_id"] is None and ended["results"] == {"files": []}
    assert ended["error"] is None
    assert stamp(ended["started_at"]) <= stamp(ended["finished_at"])

    done = finish(client, second)
    assert done["state"] == "succeeded"
    for job_id, state in ((second, "succeeded"), (first, "canceled"), (third, "canceled")):
        body = assert_problem(client.post(f"/v1/jobs/{job_id}/cancel"), 409, "job-finished")
        assert state in body["detail"]
        assert client.get(f"/v1/jobs/{job_id}").json()["state"] == state  # unchanged
    assert_problem(client.post("/v1/jobs/job_nope/cancel"), 404, "job-not-found")


# ----------------------------------------------------------------------------- listing


def list_all(client: httpx.Client, **params: Any) -> tuple[list[str], list[int]]:
    """Every listed job id following next_cursor, and the size of each page."""
    ids: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/jobs", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"data", "next_cursor"}
        ids += [j["id"] for j in page["data"]]
        sizes.append(len(page["data"]))
        for item in page["data"]:
            assert "results" not in item and item["links"]["self"].endswith(item["id"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, sizes
        assert len(sizes) < 50, "the cursor never ran out"


def test_pagination_and_filters(service: Service) -> None:
    client, _ = new_client(service, "pages")
    ids: list[str] = []
    marks: list[float] = []  # a moment between each two submissions
    for index in range(5):
        ids.append(submit_id(client, name=f"p{index}"))
        marks.append(time.time())
    for job_id in ids[1:]:
        assert client.post(f"/v1/jobs/{job_id}/cancel").status_code in (200, 202)
    final = {job_id: finish(client, job_id)["state"] for job_id in ids}
    assert final == {ids[0]: "succeeded"} | dict.fromkeys(ids[1:], "canceled")
    newest_first = ids[::-1]

    seen, sizes = list_all(client, limit=2)
    assert seen == newest_first and len(set(seen)) == 5
    assert sizes == [2, 2, 1]
    assert list_all(client, limit=5) == (newest_first, [5])
    assert list_all(client, limit=4) == (newest_first, [4, 1])
    assert list_all(client) == (newest_first, [5])

    assert list_all(client, state="succeeded", limit=2) == ([ids[0]], [1])
    assert list_all(client, state="canceled", limit=2) == (newest_first[:4], [2, 2])
    both = list_all(client, state=["canceled", "succeeded"], limit=3)
    assert both == (newest_first, [3, 2])
    assert list_all(client, state="queued") == ([], [0])
    assert list_all(client, created_after=marks[1], limit=2) == (newest_first[:3], [2, 1])
    assert list_all(client, created_before=marks[1]) == (newest_first[3:], [2])
    window = list_all(client, created_after=marks[0], created_before=marks[3], state="canceled")
    assert window == (ids[3:0:-1], [3])

    # Another key sees none of them; the admin key sees them all.
    other, _ = new_client(service, "pages-other")
    assert list_all(other) == ([], [0])
    admin_ids, _ = list_all(service.client(), limit=100)
    assert [i for i in admin_ids if i in ids] == newest_first

    assert_problem(client.get("/v1/jobs", params={"state": "lost"}), 422, "invalid-request")
    assert_problem(client.get("/v1/jobs", params={"limit": 0}), 422, "invalid-request")
    assert_problem(client.get("/v1/jobs", params={"limit": 101}), 422, "invalid-request")
    assert_problem(client.get("/v1/jobs", params={"cursor": "@@@"}), 422, "invalid-cursor")
    assert_problem(client.get("/v1/jobs", params={"cursor": "bm9wZQ"}), 422, "invalid-cursor")


# ----------------------------------------------------------------------------- auth


def test_authentication_failures(service: Service, catalog: Catalog) -> None:
    anonymous = service.anonymous()
    counts = row_counts(catalog)
    for method, path in (("GET", "/v1/jobs"), ("GET", "/v1/jobs/job_x"), ("POST", "/v1/jobs")):
        body = assert_problem(anonymous.request(method, path), 401, "missing-api-key")
        assert body["title"] == "Unauthorized"
    missing = anonymous.post("/v1/jobs", files={"image": ("b.png", PNG, "image/png")})
    assert_problem(missing, 401, "missing-api-key")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_problem(
        anonymous.get("/v1/jobs", headers={"Authorization": "Basic dXNlcjpwYXNz"}),
        401,
        "missing-api-key",
    )

    unknown = service.client("mf_not-a-key")
    response = unknown.get("/v1/jobs")
    assert_problem(response, 401, "invalid-api-key")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_problem(submit(unknown), 401, "invalid-api-key")

    key = service.create_key("to-revoke")
    doomed = service.client(key.secret)
    assert doomed.get("/v1/jobs").status_code == 200
    assert revoke_key(catalog, key.id) is True
    assert_problem(doomed.get("/v1/jobs"), 401, "invalid-api-key")
    assert_problem(submit(doomed), 401, "invalid-api-key")
    assert revoke_key(catalog, key.id) is False  # already revoked

    reader = service.create_key("reader", ("read",))
    read_only = service.client(reader.secret)
    assert read_only.get("/v1/jobs").json() == {"data": [], "next_cursor": None}
    body = assert_problem(submit(read_only), 403, "insufficient-scope")
    assert "'write'" in body["detail"]
    upload = read_only.post("/v1/uploads", files={"file": ("b.png", PNG, "image/png")})
    assert_problem(upload, 403, "insufficient-scope")
    assert row_counts(catalog) == counts  # refused requests wrote nothing

    # X-API-Key (and API-KEY) work as well as Authorization: Bearer.
    for header in ("X-API-Key", "API-KEY"):
        response = anonymous.get("/v1/jobs", headers={header: reader.secret})
        assert response.status_code == 200, response.text
    assert_problem(anonymous.get("/v1/jobs", headers={"X-API-Key": "mf_x"}), 401, "invalid-api-key")


def test_another_keys_job_is_not_found(service: Service) -> None:
    owner, _ = new_client(service, "owner")
    stranger, _ = new_client(service, "stranger")
    job_id = submit_id(owner)
    for response in (
        stranger.get(f"/v1/jobs/{job_id}"),
        stranger.get(f"/v1/jobs/{job_id}/events"),
        stranger.post(f"/v1/jobs/{job_id}/cancel"),
    ):
        body = assert_problem(response, 404, "job-not-found")
        assert job_id in body["detail"]
    assert owner.get(f"/v1/jobs/{job_id}").json()["state"] in ("queued", "running")
    assert service.client().get(f"/v1/jobs/{job_id}").status_code == 200  # admin sees all
    assert list_all(stranger) == ([], [0])
    assert owner.post(f"/v1/jobs/{job_id}/cancel").status_code in (200, 202)
    assert finish(owner, job_id)["state"] == "canceled"


# ----------------------------------------------------------------------------- limits


def test_a_keys_own_rate_limit(service: Service) -> None:
    client, _ = new_client(service, "slow", rate_per_minute=60)
    burst = 10  # ten seconds of the key's rate (60/min), not the service-wide burst of 100
    responses: list[httpx.Response] = []
    started = time.monotonic()
    while len(responses) < 3 * burst and not any(r.status_code == 429 for r in responses):
        path = "/v1/jobs" if len(responses) % 2 else "/v1/jobs/job_x"  # every route counts
        responses.append(client.get(path))
    elapsed = time.monotonic() - started
    statuses = [r.status_code for r in responses]
    assert statuses[-1] == 429, statuses
    refused = len(responses) - 1
    assert set(statuses[:refused]) <= {200, 404}
    assert burst <= refused <= burst + math.ceil(elapsed)  # plus one token per second
    body = assert_problem(responses[-1], 429, "rate-limited")
    assert responses[-1].headers["retry-after"] == "1"  # a token a second: < 1 s to wait
    assert "retry in 1 s" in body["detail"]
    assert service.client().get("/v1/jobs").status_code == 200  # other keys are unaffected
    time.sleep(1.0)
    assert client.get("/v1/jobs").status_code == 200  # waiting Retry-After is enough

    # Six a minute: a burst of one, then ten seconds between requests.
    rare, _ = new_client(service, "rare", rate_per_minute=6)
    assert rare.get("/v1/jobs").status_code == 200
    response = rare.get("/v1/jobs")
    assert_problem(response, 429, "rate-limited")
    assert response.headers["retry-after"] == "10"
    assert_problem(rare.post("/v1/jobs/job_x/cancel"), 429, "rate-limited")  # costs nothing
    assert rare.get("/v1/jobs").headers["retry-after"] == "10"


def test_active_job_quota(service: Service, catalog: Catalog) -> None:
    client, _ = new_client(service, "quota", max_active_jobs=1)
    first = submit(client, headers={"Idempotency-Key": "q1"})
    assert first.status_code == 202, first.text
    first_id = first.json()["id"]
    counts = row_counts(catalog)
    uploads = stored_files(service.storage, "uploads")  # the job may store its results

    response = submit(client, image=product_png(seed=5))
    body = assert_problem(response, 429, "too-many-active-jobs")
    assert response.headers["retry-after"] == "5"
    assert "limit 1" in body["detail"] and "has 1 jobs" in body["detail"]
    json_refused = client.post("/v1/jobs", json={"image_base64": base64.b64encode(PNG).decode()})
    assert_problem(json_refused, 429, "too-many-active-jobs")
    assert row_counts(catalog) == counts  # the refused images were not stored
    assert stored_files(service.storage, "uploads") == uploads

    replay = submit(client, headers={"Idempotency-Key": "q1"})  # a replay is not a new job
    assert replay.status_code in (200, 202) and replay.json()["id"] == first_id
    assert replay.headers["idempotent-replayed"] == "true"

    assert client.post(f"/v1/jobs/{first_id}/cancel").status_code in (200, 202)
    assert finish(client, first_id)["state"] == "canceled"
    again = submit(client)  # the slot is free again
    assert again.status_code == 202, again.text
    assert client.post(f"/v1/jobs/{again.json()['id']}/cancel").status_code in (200, 202)
    assert finish(client, again.json()["id"])["state"] == "canceled"


# ----------------------------------------------------------------------------- bad requests


def big_body(megabytes: int) -> Iterator[bytes]:
    chunk = bytes(1 << 20)  # one MiB, sent again and again: nothing big is allocated
    for _ in range(megabytes):
        yield chunk


Request = Callable[[httpx.Client], httpx.Response]
NOT_AN_IMAGE = b"hello, this is a text file and not a photo\n" * 10
BAD_REQUESTS: list[tuple[str, Request, int, str]] = [
    (
        "multipart-without-image",
        lambda c: c.post("/v1/jobs", files={"height": (None, "0.3")}),
        422,
        "missing-input",
    ),
    (
        "json-without-input",
        lambda c: c.post("/v1/jobs", json={"height": 0.3}),
        422,
        "missing-input",
    ),
    ("json-empty", lambda c: c.post("/v1/jobs", json={}), 422, "missing-input"),
    (
        "not-an-image",
        lambda c: submit(c, image=NOT_AN_IMAGE),
        415,
        "not-an-image",
    ),
    (
        "base64-not-an-image",
        lambda c: c.post("/v1/jobs", json={"image_base64": b64(NOT_AN_IMAGE)}),
        415,
        "not-an-image",
    ),
    ("empty-image", lambda c: submit(c, image=b""), 422, "empty-image"),
    (
        "valid-then-invalid-image",
        lambda c: c.post(
            "/v1/jobs",
            files=[
                ("image", ("a.png", PNG, "image/png")),
                ("image", ("b.png", NOT_AN_IMAGE, "image/png")),
            ],
        ),
        415,
        "not-an-image",
    ),
    (
        "200-MB-body",
        lambda c: c.post(
            "/v1/jobs",
            content=big_body(200),
            headers={
                "Content-Type": "multipart/form-data; boundary=xyz",
                "Content-Length": str(200 << 20),
            },
        ),
        413,
        "request-too-large",
    ),
    (
        "200-MB-upload",
        lambda c: c.post(
            "/v1/uploads",
            content=big_body(200),
            headers={
                "Content-Type": "multipart/form-data; boundary=xyz",
                "Content-Length": str(200 << 20),
            },
        ),
        413,
        "request-too-large",
    ),
    ("unknown-form-field", lambda c: submit(c, colour="red"), 422, "invalid-options"),
    (
        "unknown-json-key",
        lambda c: c.post("/v1/jobs", json={"image_base64": b64(PNG), "colour": "red"}),
        422,
        "invalid-options",
    ),
    ("height-not-a-number", lambda c: submit(c, height="tall"), 422, "invalid-options"),
    ("negative-height", lambda c: submit(c, height="-1"), 422, "invalid-options"),
    ("thumbnail-not-a-bool", lambda c: submit(c, thumbnail="maybe"), 422, "invalid-options"),
    ("unknown-format", lambda c: submit(c, formats="glb,fbx9"), 422, "invalid-options"),
    ("bad-name", lambda c: submit(c, name="../etc/passwd"), 422, "invalid-options"),
    (
        "json-wrong-type",
        lambda c: c.post("/v1/jobs", json={"image_base64": b64(PNG), "target_faces": "many"}),
        422,
        "invalid-options",
    ),
    ("unknown-engine", lambda c: submit(c, engine="warp-drive"), 422, "recipe"),
    ("unknown-profile", lambda c: submit(c, profile="no-such-store"), 422, "unknown-profile"),
    ("profile-path", lambda c: submit(c, profile="/etc/some.yaml"), 422, "unknown-profile"),
    (
        "unknown-engine-option",
        lambda c: submit(c, engine_options='{"hyperdrive": 1}'),
        422,
        "recipe",
    ),
    (
        "engine-options-not-json",
        lambda c: submit(c, engine_options="{hyperdrive"),
        422,
        "invalid-request",
    ),
    (
        "prompt-with-silhouette",
        lambda c: c.post("/v1/jobs", json={"prompt": "a green glass bottle"}),
        422,
        "prompt-not-supported",
    ),
    (
        "bad-base64",
        lambda c: c.post("/v1/jobs", json={"image_base64": "not base64!!"}),
        422,
        "invalid-base64",
    ),
    (
        "two-inputs",
        lambda c: c.post("/v1/jobs", json={"image_base64": b64(PNG), "upload_id": "upl_x"}),
        422,
        "too-many-inputs",
    ),
    (
        "unknown-upload",
        lambda c: c.post("/v1/jobs", json={"upload_id": "upl_x"}),
        422,
        "unknown-upload",
    ),
    (
        "private-webhook-url",
        lambda c: submit(c, webhook_url="http://10.1.2.3/hook"),
        422,
        "webhook-url-refused",
    ),
    (
        "not-json",
        lambda c: c.post(
            "/v1/jobs", content=b"{oops", headers={"Content-Type": "application/json"}
        ),
        400,
        "invalid-json",
    ),
    ("json-array", lambda c: c.post("/v1/jobs", json=[b64(PNG)]), 422, "invalid-request"),
    (
        "text-body",
        lambda c: c.post("/v1/jobs", content=b"hello", headers={"Content-Type": "text/plain"}),
        415,
        "unsupported-media-type",
    ),
    (
        "file-part-not-named-image",
        lambda c: c.post("/v1/jobs", files={"photo": ("b.png", PNG, "image/png")}),
        422,
        "unknown-field",
    ),
    (
        "upload-without-file",
        lambda c: c.post("/v1/uploads", files={"name": (None, "x")}),
        422,
        "missing-file",
    ),
    (
        "upload-not-an-image",
        lambda c: c.post("/v1/uploads", files={"file": ("a.png", NOT_AN_IMAGE, "image/png")}),
        415,
        "not-an-image",
    ),
    (
        "upload-not-multipart",
        lambda c: c.post("/v1/uploads", content=PNG, headers={"Content-Type": "image/png"}),
        415,
        "unsupported-media-type",
    ),
]


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [pytest.param(send, status, code, id=name) for name, send, status, code in BAD_REQUESTS],
)
def test_bad_request_leaves_nothing_behind(
    service: Service, catalog: Catalog, send: Request, status: int, code: str
) -> None:
    client = service.client()
    counts = row_counts(catalog)
    files = stored_files(service.storage)
    started = time.monotonic()
    body = assert_problem(send(client), status, code)
    assert time.monotonic() - started < 10
    assert body["instance"] in ("/v1/jobs", "/v1/uploads")
    assert row_counts(catalog) == counts
    assert stored_files(service.storage) == files
    assert client.get("/healthz").json() == {"status": "ok"}  # the service still answers


def test_bad_requests_say_what_is_wrong(service: Service) -> None:
    client = service.client()
    body = assert_problem(submit(client, colour="red"), 422, "invalid-options")
    assert [e["loc"] for e in body["errors"]] == [["colour"]]
    assert body["errors"][0]["type"] == "extra_forbidden"
    body = assert_problem(submit(client, height="tall"), 422, "invalid-options")
    assert [e["loc"] for e in body["errors"]] == [["height"]]
    assert body["detail"].startswith("height:")
    body = assert_problem(submit(client, engine="warp-drive"), 422, "recipe")
    assert body["stage"] == "engine" and "warp-drive" in body["detail"]
    assert "silhouette" in body["hint"]
    body = assert_problem(submit(client, profile="no-such-store"), 422, "unknown-profile")
    assert "shopify" in body["detail"]
    body = assert_problem(submit(client, engine_options='{"hyperdrive": 1}'), 422, "recipe")
    assert "hyperdrive" in body["detail"]
    big = client.post(
        "/v1/jobs",
        content=big_body(200),
        headers={
            "Content-Type": "multipart/form-data; boundary=xyz",
            "Content-Length": str(200 << 20),
        },
    )
    body = assert_problem(big, 413, "request-too-large")
    assert str(200 << 20) in body["detail"] and str(110 * 1024 * 1024) in body["detail"]
