"""Signatures the service hands out and checks: webhook deliveries and download links.

Why this module exists, and why it is pure stdlib:

* **Webhooks** follow the Standard Webhooks specification (https://www.standardwebhooks.com/),
  so a receiver can verify our deliveries with any of that specification's libraries (Svix's
  included) instead of code of ours. A secret is ``whsec_`` + base64 of random bytes; a
  delivery carries ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers;
  the signature is ``v1,`` + base64 HMAC-SHA256 of ``f"{id}.{timestamp}."`` + body, keyed with
  the decoded secret. Signing the id and the timestamp too is what stops a captured delivery
  from being replayed later (the timestamp must be recent) or under another id.
* **Download links** are signed so that a worker, a CDN or a browser can fetch a result
  without an API key, for a limited time, and only the path that was signed.
* **Retries** of failed webhook deliveries back off exponentially for about a day, so a
  receiver that is down for a deploy or a night still gets every event.

Nothing here touches the network, a clock it was not given, or a third-party package: these are
the parts an attacker aims at, and they must stay small enough to read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping

__all__ = [
    "RETRY_DELAYS_S",
    "SignatureError",
    "WebhookVerificationError",
    "generate_webhook_secret",
    "next_retry_delay",
    "sign_path",
    "sign_webhook",
    "verify_path",
    "verify_webhook",
    "webhook_headers",
]

_SECRET_PREFIX = "whsec_"
_SECRET_BYTES = 24
_SIGNATURE_VERSION = "v1"
_DIGITS = re.compile(r"[0-9]+")


class WebhookVerificationError(ValueError):
    """A webhook delivery failed verification: a header is missing, stale or matches no key."""


class SignatureError(ValueError):
    """A signed download link is expired or invalid; the message says which."""


# --- Standard Webhooks --------------------------------------------------------------------------


def generate_webhook_secret() -> str:
    """A new endpoint secret: ``whsec_`` + base64 of 24 random bytes (192 bits)."""
    return _SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def _secret_key(secret: str) -> bytes:
    """The HMAC key of ``secret``: the base64-decoded part after ``whsec_``.

    A secret pasted without its prefix is accepted too, as the specification's libraries do.
    """
    encoded = secret.removeprefix(_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret is not whsec_ followed by base64") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _webhook_signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value of a delivery: ``v1,<base64 HMAC-SHA256>``.

    ``timestamp`` is in whole seconds since the Unix epoch, the value of ``webhook-timestamp``.
    """
    signature = _webhook_signature(_secret_key(secret), msg_id, str(int(timestamp)), body)
    return f"{_SIGNATURE_VERSION},{signature}"


def webhook_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of a delivery of ``body`` (JSON): id, timestamp, signature, content type."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": sign_webhook(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]`` looked up case-insensitively (a plain dict is not, HTTP headers are)."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int = 300,
    now: float | None = None,
) -> None:
    """Check a delivery's headers against ``body``; raise :class:`WebhookVerificationError`.

    The timestamp must lie within ``tolerance_s`` of ``now`` (default: the current time) on
    either side; ``webhook-signature`` may hold several space-separated ``v1,...`` entries (a
    sender rotating its secret signs with both keys), and one matching is enough. Entries of
    other versions are ignored. ``body`` must be the raw bytes received, before any JSON parsing.
    """
    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signature_header = _header(headers, "webhook-signature")
    missing = [
        name
        for name, value in (
            ("webhook-id", msg_id),
            ("webhook-timestamp", timestamp),
            ("webhook-signature", signature_header),
        )
        if not value
    ]
    if missing or msg_id is None or timestamp is None or signature_header is None:
        raise WebhookVerificationError(f"missing header(s): {', '.join(missing)}")

    timestamp = timestamp.strip()
    if not _DIGITS.fullmatch(timestamp):
        raise WebhookVerificationError(f"webhook-timestamp {timestamp!r} is not an integer")
    current = time.time() if now is None else now
    age = current - int(timestamp)
    if age > tolerance_s:
        raise WebhookVerificationError(
            f"webhook-timestamp is {age:.0f} s old, more than the {tolerance_s} s tolerated"
        )
    if -age > tolerance_s:
        raise WebhookVerificationError(
            f"webhook-timestamp is {-age:.0f} s in the future, more than the {tolerance_s} s "
            "tolerated"
        )

    expected = _webhook_signature(_secret_key(secret), msg_id, timestamp, body).encode("ascii")
    for entry in signature_header.split():
        version, _, signature = entry.partition(",")
        if version != _SIGNATURE_VERSION:
            continue
        if hmac.compare_digest(expected, signature.encode("utf-8")):
            return
    raise WebhookVerificationError("no webhook-signature entry matches the secret")


# --- Signed download URLs -----------------------------------------------------------------------


def _path_signature(secret: bytes, path: str, expires: int) -> str:
    digest = hmac.new(secret, f"{path}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign_path(secret: bytes, path: str, expires_at: int) -> str:
    """The query string that makes ``path`` downloadable until ``expires_at`` (Unix seconds).

    Returns ``expires=<int>&signature=<urlsafe base64, unpadded>``: both values are URL-safe, so
    it is appended as it is (``f"{path}?{sign_path(...)}"``). The link works while the current
    time is before ``expires_at``.
    """
    if not secret:
        raise ValueError("the URL signing secret is empty")
    expires = int(expires_at)
    return f"expires={expires}&signature={_path_signature(secret, path, expires)}"


def verify_path(
    secret: bytes,
    path: str,
    expires: str | int,
    signature: str,
    *,
    now: float | None = None,
) -> None:
    """Check a signed link's ``expires`` and ``signature``; raise :class:`SignatureError`.

    The signature is checked before the expiry, so "expired" is only ever said of a link that
    we did sign (a forged link is "invalid", however old it claims to be).
    """
    if not secret:
        raise ValueError("the URL signing secret is empty")
    if isinstance(expires, str):
        if not _DIGITS.fullmatch(expires):
            raise SignatureError(f"invalid signed URL: expires={expires!r} is not an integer")
        expires_at = int(expires)
    else:
        expires_at = int(expires)
    expected = _path_signature(secret, path, expires_at).encode("ascii")
    if not hmac.compare_digest(expected, signature.encode("utf-8")):
        raise SignatureError("invalid signed URL: the signature does not match")
    current = time.time() if now is None else now
    if current >= expires_at:
        raise SignatureError(f"expired signed URL: it expired at {expires_at} (Unix time)")


# --- Webhook retry schedule ---------------------------------------------------------------------

#: Seconds to wait after each failed delivery attempt before the next one: 5 s, 30 s, 2 min,
#: 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 9 h -- eleven attempts over 24 h 42 min 35 s.
RETRY_DELAYS_S: tuple[int, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 32400)


def next_retry_delay(
    attempt: int,
    base_delays: tuple[int, ...] = RETRY_DELAYS_S,
    *,
    scale: float = 1.0,
) -> float | None:
    """Seconds to wait before retrying after failed attempt number ``attempt`` (from 1).

    Returns ``None`` when the schedule is exhausted (give up, mark the delivery failed).
    ``scale`` multiplies every delay, so tests and local runs can go through the schedule fast.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if scale < 0:
        raise ValueError(f"scale must not be negative, got {scale}")
    if attempt > len(base_delays):
        return None
    return float(base_delays[attempt - 1]) * scale
