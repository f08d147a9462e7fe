"""The whole service on S3 storage (a local S3-compatible server) and PostgreSQL: the upload,
the worker's outputs and the downloads (Range included) all go through the bucket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from service_harness import Service, product_png, start_s3, start_service, stop_service


@pytest.fixture(scope="module")
def s3_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        endpoint, stop_s3 = start_s3(monkeypatch, "meshforge-assets")
        tmp: Path = tmp_path_factory.mktemp("svc-s3")
        service, drop = start_service(
            "postgresql", tmp, monkeypatch, MESHFORGE_STORAGE_URL="s3://meshforge-assets/prod"
        )
        try:
            yield service, endpoint
        finally:
            stop_service(service, drop)
            stop_s3()


def test_a_job_on_s3_storage(s3_service: tuple[Service, str]) -> None:
    service, endpoint = s3_service
    client = service.client()
    response = client.post(
        "/v1/jobs?wait=60",
        files={"image": ("bottle.png", product_png(seed=3), "image/png")},
        data={"formats": "glb", "thumbnail": "false"},
    )
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["state"] == "succeeded", job["error"]

    listed = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket="meshforge-assets")
    keys = {item["Key"]: item["Size"] for item in listed.get("Contents", [])}
    upload_key = f"prod/uploads/{job['inputs'][0]['upload_id']}/bottle.png"
    assert upload_key in keys
    for entry in job["results"]["files"]:
        assert keys[f"prod/{entry['storage_path']}"] == entry["bytes"]
    assert not (service.storage).exists()  # nothing went to the local folder

    glb = next(f for f in job["results"]["files"] if f["kind"] == "glb")
    whole = client.get(glb["url"]).content
    assert whole[:4] == b"glTF" and len(whole) == glb["bytes"]
    part = client.get(glb["url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole[100:200]
    assert service.anonymous().get(glb["signed_url"]).content == whole
