"""A key -> bytes store. The catalog records keys; the bytes live here.

Writes are atomic (a temporary key, then a rename on a local folder; a single PUT on object
stores), so a reader never sees half a file and a failed request leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredBlob:
    key: str
    bytes: int
    sha256: str


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"storage: invalid key {key!r}")
    return key


class BlobStore:
    """Blobs under one root URL: a path or ``file://`` URL, ``s3://bucket/prefix``, ``memory://``."""

    def __init__(self, url: str | os.PathLike[str]) -> None:
        text = os.fspath(url)
        self.url = text
        self.local_root: Path | None = None
        if "://" not in text or text.startswith("file://"):
            self.local_root = Path(text.removeprefix("file://")).expanduser().resolve()
            self.local_root.mkdir(parents=True, exist_ok=True)
            self._fs: Any = None
            self._root = str(self.local_root)
        else:
            import fsspec

            # A filesystem of its own: fsspec's instance cache would hand back one made
            # earlier in the process, bound to whatever endpoint and credentials were set then.
            self._fs, root = fsspec.core.url_to_fs(text, skip_instance_cache=True)
            self._root = root.rstrip("/")

    def _path(self, key: str) -> str:
        return f"{self._root}/{_check_key(key)}"

    def local_path(self, key: str) -> Path | None:
        """The file of a key on a local store (for zero-copy responses), else None."""
        return Path(self._path(key)) if self.local_root is not None else None

    def put_stream(
        self, key: str, stream: IO[bytes], *, max_bytes: int | None = None
    ) -> StoredBlob:
        """Copy a stream under ``key`` atomically; ValueError past ``max_bytes`` (nothing kept)."""
        digest = hashlib.sha256()
        total = 0
        with tempfile.NamedTemporaryFile(delete=False, dir=self._tmp_dir()) as tmp:
            try:
                while chunk := stream.read(CHUNK):
                    total += len(chunk)
                    if max_bytes is not None and total > max_bytes:
                        raise ValueError(f"larger than {max_bytes} bytes")
                    digest.update(chunk)
                    tmp.write(chunk)
                tmp.close()
                self._commit(tmp.name, key)
            finally:
                if os.path.exists(tmp.name):
                    os.unlink(tmp.name)
        return StoredBlob(key, total, digest.hexdigest())

    def put_bytes(self, key: str, data: bytes) -> StoredBlob:
        import io

        return self.put_stream(key, io.BytesIO(data))

    def put_file(self, key: str, path: Path) -> StoredBlob:
        with open(path, "rb") as handle:
            return self.put_stream(key, handle)

    def _tmp_dir(self) -> str | None:
        if self.local_root is None:
            return None
        tmp = self.local_root / ".tmp"
        tmp.mkdir(exist_ok=True)
        return str(tmp)

    def _commit(self, tmp_name: str, key: str) -> None:
        target = self._path(key)
        if self._fs is None:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, target)
        else:
            self._fs.put_file(tmp_name, target)

    def open(self, key: str) -> IO[bytes]:
        if self._fs is None:
            return open(self._path(key), "rb")
        handle: IO[bytes] = self._fs.open(self._path(key), "rb")
        return handle

    def read_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start..end`` inclusive, in chunks."""
        with self.open(key) as handle:
            handle.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as handle:
            return handle.read()

    def size(self, key: str) -> int:
        if self._fs is None:
            return os.path.getsize(self._path(key))
        return int(self._fs.size(self._path(key)))

    def exists(self, key: str) -> bool:
        if self._fs is None:
            return os.path.exists(self._path(key))
        return bool(self._fs.exists(self._path(key)))

    def delete(self, key: str) -> None:
        path = self._path(key)
        if self._fs is None:
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.unlink(path)
        elif self._fs.exists(path):
            self._fs.rm(path, recursive=True)

    def ping(self) -> None:
        """Raise when the store cannot be written (readiness probe)."""
        key = f".probe/{uuid.uuid4().hex}"
        self.put_bytes(key, b"ok")
        self.delete(key)


def open_store(url: str | os.PathLike[str]) -> BlobStore:
    return BlobStore(url)
