"""Test harness of the REST service (imported by tests/service/conftest.py and other tests).

A real meshforge service per backend (SQLite and PostgreSQL), served by uvicorn on loopback.

PostgreSQL must be reachable at MESHFORGE_TEST_POSTGRES (default 127.0.0.1:5432, trust auth),
and for the Celery tests Redis at MESHFORGE_TEST_REDIS (default 127.0.0.1:6379) and RabbitMQ at
MESHFORGE_TEST_AMQP (default 127.0.0.1:5672, guest/guest): tests that need one fail, never skip,
when it is not. Each test module gets its own catalog
(a fresh SQLite file or a fresh PostgreSQL database) and its own storage folder.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

POSTGRES_ADMIN = os.environ.get(
    "MESHFORGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BROKERS = {
    "redis": os.environ.get("MESHFORGE_TEST_REDIS", "redis://127.0.0.1:6379"),
    "amqp": os.environ.get("MESHFORGE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//"),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def product_png(size: int = 256, seed: int = 0) -> bytes:
    """A bottle-like RGBA photo on a transparent background (the alpha is the mask, so no
    segmentation model runs); ``seed`` changes the colour so two images differ."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    cx, half_w = size / 2, size * 0.18
    body = (np.abs(xx - cx) < half_w) & (yy > size * 0.25) & (yy < size * 0.9)
    neck = (np.abs(xx - cx) < half_w * 0.4) & (yy > size * 0.1) & (yy <= size * 0.25)
    mask = body | neck
    rgba = np.zeros((size, size, 4), np.uint8)
    colour = rng.integers(40, 220, 3)
    shade = (1.0 - 0.5 * np.abs(xx - cx) / half_w).clip(0.3, 1.0)
    rgba[..., :3] = (colour[None, None, :] * shade[..., None]).astype(np.uint8)
    rgba[..., 3] = np.where(mask, 255, 0)
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, "PNG")
    return out.getvalue()


@dataclass
class Service:
    """One running service: its URL, settings and a key with every scope."""

    backend: str
    base_url: str
    database_url: str
    storage: Path
    key: str
    webhook_secret: str
    env: dict[str, str]
    server: Any = None
    thread: threading.Thread | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, key: str | None = None, **headers: str) -> httpx.Client:
        """An httpx client on the service, sending ``key`` (default: the admin key)."""
        sent = {"Authorization": f"Bearer {key or self.key}", **headers}
        client = httpx.Client(base_url=self.base_url, headers=sent, timeout=60)
        self.clients.append(client)
        return client

    def anonymous(self) -> httpx.Client:
        client = httpx.Client(base_url=self.base_url, timeout=60)
        self.clients.append(client)
        return client

    def create_key(
        self, name: str, scopes: tuple[str, ...] = ("read", "write"), **limits: Any
    ) -> Any:
        from meshforge.catalog.db import Catalog
        from meshforge.catalog.keys import create_key

        catalog = Catalog(self.database_url)
        try:
            return create_key(catalog, name, scopes, **limits)
        finally:
            catalog.dispose()

    def wait_for(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll until the job ends; its final document."""
        client = self.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = client.get(f"/v1/jobs/{job_id}").json()
            if job["state"] in ("succeeded", "failed", "canceled"):
                return dict(job)
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not end within {timeout} s")


def service_env(database_url: str, storage: Path, home: Path, **extra: str) -> dict[str, str]:
    return {
        "MESHFORGE_DATABASE_URL": database_url,
        "MESHFORGE_STORAGE_URL": str(storage),
        "MESHFORGE_HOME": str(home),
        "MESHFORGE_SIGNING_SECRET": "test-signing-secret",
        "MESHFORGE_WORKERS": "1",
        "MESHFORGE_JOB_LEASE_S": "3",
        "MESHFORGE_WEBHOOK_RETRY_SCALE": "0.02",
        "MESHFORGE_WEBHOOK_TIMEOUT_S": "3",
        "MESHFORGE_URL_ALLOWLIST": "127.0.0.1",
        "MESHFORGE_DRAIN_TIMEOUT_S": "30",
        "MESHFORGE_LOG_JSON": "true",
        **extra,
    }


def new_database(backend: str, tmp: Path) -> tuple[str, Any]:
    """A fresh catalog URL and a function that removes it."""
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'catalog.db'}", lambda: None
    import psycopg

    name = f"meshforge_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN} ({error}); the service tests need "
            "it: start it or set MESHFORGE_TEST_POSTGRES",
            pytrace=False,
        )
    url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def queued_job(**fields: Any) -> Any:
    """A queued Job with empty options, inputs and documents; ``fields`` override or add."""
    from meshforge.catalog.models import Job, new_id, now

    values: dict[str, Any] = {
        "id": new_id("job"),
        "state": "queued",
        "options": {},
        "inputs": [],
        "metadata_": {},
        "warnings": [],
        "timings": {},
        "created_at": now(),
        **fields,
    }
    return Job(**values)


@contextmanager
def migrated_catalog(backend: str, tmp: Path) -> Iterator[Any]:
    """A Catalog on a fresh, migrated database, removed afterwards."""
    from meshforge.catalog.db import Catalog, upgrade_database

    url, drop = new_database(backend, tmp)
    upgrade_database(url)
    opened = Catalog(url)
    try:
        yield opened
    finally:
        opened.dispose()
        drop()


def start_service(
    backend: str, tmp: Path, monkeypatch: pytest.MonkeyPatch, **extra: str
) -> tuple[Service, Any]:
    import uvicorn

    from meshforge.catalog.db import Catalog, upgrade_database
    from meshforge.catalog.keys import create_key
    from meshforge.service.app import create_app
    from meshforge.service.settings import ServiceSettings

    database_url, drop = new_database(backend, tmp)
    storage = tmp / "storage"
    env = service_env(database_url, storage, tmp / "home", **extra)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    upgrade_database(database_url)
    catalog = Catalog(database_url)
    admin = create_key(catalog, "tests", ("read", "write", "admin"))
    catalog.dispose()
    port = free_port()
    config = uvicorn.Config(
        create_app(ServiceSettings()), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    service = Service(
        backend,
        f"http://127.0.0.1:{port}",
        database_url,
        storage,
        admin.secret,
        admin.webhook_secret,
        env,
        server,
        thread,
    )
    return service, drop


def stop_service(service: Service, drop: Any) -> None:
    for client in service.clients:
        client.close()
    service.server.should_exit = True
    if service.thread is not None:
        service.thread.join(60)
    drop()


def start_s3(monkeypatch: pytest.MonkeyPatch, bucket: str = "assets") -> tuple[str, Any]:
    """A local S3-compatible server (moto's) with ``bucket``, and the AWS variables that point
    boto3 and s3fs at it (worker processes inherit them); the endpoint and its stop function."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return endpoint, server.stop


def broker_url(kind: str) -> str:
    """A URL of the running ``kind`` broker ("redis": a random database of the 16, so tests
    rarely share one; each test also uses its own queue); fails when it is not reachable."""
    from kombu import Connection

    url = BROKERS[kind]
    if kind == "redis":
        url = f"{url.rstrip('/')}/{random.randint(1, 15)}"
    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1, timeout=5)
    except Exception as error:
        variable = {"redis": "MESHFORGE_TEST_REDIS", "amqp": "MESHFORGE_TEST_AMQP"}[kind]
        pytest.fail(
            f"the {kind} broker is not reachable at {BROKERS[kind]} ({error}); the Celery tests "
            f"need it: start it or set {variable}",
            pytrace=False,
        )
    return url


MESHFORGE_CELERY_WORKER = ("-m", "meshforge.cli", "worker", "--celery")
# The same worker through Celery's own command line (INFO: it then says when it is ready).
CELERY_WORKER = (
    "-m",
    "celery",
    "-A",
    "meshforge.workers.celery_app",
    "worker",
    "-c",
    "1",
    "-l",
    "INFO",
)


def start_celery_worker(
    env: dict[str, str],
    log: Path,
    command: tuple[str, ...] = MESHFORGE_CELERY_WORKER,
    timeout: float = 30,
) -> Any:
    """A Celery worker (``python COMMAND``) in its own session (so its whole process group can
    be killed), once it says it is ready; its output goes to ``log``."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while " ready." not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            kill_group(process)
            raise AssertionError(f"the Celery worker did not start:\n{log.read_text()[-4000:]}")
        time.sleep(0.05)
    return process


def kill_group(process: Any) -> None:
    """SIGKILL to the process and every process of its session; waits for it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
