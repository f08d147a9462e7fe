"""Webhook delivery per the Standard Webhooks spec: signed with the job's API key secret,
retried with exponential backoff for about 24 h, every attempt recorded on the job.

Deliveries are rows in the catalog (written in the same transaction as the job's end), so a
restart loses none; a dispatcher thread in each server sends those that are due. A delivery is
leased by moving its ``next_attempt_at`` forward with a conditional UPDATE, so two servers never
send the same attempt.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time

import httpx
from sqlalchemy import select, update

from meshforge.catalog.db import Catalog
from meshforge.catalog.models import ApiKey, WebhookAttempt, WebhookDelivery, now
from meshforge.service.fetch import FetchPolicy, FetchRefused, check_url
from meshforge.service.signatures import next_retry_delay, webhook_headers

log = logging.getLogger("meshforge.webhooks")


class WebhookDispatcher:
    def __init__(
        self,
        catalog: Catalog,
        policy: FetchPolicy,
        fallback_secret: str,
        *,
        retry_scale: float = 1.0,
        timeout_s: float = 10.0,
        poll_s: float = 0.1,
    ) -> None:
        self.catalog = catalog
        self.policy = policy
        self.fallback_secret = fallback_secret
        self.retry_scale = retry_scale
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="webhooks")
        # No proxies from the environment and no kept-alive connections: every delivery goes
        # straight to the address its URL was checked against (see _post).
        self._client = httpx.Client(
            timeout=timeout_s,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(self.timeout_s + 5)
        self._client.close()

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.send_due()
            except Exception:
                log.exception("webhook dispatch failed")
                sent = 0
            if not sent:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    def _lease(self, delivery_id: str, seen_at: float) -> bool:
        with self.catalog.session() as session:
            result = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.state == "pending",
                    WebhookDelivery.next_attempt_at == seen_at,
                )
                .values(next_attempt_at=now() + self.timeout_s + 30)
            )
            return getattr(result, "rowcount", 0) == 1

    def send_due(self) -> int:
        """Send every delivery that is due; the number of attempts made."""
        with self.catalog.session() as session:
            due = session.execute(
                select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
                .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now())
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(50)
            ).all()
        attempts = 0
        for delivery_id, seen_at in due:
            if self._stop.is_set():
                break
            if self._lease(delivery_id, seen_at):
                self.attempt(delivery_id)
                attempts += 1
        return attempts

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST to the address ``url`` was checked against, not to a second DNS answer.

        Resolving the host again when connecting would let a name that first answered with a
        public address answer 127.0.0.1 or 169.254.169.254 the next time (DNS rebinding), so
        the connection goes to the checked IP with the original Host header and TLS SNI, as
        :mod:`meshforge.service.fetch` does for image URLs.
        """
        ip = check_url(url, self.policy)[0]
        target = httpx.URL(url)
        host = target.raw_host.decode("ascii")
        try:
            ipaddress.ip_address(host.strip("[]"))
            literal = True
        except ValueError:
            literal = False
        sni = {"sni_hostname": host} if target.scheme == "https" and not literal else {}
        request = self._client.build_request(
            "POST",
            target.copy_with(host=ip),
            content=body,
            headers={**headers, "Host": target.netloc.decode("ascii")},
            extensions=sni,
        )
        return self._client.send(request)

    def attempt(self, delivery_id: str) -> bool:
        """One signed POST; records it and schedules the next try. True when delivered."""
        with self.catalog.session() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            assert delivery is not None
            key = session.get(ApiKey, delivery.key_id) if delivery.key_id else None
            secret = key.webhook_secret if key is not None else self.fallback_secret
            url, payload, number = delivery.url, delivery.payload, delivery.attempts + 1
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = webhook_headers(secret, delivery_id, int(time.time()), body)
        status: int | None = None
        error: str | None = None
        started = time.perf_counter()
        try:
            response = self._post(url, body, headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"the receiver answered {status}"
        except FetchRefused as refused:
            error = str(refused)[:1000]
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"[:900]
        delivered = error is None
        with self.catalog.session() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            assert delivery is not None
            delivery.attempts = number
            session.add(
                WebhookAttempt(
                    delivery_id=delivery_id,
                    number=number,
                    at=now(),
                    status_code=status,
                    error=error,
                    seconds=round(time.perf_counter() - started, 4),
                )
            )
            if delivered:
                delivery.state = "delivered"
            else:
                delay = next_retry_delay(number, scale=self.retry_scale)
                if delay is None:
                    delivery.state = "failed"
                else:
                    delivery.next_attempt_at = now() + delay
        log.info(
            "webhook attempt",
            extra={"job_id": payload.get("data", {}).get("id"), "status": status, "error": error},
        )
        return delivered


def redeliver(catalog: Catalog, delivery_id: str) -> bool:
    """Send a delivery again (whatever its state): it is pending and due now."""
    with catalog.session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return False
        delivery.state, delivery.next_attempt_at = "pending", now()
        return True
