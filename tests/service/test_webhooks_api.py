"""Webhooks end to end (signed deliveries, retries, redelivery, a receiver that comes up late)
and SSRF refusals through the API, on SQLite and PostgreSQL, against receivers on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from local_http import LocalServer, Received, transparent_png, wait_until
from sqlalchemy import func, select

from meshforge.catalog.db import Catalog
from meshforge.catalog.models import Job, Upload, WebhookDelivery, new_id, now
from meshforge.service.fetch import FetchPolicy
from meshforge.service.signatures import WebhookVerificationError, verify_webhook
from meshforge.service.webhooks import WebhookDispatcher
from service_harness import Service, free_port, product_png, start_service, stop_service

PROBLEM = "application/problem+json"


@pytest.fixture
def receiver() -> Iterator[LocalServer]:
    server = LocalServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def hook_key(service: Service) -> Any:
    """A read/write key of its own, so its webhook secret differs from the admin key's."""
    return service.create_key("webhooks")


def submit(
    service: Service,
    webhook_url: str | None,
    *,
    key: str | None = None,
    image: bytes | None = None,
    metadata: dict[str, Any] | None = None,
) -> str:
    """Submit a job (no thumbnail) with ``webhook_url``; its id."""
    data = {"thumbnail": "false", "metadata": json.dumps(metadata or {})}
    if webhook_url is not None:
        data["webhook_url"] = webhook_url
    response = service.client(key).post(
        "/v1/jobs",
        files={"image": ("photo.png", image or product_png(), "image/png")},
        data=data,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def job_doc(service: Service, job_id: str, key: str | None = None) -> dict[str, Any]:
    response = service.client(key).get(f"/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def delivered(service: Service, job_id: str, key: str | None = None) -> dict[str, Any]:
    """The job's only webhook once it is delivered (waits up to 30 s)."""

    def probe() -> dict[str, Any] | None:
        hooks = job_doc(service, job_id, key)["webhooks"]
        return hooks[0] if len(hooks) == 1 and hooks[0]["state"] == "delivered" else None

    return dict(wait_until(probe, 30, f"the webhook of {job_id} to be delivered"))


def verified(secret: str, request: Received) -> dict[str, Any]:
    """The delivery's JSON payload, after checking its Standard Webhooks signature."""
    verify_webhook(secret, request.headers, request.body)
    return dict(json.loads(request.body))


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == code and body["status"] == status
    return dict(body)


# --- deliveries ---------------------------------------------------------------------------------


def test_a_succeeded_job_is_delivered_once_and_signed(
    service: Service, receiver: LocalServer
) -> None:
    url = receiver.url("/hooks/meshforge?source=test")
    job_id = submit(service, url, metadata={"order": 42, "sku": "W-1"})
    job = service.wait_for(job_id)
    assert job["state"] == "succeeded", job["error"]
    hook = delivered(service, job_id)
    assert hook["event"] == "job.succeeded" and hook["url"] == url
    assert hook["next_attempt_at"] is None
    assert [(a["number"], a["status_code"], a["error"]) for a in hook["attempts"]] == [
        (1, 200, None)
    ]
    assert hook["attempts"][0]["seconds"] >= 0

    (request,) = receiver.wait_for(1)
    assert request.path == "/hooks/meshforge?source=test"
    assert request.headers["webhook-id"] == hook["id"]
    assert request.headers["content-type"] == "application/json"
    payload = verified(service.webhook_secret, request)
    assert payload["type"] == "job.succeeded"
    assert payload["data"] == {
        "id": job_id,
        "state": "succeeded",
        "asset_id": job["asset_id"],
        "asset_version": 1,
        "error": None,
        "metadata": {"order": 42, "sku": "W-1"},
    }
    assert payload["timestamp"].endswith("Z")

    with pytest.raises(WebhookVerificationError):
        verify_webhook(service.webhook_secret, request.headers, request.body + b" ")
    with pytest.raises(WebhookVerificationError):
        verify_webhook(service.create_key("other").webhook_secret, request.headers, request.body)

    # Delivered means done: no second POST comes.
    time.sleep(0.5)
    assert len(receiver.requests()) == 1
    assert job_doc(service, job_id)["webhooks"][0]["attempts"] == hook["attempts"]


def test_a_failed_job_sends_job_failed_signed_with_its_keys_secret(
    service: Service, receiver: LocalServer, hook_key: Any
) -> None:
    job_id = submit(service, receiver.url("/failed"), key=hook_key.secret, image=transparent_png())
    job = service.wait_for(job_id)
    assert job["state"] == "failed"
    assert job["error"]["code"] and job["error"]["message"]
    hook = delivered(service, job_id, hook_key.secret)
    assert hook["event"] == "job.failed"
    (request,) = receiver.wait_for(1)
    payload = verified(hook_key.webhook_secret, request)
    assert payload["type"] == "job.failed"
    assert payload["data"]["id"] == job_id and payload["data"]["state"] == "failed"
    assert payload["data"]["error"] == job["error"]
    assert payload["data"]["asset_id"] is None
    # signed with the job's key's secret, not the admin key's
    with pytest.raises(WebhookVerificationError):
        verify_webhook(service.webhook_secret, request.headers, request.body)


def test_a_canceled_job_sends_job_canceled(service: Service, receiver: LocalServer) -> None:
    # Two jobs ahead in the queue keep the worker busy while the third is canceled.
    blockers = [submit(service, None, image=product_png(512, seed=s)) for s in (11, 12)]
    job_id = submit(service, receiver.url("/canceled"), metadata={"why": "cancel"})
    canceled = service.client().post(f"/v1/jobs/{job_id}/cancel")
    assert canceled.status_code in (200, 202), canceled.text
    job = service.wait_for(job_id)
    assert job["state"] == "canceled" and job["cancel_requested"] is True
    hook = delivered(service, job_id)
    assert hook["event"] == "job.canceled"
    (request,) = receiver.wait_for(1)
    payload = verified(service.webhook_secret, request)
    assert payload["type"] == "job.canceled"
    assert payload["data"]["state"] == "canceled"
    assert payload["data"]["metadata"] == {"why": "cancel"}
    for blocker in blockers:
        assert service.wait_for(blocker)["state"] == "succeeded"
        assert job_doc(service, blocker)["webhooks"] == []
    assert_problem(service.client().post(f"/v1/jobs/{job_id}/cancel"), 409, "job-finished")


def test_a_503_is_retried_until_delivered(service: Service, receiver: LocalServer) -> None:
    receiver.script = [503, 503]
    job_id = submit(service, receiver.url("/flaky"))
    hook = delivered(service, job_id)
    attempts = hook["attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3]
    assert [a["status_code"] for a in attempts] == [503, 503, 200]
    assert [a["error"] for a in attempts] == [
        "the receiver answered 503",
        "the receiver answered 503",
        None,
    ]
    assert attempts[0]["at"] <= attempts[1]["at"] <= attempts[2]["at"]

    requests = receiver.wait_for(3)
    assert len(receiver.requests()) == 3
    # one delivery: the same id and body each time, each attempt freshly signed
    assert {r.headers["webhook-id"] for r in requests} == {hook["id"]}
    assert len({r.body for r in requests}) == 1
    for request in requests:
        assert verified(service.webhook_secret, request)["type"] == "job.succeeded"
    # the backoff, scaled by 0.02: 5 s -> 0.1 s, then 30 s -> 0.6 s
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.55, gaps


def test_a_receiver_that_is_down_gets_the_webhook_once_it_is_up(service: Service) -> None:
    port = free_port()  # nothing listens here yet
    job_id = submit(service, f"http://127.0.0.1:{port}/late")

    def failed_twice() -> list[dict[str, Any]] | None:
        hooks = job_doc(service, job_id)["webhooks"]
        tries = hooks[0]["attempts"] if hooks else []
        return tries if len(tries) >= 2 else None

    failures = wait_until(failed_twice, 30, "two failed attempts")
    assert all(a["status_code"] is None and "ConnectError" in a["error"] for a in failures)
    assert job_doc(service, job_id)["webhooks"][0]["state"] == "pending"

    late = LocalServer(port=port).start()
    try:
        hook = delivered(service, job_id)
        attempts = hook["attempts"]
        assert len(attempts) >= 3
        assert attempts[-1]["status_code"] == 200 and attempts[-1]["error"] is None
        assert all(a["status_code"] is None for a in attempts[:-1])
        (request,) = late.wait_for(1)
        payload = verified(service.webhook_secret, request)
        assert payload["data"]["id"] == job_id and payload["type"] == "job.succeeded"
    finally:
        late.stop()


def test_redeliver_sends_the_webhook_again(
    service: Service, receiver: LocalServer, hook_key: Any
) -> None:
    job_id = submit(service, receiver.url("/again"), key=hook_key.secret)
    hook = delivered(service, job_id, hook_key.secret)
    (first,) = receiver.wait_for(1)

    client = service.client(hook_key.secret)
    response = client.post(f"/v1/jobs/{job_id}/webhooks/{hook['id']}/redeliver")
    assert response.status_code == 202, response.text
    assert response.json() == {"id": hook["id"], "state": "pending"}
    first, second = receiver.wait_for(2)
    assert second.headers["webhook-id"] == first.headers["webhook-id"] == hook["id"]
    assert second.body == first.body
    verified(hook_key.webhook_secret, second)

    again = delivered(service, job_id, hook_key.secret)
    assert [(a["number"], a["status_code"]) for a in again["attempts"]] == [(1, 200), (2, 200)]

    assert_problem(
        client.post(f"/v1/jobs/{job_id}/webhooks/msg_missing/redeliver"),
        404,
        "delivery-not-found",
    )
    reader = service.client(service.create_key("reader", ("read",)).secret)
    assert_problem(
        reader.post(f"/v1/jobs/{job_id}/webhooks/{hook['id']}/redeliver"),
        403,
        "insufficient-scope",
    )
    stranger = service.client(service.create_key("stranger").secret)
    assert_problem(
        stranger.post(f"/v1/jobs/{job_id}/webhooks/{hook['id']}/redeliver"),
        404,
        "job-not-found",
    )
    # the admin key may redeliver any key's webhook
    admin = service.client().post(f"/v1/jobs/{job_id}/webhooks/{hook['id']}/redeliver")
    assert admin.status_code == 202
    receiver.wait_for(3)
    assert len(delivered(service, job_id, hook_key.secret)["attempts"]) == 3


def test_the_dispatcher_posts_to_the_address_it_checked(
    service: Service, receiver: LocalServer
) -> None:
    """A host name is resolved once, checked, and that address is the one connected to (no
    second lookup a rebinding DNS server could answer differently); Host keeps the name."""
    lookups: list[str] = []

    def resolver(host: str) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    catalog = Catalog(service.database_url)
    policy = FetchPolicy(allow_hosts=("127.0.0.1",), resolver=resolver)
    secret = service.create_key("dispatch").webhook_secret
    dispatcher = WebhookDispatcher(catalog, policy, secret, timeout_s=5)
    delivery_id = new_id("msg")
    url = f"http://hooks.invalid:{receiver.port}/pinned"
    try:
        with catalog.session() as session:
            session.add(
                WebhookDelivery(
                    id=delivery_id,
                    job_id="job_elsewhere",
                    key_id=None,
                    event="job.succeeded",
                    url=url,
                    payload={"type": "job.succeeded", "data": {"id": "job_elsewhere"}},
                    next_attempt_at=now() + 86400,  # not due: the service's dispatcher skips it
                )
            )
        assert dispatcher.attempt(delivery_id) is True
        assert lookups == ["hooks.invalid"]
        (request,) = receiver.wait_for(1)
        assert request.headers["host"] == f"hooks.invalid:{receiver.port}"
        assert verified(secret, request)["data"] == {"id": "job_elsewhere"}
        with catalog.session() as session:
            row = session.get(WebhookDelivery, delivery_id)
            assert row is not None and row.state == "delivered" and row.attempts == 1
    finally:
        dispatcher.stop()
        catalog.dispose()


# --- SSRF through the API -----------------------------------------------------------------------


def stored(service: Service) -> tuple[int, int, int, list[str]]:
    """Jobs, uploads and webhook deliveries in the catalog, and the files in the storage."""
    catalog = Catalog(service.database_url)
    try:
        with catalog.session() as session:
            counts = tuple(
                int(session.scalar(select(func.count()).select_from(table)) or 0)
                for table in (Job, Upload, WebhookDelivery)
            )
    finally:
        catalog.dispose()
    files = sorted(
        p.relative_to(service.storage).as_posix()
        for p in Path(service.storage).rglob("*")
        if p.is_file()
    )
    return counts[0], counts[1], counts[2], files


def test_a_private_webhook_url_is_refused(service: Service) -> None:
    before = stored(service)
    client = service.client()
    cases = {
        "http://10.0.0.1/hook": ("address", "10.0.0.1"),
        "http://169.254.169.254/latest/meta-data/": ("address", "169.254.169.254"),
        "ftp://127.0.0.1/hook": ("scheme", "ftp"),
    }
    for url, (reason, needle) in cases.items():
        response = client.post(
            "/v1/jobs",
            files={"image": ("photo.png", product_png(seed=21), "image/png")},
            data={"webhook_url": url},
        )
        body = assert_problem(response, 422, "webhook-url-refused")
        assert body["reason"] == reason and needle in body["detail"], body
        as_json = client.post(
            "/v1/jobs", json={"image_url": "http://127.0.0.1:9/x.png", "webhook_url": url}
        )
        assert assert_problem(as_json, 422, "webhook-url-refused")["reason"] == reason
    assert stored(service) == before


@pytest.fixture(scope="module")
def refusing(service: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A second service on the same backend with an empty URL allow-list (and no workers)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        running, drop = start_service(
            service.backend,
            tmp_path_factory.mktemp(f"refusing-{service.backend}"),
            monkeypatch,
            MESHFORGE_URL_ALLOWLIST="",
            MESHFORGE_WORKERS="0",
        )
        try:
            yield running
        finally:
            stop_service(running, drop)


@pytest.fixture
def image_server() -> Iterator[LocalServer]:
    server = LocalServer(files={"/x.png": ("image/png", product_png(seed=5))}).start()
    try:
        yield server
    finally:
        server.stop()


def test_image_urls_to_private_addresses_are_refused(
    refusing: Service, image_server: LocalServer
) -> None:
    client = refusing.client()
    port = image_server.port
    cases = {
        f"http://127.0.0.1:{port}/x.png": ("address", ["127.0.0.1", "loopback"]),
        f"http://localhost:{port}/x.png": ("address", ["localhost", "loopback"]),
        f"http://[::1]:{port}/x.png": ("address", ["::1", "loopback"]),
        f"http://[::ffff:127.0.0.1]:{port}/x.png": ("address", ["127.0.0.1", "loopback"]),
        f"http://0.0.0.0:{port}/x.png": ("address", ["0.0.0.0"]),
        "http://10.0.0.1/x.png": ("address", ["10.0.0.1", "private"]),
        "http://192.168.1.20/x.png": ("address", ["192.168.1.20", "private"]),
        "http://169.254.169.254/latest/meta-data/": ("address", ["169.254.169.254", "metadata"]),
        "http://100.64.0.7/x.png": ("address", ["100.64.0.7", "shared"]),
        f"ftp://127.0.0.1:{port}/x.png": ("scheme", ["ftp"]),
        "file:///etc/passwd": ("scheme", ["file"]),
    }
    before = stored(refusing)
    for url, (reason, needles) in cases.items():
        response = client.post("/v1/jobs", json={"image_url": url})
        body = assert_problem(response, 422, "url-refused")
        assert body["reason"] == reason, (url, body)
        for needle in needles:
            assert needle in body["detail"], (url, body["detail"])
        features = refusing.anonymous().post(
            "/api/features",
            json={"type": "IMAGE_3D_GENERATOR", "promptObject": {"imageUrl": url}},
            headers={"API-KEY": refusing.key},
        )
        if url.startswith("http"):
            assert assert_problem(features, 422, "url-refused")["reason"] == reason
        else:  # not an http(s) URL: the features API reads it as an upload's storage path
            assert_problem(features, 422, "unknown-upload")
    assert image_server.gets == []  # nothing was fetched
    assert stored(refusing) == before == (0, 0, 0, [])


def test_webhook_urls_to_loopback_are_refused_without_the_allow_list(
    refusing: Service, receiver: LocalServer
) -> None:
    client = refusing.client()
    for url in (receiver.url("/hook"), f"http://localhost:{receiver.port}/hook"):
        response = client.post(
            "/v1/jobs",
            files={"image": ("photo.png", product_png(seed=22), "image/png")},
            data={"webhook_url": url},
        )
        body = assert_problem(response, 422, "webhook-url-refused")
        assert body["reason"] == "address" and "loopback" in body["detail"]
    assert receiver.requests() == []
    assert stored(refusing) == (0, 0, 0, [])
