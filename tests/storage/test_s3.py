"""The blob store on S3, against a local S3-compatible server (moto's), through s3fs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from meshforge.storage.blobs import BlobStore


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from service_harness import start_s3

    endpoint, stop = start_s3(monkeypatch)
    try:
        yield endpoint
    finally:
        stop()


def test_blobs_on_s3(s3_endpoint: str) -> None:
    store = BlobStore("s3://assets/meshforge")
    data = bytes(range(256)) * 4000
    blob = store.put_bytes("assets/a/v1/model.glb", data)
    assert blob.bytes == len(data)
    assert store.size("assets/a/v1/model.glb") == len(data)
    assert b"".join(store.read_range("assets/a/v1/model.glb", 1000, 1999)) == data[1000:2000]
    store.ping()
    store.delete("assets/a/v1/model.glb")
    assert not store.exists("assets/a/v1/model.glb")
    import boto3

    listed = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket="assets")
    assert listed.get("KeyCount", 0) == 0
