"""Blob storage over fsspec: a local folder by default, S3 (or any fsspec URL) by configuration."""

from meshforge.storage.blobs import BlobStore, open_store

__all__ = ["BlobStore", "open_store"]
