"""The blob store: atomic writes, ranges, size limits, on a local folder and on an fsspec URL."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

from meshforge.storage.blobs import BlobStore


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return BlobStore(tmp_path / "blobs")
    return BlobStore(f"memory://meshforge-test-{uuid.uuid4().hex}")


def test_bytes_round_trip_with_digest(store: BlobStore) -> None:
    blob = store.put_bytes("assets/a/v1/model.glb", b"glTF" + bytes(range(256)) * 10)
    assert blob.bytes == 2564
    import hashlib

    assert blob.sha256 == hashlib.sha256(b"glTF" + bytes(range(256)) * 10).hexdigest()
    assert store.read_bytes("assets/a/v1/model.glb")[:4] == b"glTF"
    assert store.size("assets/a/v1/model.glb") == 2564
    assert store.exists("assets/a/v1/model.glb")


def test_ranges_are_exact_slices(store: BlobStore) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB: more than one read chunk
    store.put_bytes("big.bin", data)
    for start, end in ((0, 0), (10, 99), (1_048_570, 1_048_600), (len(data) - 5, len(data) - 1)):
        assert b"".join(store.read_range("big.bin", start, end)) == data[start : end + 1]


def test_over_the_limit_keeps_nothing(store: BlobStore) -> None:
    with pytest.raises(ValueError, match="larger than 100 bytes"):
        store.put_stream("upload.png", io.BytesIO(b"x" * 101), max_bytes=100)
    assert not store.exists("upload.png")
    if store.local_root is not None:
        assert list((store.local_root / ".tmp").iterdir()) == []


def test_delete_and_unsafe_keys(store: BlobStore) -> None:
    store.put_bytes("a/b.txt", b"1")
    store.delete("a/b.txt")
    assert not store.exists("a/b.txt")
    store.delete("a/b.txt")  # deleting twice is not an error
    for key in ("../escape", "/abs", "a//b", "a/./b", ""):
        with pytest.raises(ValueError, match="invalid key"):
            store.put_bytes(key, b"x")


def test_ping_leaves_no_trace(tmp_path: Path) -> None:
    store = BlobStore(f"file://{tmp_path}")
    store.ping()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
