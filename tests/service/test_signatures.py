"""Webhook signatures (Standard Webhooks), signed download links and the retry schedule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
from urllib.parse import parse_qs

import pytest

from meshforge.service.signatures import (
    RETRY_DELAYS_S,
    SignatureError,
    WebhookVerificationError,
    generate_webhook_secret,
    next_retry_delay,
    sign_path,
    sign_webhook,
    verify_path,
    verify_webhook,
    webhook_headers,
)

# The Standard Webhooks specification's published test vector.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

# --- Standard Webhooks --------------------------------------------------------------------------


def test_sign_webhook_reproduces_the_specification_vector() -> None:
    assert sign_webhook(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_verify_webhook_accepts_the_specification_vector() -> None:
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    verify_webhook(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP + 10)


def test_generated_secret_is_whsec_and_24_random_bytes() -> None:
    secret = generate_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert secret != generate_webhook_secret()


def test_signature_is_hmac_sha256_of_id_timestamp_body() -> None:
    secret = generate_webhook_secret()
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, b"msg_1.1700000000.{}", hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    assert sign_webhook(secret, "msg_1", 1_700_000_000, b"{}") == expected


def test_headers_round_trip() -> None:
    secret = generate_webhook_secret()
    body = b'{"type": "job.succeeded", "job_id": "j_1"}'
    headers = webhook_headers(secret, "msg_42", 1_700_000_000, body)
    assert headers["webhook-id"] == "msg_42"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["content-type"] == "application/json"
    assert re.fullmatch(r"v1,[A-Za-z0-9+/]{43}=", headers["webhook-signature"])
    verify_webhook(secret, headers, body, now=1_700_000_000)
    # Header names are case-insensitive in HTTP; a plain dict of received headers may be cased.
    cased = {key.title(): value for key, value in headers.items()}
    verify_webhook(secret, cased, body, now=1_700_000_000)


def test_tampered_body_is_rejected() -> None:
    secret = generate_webhook_secret()
    headers = webhook_headers(secret, "msg_1", 1_700_000_000, b'{"amount": 1}')
    with pytest.raises(WebhookVerificationError, match="no webhook-signature entry matches"):
        verify_webhook(secret, headers, b'{"amount": 100}', now=1_700_000_000)


def test_tampered_id_or_timestamp_is_rejected() -> None:
    secret = generate_webhook_secret()
    headers = webhook_headers(secret, "msg_1", 1_700_000_000, b"{}")
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, {**headers, "webhook-id": "msg_2"}, b"{}", now=1_700_000_000)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(
            secret, {**headers, "webhook-timestamp": "1700000001"}, b"{}", now=1_700_000_000
        )


def test_wrong_secret_is_rejected() -> None:
    headers = webhook_headers(generate_webhook_secret(), "msg_1", 1_700_000_000, b"{}")
    with pytest.raises(WebhookVerificationError):
        verify_webhook(generate_webhook_secret(), headers, b"{}", now=1_700_000_000)


@pytest.mark.parametrize(
    ("now", "ok"),
    [
        (1_700_000_000 + 300, True),
        (1_700_000_000 + 301, False),
        (1_700_000_000 - 300, True),
        (1_700_000_000 - 301, False),
    ],
)
def test_timestamp_tolerance_both_ways(now: int, ok: bool) -> None:
    secret = generate_webhook_secret()
    headers = webhook_headers(secret, "msg_1", 1_700_000_000, b"{}")
    if ok:
        verify_webhook(secret, headers, b"{}", now=now)
    else:
        with pytest.raises(WebhookVerificationError, match="webhook-timestamp"):
            verify_webhook(secret, headers, b"{}", now=now)


def test_stale_timestamp_with_custom_tolerance() -> None:
    secret = generate_webhook_secret()
    headers = webhook_headers(secret, "msg_1", 1_700_000_000, b"{}")
    with pytest.raises(WebhookVerificationError, match="61 s old"):
        verify_webhook(secret, headers, b"{}", tolerance_s=60, now=1_700_000_061)
    verify_webhook(secret, headers, b"{}", tolerance_s=3600, now=1_700_000_061)


def test_one_matching_signature_among_several_is_enough() -> None:
    old, new = generate_webhook_secret(), generate_webhook_secret()
    body = b'{"n": 1}'
    both = " ".join(
        [
            sign_webhook(old, "msg_1", 1_700_000_000, body),
            "v1a,c29tZSBhc3ltbWV0cmljIHNpZ25hdHVyZQ==",  # another version: ignored
            sign_webhook(new, "msg_1", 1_700_000_000, body),
        ]
    )
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": both}
    verify_webhook(old, headers, body, now=1_700_000_000)
    verify_webhook(new, headers, body, now=1_700_000_000)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(generate_webhook_secret(), headers, body, now=1_700_000_000)


def test_a_signature_under_another_version_is_not_accepted() -> None:
    secret = generate_webhook_secret()
    headers = webhook_headers(secret, "msg_1", 1_700_000_000, b"{}")
    headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,", 1)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, headers, b"{}", now=1_700_000_000)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(name: str) -> None:
    secret = generate_webhook_secret()
    headers = webhook_headers(secret, "msg_1", 1_700_000_000, b"{}")
    del headers[name]
    with pytest.raises(WebhookVerificationError, match=f"missing header.*{name}"):
        verify_webhook(secret, headers, b"{}", now=1_700_000_000)


def test_non_integer_timestamp_is_rejected() -> None:
    secret = generate_webhook_secret()
    headers = webhook_headers(secret, "msg_1", 1_700_000_000, b"{}")
    headers["webhook-timestamp"] = "1700000000.5"
    with pytest.raises(WebhookVerificationError, match="not an integer"):
        verify_webhook(secret, headers, b"{}", now=1_700_000_000)


def test_non_ascii_signature_is_rejected_not_crashed() -> None:
    secret = generate_webhook_secret()
    headers = webhook_headers(secret, "msg_1", 1_700_000_000, b"{}")
    headers["webhook-signature"] = "v1,é"
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, headers, b"{}", now=1_700_000_000)


def test_verification_error_is_a_value_error() -> None:
    assert issubclass(WebhookVerificationError, ValueError)
    assert issubclass(SignatureError, ValueError)


def test_malformed_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        sign_webhook("whsec_not base64!", "msg_1", 1_700_000_000, b"{}")


# --- Signed download URLs -----------------------------------------------------------------------

URL_SECRET = b"download-signing-secret-0123456789"
PATH = "/v1/jobs/j_123/outputs/model.glb"
EXPIRES = 1_700_003_600


def _query() -> tuple[str, str]:
    query = parse_qs(sign_path(URL_SECRET, PATH, EXPIRES), strict_parsing=True)
    return query["expires"][0], query["signature"][0]


def test_sign_path_query_string_format() -> None:
    query = sign_path(URL_SECRET, PATH, EXPIRES)
    digest = hmac.new(URL_SECRET, f"{PATH}\n{EXPIRES}".encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert query == f"expires={EXPIRES}&signature={signature}"
    assert re.fullmatch(r"expires=\d+&signature=[A-Za-z0-9_-]{43}", query)


def test_valid_link_verifies() -> None:
    expires, signature = _query()
    verify_path(URL_SECRET, PATH, expires, signature, now=EXPIRES - 1)
    verify_path(URL_SECRET, PATH, int(expires), signature, now=EXPIRES - 3600)


def test_expired_link_says_expired() -> None:
    expires, signature = _query()
    with pytest.raises(SignatureError, match=r"^expired"):
        verify_path(URL_SECRET, PATH, expires, signature, now=EXPIRES)
    with pytest.raises(SignatureError, match=r"^expired"):
        verify_path(URL_SECRET, PATH, expires, signature, now=EXPIRES + 86_400)


def test_tampered_path_is_invalid() -> None:
    expires, signature = _query()
    with pytest.raises(SignatureError, match=r"^invalid"):
        verify_path(URL_SECRET, "/v1/jobs/j_124/outputs/model.glb", expires, signature, now=0)


def test_tampered_signature_is_invalid() -> None:
    expires, signature = _query()
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for bad in (flipped, signature[:-1], signature + "=", "", "é" * 43):
        with pytest.raises(SignatureError, match=r"^invalid"):
            verify_path(URL_SECRET, PATH, expires, bad, now=0)


def test_extended_expiry_is_invalid_not_expired() -> None:
    _, signature = _query()
    with pytest.raises(SignatureError, match=r"^invalid"):
        verify_path(URL_SECRET, PATH, EXPIRES + 86_400, signature, now=0)
    # A forged link is "invalid" even when its claimed expiry has passed.
    with pytest.raises(SignatureError, match=r"^invalid"):
        verify_path(URL_SECRET, PATH, 1, signature, now=EXPIRES)


@pytest.mark.parametrize("garbage", ["", "soon", "1.5e9", "-1", " 1700003600", "0x10", "١٢٣"])
def test_garbage_expires_is_invalid(garbage: str) -> None:
    _, signature = _query()
    with pytest.raises(SignatureError, match=r"^invalid.*not an integer"):
        verify_path(URL_SECRET, PATH, garbage, signature, now=0)


def test_wrong_secret_is_invalid() -> None:
    expires, signature = _query()
    with pytest.raises(SignatureError, match=r"^invalid"):
        verify_path(b"another-secret", PATH, expires, signature, now=0)


# --- Retry schedule -----------------------------------------------------------------------------


def test_retry_schedule_values() -> None:
    assert RETRY_DELAYS_S == (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 32400)
    assert sum(RETRY_DELAYS_S) == 88_955  # 24 h 42 min 35 s: a day of retries
    assert all(a <= b for a, b in itertools.pairwise(RETRY_DELAYS_S))


def test_next_retry_delay_walks_the_schedule_then_gives_up() -> None:
    delays = [next_retry_delay(attempt) for attempt in range(1, 11)]
    assert delays == [5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 32400.0]
    assert next_retry_delay(11) is None
    assert next_retry_delay(1000) is None


def test_next_retry_delay_scale_and_custom_schedule() -> None:
    assert next_retry_delay(1, scale=0.001) == pytest.approx(0.005)
    assert next_retry_delay(10, scale=0.001) == pytest.approx(32.4)
    assert next_retry_delay(2, (1, 2, 4)) == 2.0
    assert next_retry_delay(3, (1, 2, 4), scale=0.5) == 2.0
    assert next_retry_delay(4, (1, 2, 4)) is None
    assert next_retry_delay(1, scale=0) == 0.0


def test_next_retry_delay_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="from 1"):
        next_retry_delay(0)
    with pytest.raises(ValueError, match="negative"):
        next_retry_delay(1, scale=-1.0)
