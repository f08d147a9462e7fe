"""Assets, versions and file downloads (ETag, Range, signed URLs), the features compatibility
endpoint, the OpenAPI document and the operations endpoints, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from local_http import LocalServer

from meshforge.catalog.db import Catalog, upgrade_database
from meshforge.catalog.models import Job, new_id
from meshforge.service.metrics import CatalogCollector
from meshforge.service.signatures import sign_path
from service_harness import Service, product_png

PROBLEM = "application/problem+json"


def submit(service: Service, seed: int = 0, **fields: str) -> dict[str, Any]:
    """A job from ``product_png(seed=seed)``, waited for; its final document."""
    response = service.client().post(
        "/v1/jobs",
        files={"image": ("bottle.png", product_png(seed=seed), "image/png")},
        data={"thumbnail": "false", **fields},
    )
    assert response.status_code == 202, response.text
    job = service.wait_for(response.json()["id"])
    assert job["state"] == "succeeded", job["error"]
    return job


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:meshforge:problem:{code}"
    return dict(body)


@pytest.fixture(scope="module")
def job(service: Service) -> dict[str, Any]:
    """A succeeded job with a GLB and an STL (no thumbnail)."""
    return submit(service, formats="glb,stl", metadata='{"sku": "ASSET-1"}')


@pytest.fixture(scope="module")
def glb(job: dict[str, Any]) -> dict[str, Any]:
    return dict(next(f for f in job["results"]["files"] if f["kind"] == "glb"))


@pytest.fixture(scope="module")
def glb_bytes(service: Service, glb: dict[str, Any]) -> bytes:
    response = service.client().get(glb["url"])
    assert response.status_code == 200
    return response.content


# --- assets and versions ------------------------------------------------------------------------


def test_an_asset_lists_its_version_and_files(service: Service, job: dict[str, Any]) -> None:
    client = service.client()
    asset_id = job["asset_id"]
    assert asset_id and job["asset_version"] == 1

    asset = client.get(f"/v1/assets/{asset_id}")
    assert asset.status_code == 200, asset.text
    doc = asset.json()
    assert doc["id"] == asset_id
    assert doc["latest_version"] == 1
    assert doc["name"] == asset_id  # no name option: the asset id names it
    assert [v["version"] for v in doc["versions"]] == [1]
    assert doc["versions"][0]["job_id"] == job["id"]
    assert doc["versions"][0]["links"]["self"] == (
        f"{service.base_url}/v1/assets/{asset_id}/versions/1"
    )

    versions = client.get(f"/v1/assets/{asset_id}/versions")
    assert versions.status_code == 200
    assert versions.json()["data"] == doc["versions"]

    version = client.get(f"/v1/assets/{asset_id}/versions/1").json()
    assert version["version"] == 1 and version["job_id"] == job["id"]
    assert version["lineage"]["job_id"] == job["id"]
    assert version["lineage"]["options"]["formats"] == ["glb", "stl"]
    files = {f["name"]: f for f in version["files"]}
    assert {f["kind"] for f in files.values()} == {"glb", "stl", "report"}
    assert sorted(files) == sorted(f["name"] for f in job["results"]["files"])
    assert files[f"{asset_id}.glb"]["content_type"] == "model/gltf-binary"
    assert files[f"{asset_id}.stl"]["content_type"] == "model/stl"

    for name, entry in files.items():
        assert entry["storage_path"] == f"assets/{asset_id}/v1/{name}"
        by_id = client.get(entry["url"])
        by_name = client.get(f"/v1/assets/{asset_id}/versions/1/files/{name}")
        assert by_id.status_code == by_name.status_code == 200
        assert by_id.content == by_name.content
        assert len(by_id.content) == entry["bytes"] > 0
        assert hashlib.sha256(by_id.content).hexdigest() == entry["sha256"]
        assert by_id.headers["content-type"].startswith(entry["content_type"])
        assert by_id.headers["content-length"] == str(entry["bytes"])
        assert f'filename="{name}"' in by_id.headers["content-disposition"]
        # the stored blob is the same file
        assert (service.storage / entry["storage_path"]).read_bytes() == by_id.content
    glb_body = client.get(files[f"{asset_id}.glb"]["url"]).content
    assert glb_body[:4] == b"glTF"
    assert client.get(files[f"{asset_id}.stl"]["url"]).content[:5] != b"glTF"


def test_unknown_assets_versions_and_files_are_404(service: Service, job: dict[str, Any]) -> None:
    client = service.client()
    asset_id = job["asset_id"]
    assert_problem(client.get("/v1/assets/ast_missing"), 404, "asset-not-found")
    assert_problem(client.get("/v1/assets/ast_missing/versions"), 404, "asset-not-found")
    assert_problem(client.get(f"/v1/assets/{asset_id}/versions/2"), 404, "version-not-found")
    assert_problem(
        client.get(f"/v1/assets/{asset_id}/versions/1/files/nope.glb"), 404, "file-not-found"
    )
    assert_problem(client.get("/v1/files/fil_missing"), 404, "file-not-found")
    assert_problem(client.post("/v1/files/fil_missing/signed-url"), 404, "file-not-found")


def test_another_key_sees_no_asset_and_no_key_gets_401(
    service: Service, job: dict[str, Any], glb: dict[str, Any]
) -> None:
    other = service.client(service.create_key("stranger", ("read",)).secret)
    asset_id = job["asset_id"]
    assert_problem(other.get(f"/v1/assets/{asset_id}"), 404, "asset-not-found")
    assert_problem(other.get(f"/v1/assets/{asset_id}/versions/1"), 404, "asset-not-found")
    assert_problem(other.get(glb["url"]), 404, "asset-not-found")
    assert_problem(service.anonymous().get(glb["url"]), 401, "missing-api-key")
    assert_problem(service.anonymous().get(f"/v1/assets/{asset_id}"), 401, "missing-api-key")


# --- ETag and Range -----------------------------------------------------------------------------


def test_downloads_carry_the_sha256_as_etag_and_answer_304(
    service: Service, glb: dict[str, Any], glb_bytes: bytes
) -> None:
    client = service.client()
    response = client.get(glb["url"])
    etag = f'"{glb["sha256"]}"'
    assert response.headers["etag"] == etag
    assert hashlib.sha256(response.content).hexdigest() == glb["sha256"]
    assert response.headers["accept-ranges"] == "bytes"

    fresh = client.get(glb["url"], headers={"If-None-Match": etag})
    assert fresh.status_code == 304
    assert fresh.content == b""
    assert fresh.headers["etag"] == etag
    listed = client.get(glb["url"], headers={"If-None-Match": f'"other", {etag}'})
    assert listed.status_code == 304
    weak = client.get(glb["url"], headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304  # If-None-Match compares weakly (RFC 9110 13.1.2)
    assert client.get(glb["url"], headers={"If-None-Match": "*"}).status_code == 304
    stale = client.get(glb["url"], headers={"If-None-Match": '"0000"'})
    assert stale.status_code == 200 and stale.content == glb_bytes


def test_head_answers_the_download_headers_without_a_body(
    service: Service, job: dict[str, Any], glb: dict[str, Any], glb_bytes: bytes
) -> None:
    client = service.client()
    named = f"/v1/assets/{job['asset_id']}/versions/1/files/{glb['name']}"
    for url in (glb["url"], named):
        head = client.head(url)
        assert head.status_code == 200, head.text
        assert head.content == b""
        assert head.headers["content-length"] == str(len(glb_bytes))
        assert head.headers["etag"] == f'"{glb["sha256"]}"'
        assert head.headers["content-type"].startswith("model/gltf-binary")
    ranged = client.head(glb["url"], headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.content == b""
    assert ranged.headers["content-range"] == f"bytes 0-99/{len(glb_bytes)}"
    assert ranged.headers["content-length"] == "100"
    signed = service.anonymous().head(glb["signed_url"])
    assert signed.status_code == 200 and signed.headers["content-length"] == str(len(glb_bytes))
    assert service.anonymous().head(glb["url"]).status_code == 401


def test_byte_ranges(service: Service, glb: dict[str, Any], glb_bytes: bytes) -> None:
    client = service.client()
    size = len(glb_bytes)
    assert size > 200

    first = client.get(glb["url"], headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-99/{size}"
    assert first.headers["content-length"] == "100"
    assert first.content == glb_bytes[:100]
    assert first.headers["etag"] == f'"{glb["sha256"]}"'

    middle = client.get(glb["url"], headers={"Range": "bytes=37-136"})
    assert middle.status_code == 206 and middle.content == glb_bytes[37:137]
    assert middle.headers["content-range"] == f"bytes 37-136/{size}"

    suffix = client.get(glb["url"], headers={"Range": "bytes=-10"})
    assert suffix.status_code == 206
    assert suffix.content == glb_bytes[-10:]
    assert suffix.headers["content-range"] == f"bytes {size - 10}-{size - 1}/{size}"

    open_ended = client.get(glb["url"], headers={"Range": "bytes=100-"})
    assert open_ended.status_code == 206
    assert open_ended.content == glb_bytes[100:]
    assert open_ended.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    assert open_ended.headers["content-length"] == str(size - 100)

    past_end = client.get(glb["url"], headers={"Range": f"bytes={size - 5}-{size + 1000}"})
    assert past_end.status_code == 206 and past_end.content == glb_bytes[-5:]
    assert past_end.headers["content-range"] == f"bytes {size - 5}-{size - 1}/{size}"

    whole_suffix = client.get(glb["url"], headers={"Range": f"bytes=-{size + 50}"})
    assert whole_suffix.status_code == 206 and whole_suffix.content == glb_bytes

    last_byte = client.get(glb["url"], headers={"Range": f"bytes={size - 1}-{size - 1}"})
    assert last_byte.status_code == 206 and last_byte.content == glb_bytes[-1:]

    for wanted in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
        refused = client.get(glb["url"], headers={"Range": wanted})
        body = assert_problem(refused, 416, "range-not-satisfiable")
        assert refused.headers["content-range"] == f"bytes */{size}"
        assert str(size) in body["detail"]

    # An invalid range (last before first) or another unit is ignored: the whole file.
    for ignored in ("bytes=10-5", "items=0-9", "bytes=0-1,5-6"):
        whole = client.get(glb["url"], headers={"Range": ignored})
        assert whole.status_code == 200 and whole.content == glb_bytes, ignored
        assert "content-range" not in whole.headers

    # A range on another representation (If-Range names another ETag): the whole file.
    other = client.get(glb["url"], headers={"Range": "bytes=0-9", "If-Range": '"0000"'})
    assert other.status_code == 200 and other.content == glb_bytes
    same = client.get(glb["url"], headers={"Range": "bytes=0-9", "If-Range": f'"{glb["sha256"]}"'})
    assert same.status_code == 206 and same.content == glb_bytes[:10]

    # Ranges work through the by-name route too.
    named = client.get(
        f"/v1/assets/{glb['storage_path'].split('/')[1]}/versions/1/files/{glb['name']}",
        headers={"Range": "bytes=0-99"},
    )
    assert named.status_code == 206 and named.content == glb_bytes[:100]


# --- signed URLs --------------------------------------------------------------------------------


def test_signed_urls_need_no_key(service: Service, glb: dict[str, Any], glb_bytes: bytes) -> None:
    anonymous = service.anonymous()
    signed = glb["signed_url"]
    assert signed.startswith(f"{service.base_url}/v1/files/{glb['id']}?expires=")
    response = anonymous.get(signed)
    assert response.status_code == 200, response.text
    assert response.content == glb_bytes
    assert response.headers["etag"] == f'"{glb["sha256"]}"'
    ranged = anonymous.get(signed, headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.content == glb_bytes[:100]
    # the expiry the document announces matches the link's own
    expires = int(re.search(r"expires=(\d+)", signed).group(1))  # type: ignore[union-attr]
    announced = glb["signed_url_expires_at"]
    assert time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(expires)) == announced[:19]
    assert 3500 < expires - time.time() <= 3600


def test_a_tampered_or_expired_signed_url_is_403(service: Service, glb: dict[str, Any]) -> None:
    anonymous = service.anonymous()
    signed = glb["signed_url"]
    stem, signature = signed.rsplit("signature=", 1)
    tampered = stem + "signature=" + ("A" if signature[0] != "A" else "B") + signature[1:]
    body = assert_problem(anonymous.get(tampered), 403, "signed-url-invalid")
    assert "does not match" in body["detail"]

    expires = int(re.search(r"expires=(\d+)", signed).group(1))  # type: ignore[union-attr]
    longer = signed.replace(f"expires={expires}", f"expires={expires + 86400}")
    assert_problem(anonymous.get(longer), 403, "signed-url-invalid")
    assert_problem(anonymous.get(signed.split("&signature=")[0]), 403, "signed-url-invalid")
    assert_problem(
        anonymous.get(f"/v1/files/{glb['id']}?expires=soon&signature=x"), 403, "signed-url-invalid"
    )

    past = int(time.time()) - 60
    query = sign_path(b"test-signing-secret", f"/v1/files/{glb['id']}", past)
    expired = assert_problem(
        anonymous.get(f"/v1/files/{glb['id']}?{query}"), 403, "signed-url-expired"
    )
    assert str(past) in expired["detail"]

    # a valid signature for one file opens no other file
    other = sign_path(b"test-signing-secret", "/v1/files/fil_other", past + 3600)
    assert_problem(anonymous.get(f"/v1/files/{glb['id']}?{other}"), 403, "signed-url-invalid")
    # and a signature made with another secret is refused
    forged = sign_path(b"not-the-secret", f"/v1/files/{glb['id']}", past + 3600)
    assert_problem(anonymous.get(f"/v1/files/{glb['id']}?{forged}"), 403, "signed-url-invalid")


def test_a_fresh_signed_url_with_a_short_ttl(
    service: Service, glb: dict[str, Any], glb_bytes: bytes
) -> None:
    client = service.client()
    before = int(time.time())
    response = client.post(f"/v1/files/{glb['id']}/signed-url", params={"ttl": 5})
    assert response.status_code == 200, response.text
    doc = response.json()
    assert before + 5 <= doc["expires_at"] <= int(time.time()) + 5
    assert doc["url"] == (
        f"{service.base_url}/v1/files/{glb['id']}?"
        + sign_path(b"test-signing-secret", f"/v1/files/{glb['id']}", doc["expires_at"])
    )
    downloaded = service.anonymous().get(doc["url"])
    assert downloaded.status_code == 200 and downloaded.content == glb_bytes

    # a link lives until its expiry second, then says so
    short = client.post(f"/v1/files/{glb['id']}/signed-url", params={"ttl": 1}).json()
    assert service.anonymous().get(short["url"]).status_code in (200, 403)
    time.sleep(max(0.0, short["expires_at"] - time.time()) + 0.05)
    assert_problem(service.anonymous().get(short["url"]), 403, "signed-url-expired")

    assert_problem(
        client.post(f"/v1/files/{glb['id']}/signed-url", params={"ttl": 0}),
        422,
        "invalid-request",
    )
    assert_problem(
        service.anonymous().post(f"/v1/files/{glb['id']}/signed-url"), 401, "missing-api-key"
    )


# --- POST /api/features -------------------------------------------------------------------------


def check_feature_record(
    service: Service, response: httpx.Response, request_body: dict[str, Any]
) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    doc = response.json()
    record = doc["aiRecord"]
    assert re.fullmatch(r"job_[0-9a-f]{20}", record["uuid"])
    assert record["type"] == "IMAGE_3D_GENERATOR"
    assert record["model"] == "silhouette"
    assert record["status"] == "COMPLETED"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["createdAt"])
    assert record["updatedAt"] >= record["createdAt"]
    detail = record["aiRecordDetail"]
    assert detail["promptObject"] == request_body["promptObject"]
    result = detail["resultObject"]
    assert result["error"] is None
    assert result["modelUrl"].endswith(".glb") and result["modelUrl"] in result["files"]
    assert result["thumbnail"] in result["files"]
    for path in result["files"]:
        assert re.fullmatch(r"assets/ast_[0-9a-f]{20}/v1/.+", path)
        assert (service.storage / path).is_file()

    job = service.client().get(f"/v1/jobs/{record['uuid']}").json()
    assert job["state"] == "succeeded"
    assert sorted(f["storage_path"] for f in job["results"]["files"]) == sorted(result["files"])

    model = service.anonymous().get(doc["temporaryUrl"])
    assert model.status_code == 200
    assert model.content[:4] == b"glTF"
    assert model.content == (service.storage / result["modelUrl"]).read_bytes()
    return dict(doc)


def test_features_endpoint_with_an_upload(service: Service) -> None:
    uploaded = service.client().post(
        "/v1/uploads", files={"file": ("photo.png", product_png(seed=3), "image/png")}
    )
    assert uploaded.status_code == 201, uploaded.text
    storage_path = uploaded.json()["storage_path"]
    assert storage_path.startswith("uploads/")
    body = {
        "type": "IMAGE_3D_GENERATOR",
        "model": "silhouette",
        "promptObject": {"imageUrl": storage_path},
    }
    features = service.anonymous()
    response = features.post("/api/features", json=body, headers={"API-KEY": service.key})
    doc = check_feature_record(service, response, body)

    again = features.get(
        f"/api/features/{doc['aiRecord']['uuid']}", headers={"API-KEY": service.key}
    )
    assert again.status_code == 200
    assert again.json()["aiRecord"]["status"] == "COMPLETED"
    assert again.json()["aiRecord"]["aiRecordDetail"]["promptObject"] == {"imageUrl": storage_path}

    assert_problem(features.post("/api/features", json=body), 401, "missing-api-key")
    bad_json = features.post(
        "/api/features",
        content=b"{not json",
        headers={"API-KEY": service.key, "Content-Type": "application/json"},
    )
    assert_problem(bad_json, 400, "invalid-json")
    unknown_engine = features.post(
        "/api/features", json={**body, "model": "no-such-engine"}, headers={"API-KEY": service.key}
    )
    assert unknown_engine.status_code == 422
    assert "no-such-engine" in unknown_engine.json()["detail"]
    reader = service.create_key("features-reader", ("read",)).secret
    assert_problem(
        features.post("/api/features", json=body, headers={"API-KEY": reader}),
        403,
        "insufficient-scope",
    )
    assert_problem(
        features.post(
            "/api/features",
            json={**body, "promptObject": {"imageUrl": "uploads/upl_nope/x.png"}},
            headers={"API-KEY": service.key},
        ),
        422,
        "unknown-upload",
    )
    assert_problem(
        features.post(
            "/api/features", json={**body, "type": "TEXT"}, headers={"API-KEY": service.key}
        ),
        422,
        "invalid-request",
    )


@pytest.fixture
def image_server() -> Iterator[LocalServer]:
    server = LocalServer(files={"/x.png": ("image/png", product_png(seed=4))}).start()
    try:
        yield server
    finally:
        server.stop()


def test_features_endpoint_with_an_image_url(service: Service, image_server: LocalServer) -> None:
    body = {
        "type": "IMAGE_3D_GENERATOR",
        "model": "silhouette",
        "promptObject": {"imageUrl": image_server.url("/x.png")},
    }
    response = service.anonymous().post(
        "/api/features", json=body, headers={"API-KEY": service.key}
    )
    check_feature_record(service, response, body)
    missing = service.anonymous().post(
        "/api/features",
        json={**body, "promptObject": {"imageUrl": image_server.url("/missing.png")}},
        headers={"API-KEY": service.key},
    )
    assert assert_problem(missing, 422, "url-refused")["reason"] == "http-status"


# --- OpenAPI and operations ---------------------------------------------------------------------


def test_openapi_and_docs(service: Service) -> None:
    anonymous = service.anonymous()
    spec = anonymous.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path, method in (
        ("/v1/jobs", "post"),
        ("/v1/jobs", "get"),
        ("/v1/jobs/{job_id}", "get"),
        ("/v1/jobs/{job_id}/cancel", "post"),
        ("/v1/jobs/{job_id}/webhooks/{delivery_id}/redeliver", "post"),
        ("/v1/uploads", "post"),
        ("/v1/assets/{asset_id}", "get"),
        ("/v1/assets/{asset_id}/versions", "get"),
        ("/v1/assets/{asset_id}/versions/{version}", "get"),
        ("/v1/assets/{asset_id}/versions/{version}/files/{name}", "get"),
        ("/v1/files/{file_id}", "get"),
        ("/v1/files/{file_id}/signed-url", "post"),
        ("/api/features", "post"),
    ):
        assert method in paths.get(path, {}), f"{method.upper()} {path} is not in the OpenAPI"
    docs = anonymous.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_health_and_readiness(service: Service) -> None:
    anonymous = service.anonymous()
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "checks": {"catalog": "ok", "storage": "ok", "workers": "ok"},
    }


def metric(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name + (f"{{{wanted}}}" if wanted else "")) + r" ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def stage_counts(text: str) -> dict[str, float]:
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(
            r'^meshforge_stage_seconds_count\{stage="([^"]+)"\} ([0-9.e+-]+)$', text, re.MULTILINE
        )
    }


def test_metrics_count_jobs_and_stages(service: Service) -> None:
    anonymous = service.anonymous()
    before = anonymous.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    succeeded = metric(before.text, "meshforge_jobs", state="succeeded")
    assert succeeded is not None
    for state in ("queued", "running", "failed", "canceled"):
        assert metric(before.text, "meshforge_jobs", state=state) is not None
    assert metric(before.text, "meshforge_queue_depth") is not None
    assert metric(before.text, "meshforge_workers_alive") == 1.0
    stages_before = stage_counts(before.text)

    finished = submit(service, seed=7)

    after = anonymous.get("/metrics").text
    assert metric(after, "meshforge_jobs", state="succeeded") == succeeded + 1
    assert metric(after, "meshforge_queue_depth") == 0.0
    assert metric(after, "meshforge_jobs", state="queued") == 0.0
    stages_after = stage_counts(after)
    assert stages_after, "no meshforge_stage_seconds_count after a job"
    grown = {s for s, n in stages_after.items() if n == stages_before.get(s, 0.0) + 1}
    timed = {s for s, v in finished["timings"].items() if isinstance(v, int | float)}
    assert {"load", "export", "job_total"} <= grown
    assert grown == timed - {"total"}
    unchanged = {s for s, n in stages_after.items() if n == stages_before.get(s, 0.0)}
    assert grown | unchanged == set(stages_after)
    for stage in stages_after:
        total = metric(after, "meshforge_stage_seconds_sum", stage=stage)
        assert total is not None and total >= 0
    assert 'meshforge_http_requests_total{method="GET",route="/metrics",status="200"}' in after


def test_the_stage_summary_counts_a_job_that_commits_late(tmp_path: Path) -> None:
    """A worker stamps finished_at before it commits: a job stamped earlier but committed after
    a scrape already saw a later one is still counted, and every job is counted once."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    upgrade_database(url)
    catalog = Catalog(url)
    collector = CatalogCollector(SimpleNamespace(catalog=catalog, pool=None))

    def finish(seconds_ago: float, load: float) -> None:
        stamp = time.time() - seconds_ago
        with catalog.session() as session:
            session.add(
                Job(
                    id=new_id("job"),
                    state="succeeded",
                    options={},
                    inputs=[],
                    metadata_={},
                    timings={"load": load, "total": 9.0},
                    created_at=stamp - 1,
                    finished_at=stamp,
                )
            )

    def summary() -> dict[str, float]:
        family = next(f for f in collector.collect() if f.name == "meshforge_stage_seconds")
        return {s.name.rsplit("_", 1)[-1]: s.value for s in family.samples}

    try:
        time.sleep(0.05)
        finish(0.0, 1.0)
        assert summary() == {"count": 1, "sum": 1.0}
        finish(0.02, 0.5)  # stamped before the job already counted, committed after it
        assert summary() == {"count": 2, "sum": 1.5}
        assert summary() == {"count": 2, "sum": 1.5}
    finally:
        catalog.dispose()
