"""The REST service (``meshforge serve``): FastAPI under /v1, an SQLite or PostgreSQL catalog,
blob storage over fsspec, embedded worker processes and signed webhooks.

Imported only by ``meshforge serve`` and the service's tests: ``import meshforge`` never pulls
FastAPI in.
"""
