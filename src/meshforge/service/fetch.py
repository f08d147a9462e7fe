"""Fetch a product photo from a URL a user gave the REST service, without becoming an SSRF proxy.

A URL from a request body is attacker-controlled. Fetched naively it reaches the cloud metadata
service (169.254.169.254 hands out credentials), the database on 10.0.0.5 or an admin page on
localhost. So this module only speaks http(s), resolves the host itself and refuses private,
loopback, link-local, multicast, reserved and shared addresses (IPv4-mapped and embedded forms
too) unless the operator allow-listed them. It then connects to the exact IP it checked, sending
the original Host header and TLS SNI, so a second DNS answer cannot swap the target (DNS
rebinding). Redirects are followed by hand and every hop is checked again. The body is capped in
size and time, and must start with the magic bytes of an image format we read.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from meshforge.errors import InputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ALLOW_HINT = "Use a public URL or add the host to MESHFORGE_URL_ALLOWLIST"


class FetchRefused(InputError):  # noqa: N818 - the service API names it so
    """A URL was not fetched; ``reason`` is a stable slug (``address``, ``timeout`` ...)."""

    def __init__(self, reason: str, message: str, *, hint: str | None = None) -> None:
        self.reason = reason
        super().__init__(message, stage="fetch", hint=hint)


@dataclass(frozen=True)
class FetchPolicy:
    """What :func:`fetch_image` may fetch; ``allow_hosts`` holds host names, IPs or CIDRs."""

    allow_hosts: tuple[str, ...] = ()
    max_bytes: int = 50 * 1024 * 1024
    timeout_s: float = 20.0
    max_redirects: int = 5
    resolver: Callable[[str], list[str]] | None = None


def _system_resolver(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _blocked_kind(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched (``"private"``, ``"loopback"`` ...), or None if public."""
    if ip in _METADATA:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = _blocked_kind(embedded)
            return f"{inner} (embedded {embedded})" if inner else None
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED, "shared (carrier-grade NAT)"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "not public"),
    )
    return next((kind for hit, kind in checks if hit), None)


def _allowed(host: str, ip: IPAddress, allow_hosts: tuple[str, ...]) -> bool:
    for entry in allow_hosts:
        entry = entry.strip().lower().rstrip(".")
        try:
            if ip in ipaddress.ip_network(entry.strip("[]"), strict=False):
                return True
        except ValueError:
            if entry == host:
                return True
    return False


def _parse(url: str | httpx.URL) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchRefused("scheme", f"{str(url)!r} is not a valid URL ({exc})") from exc
    if parsed.scheme not in ("http", "https"):
        raise FetchRefused(
            "scheme",
            f"the URL scheme {parsed.scheme or '(none)'!r} of {str(url)!r} is not supported",
            hint="Use an http:// or https:// URL",
        )
    if not parsed.raw_host:
        raise FetchRefused("scheme", f"the URL {str(url)!r} has no host", hint="Give a full URL")
    return parsed


def check_url(url: str, policy: FetchPolicy) -> list[str]:
    """Check ``url``'s scheme and every address its host resolves to; return those addresses.

    Raises :class:`FetchRefused` (``scheme``, ``dns`` or ``address``) when the URL must not be
    fetched. The caller must connect to one of the returned IPs, not resolve the name again.
    """
    host = _parse(url).raw_host.decode("ascii").lower().rstrip(".")
    literal = _literal_ip(host)
    if literal is not None:
        answers = [str(literal)]
    else:
        try:
            answers = (policy.resolver or _system_resolver)(host)
        except (OSError, UnicodeError) as exc:
            raise FetchRefused(
                "dns", f"the host {host} cannot be resolved ({exc})", hint="Check the URL"
            ) from exc
    checked: list[str] = []
    for ip in [_literal_ip(answer.split("%", 1)[0]) for answer in answers] or [None]:
        if ip is None:
            raise FetchRefused("dns", f"{host} has no usable address", hint="Check the URL")
        kind = _blocked_kind(ip)
        if kind is not None and not _allowed(host, ip, policy.allow_hosts):
            where = f"{ip}" if literal is not None else f"{ip} of {host}"
            raise FetchRefused(
                "address",
                f"the address {where} is {kind}; fetching it is refused",
                hint=_ALLOW_HINT,
            )
        if str(ip) not in checked:
            checked.append(str(ip))
    return checked


def sniff_image(data: bytes) -> str | None:
    """The MIME type of an image format recognised by its magic bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data.startswith(b"BM") and len(data) >= 26:
        return "image/bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"):
            return "image/heic"
        if brand in (b"mif1", b"msf1"):
            return "image/heif"
    return None


def _timeout(url: httpx.URL, policy: FetchPolicy) -> FetchRefused:
    return FetchRefused(
        "timeout",
        f"{url} did not answer within {policy.timeout_s:g} s",
        hint="Try again later or upload the image instead",
    )


def pin_url(url: str | httpx.URL, policy: FetchPolicy) -> tuple[httpx.URL, str, dict[str, str]]:
    """Check ``url`` and pin it to the first checked IP: the URL to connect to, the Host header
    and the request extensions (the TLS server name), so no second DNS lookup can redirect it."""
    url = _parse(url)
    ip = check_url(str(url), policy)[0]
    host = url.raw_host.decode("ascii")
    sni = {} if _literal_ip(host) or url.scheme != "https" else {"sni_hostname": host}
    return url.copy_with(host=ip), url.netloc.decode("ascii"), sni


def _get(
    client: httpx.Client, url: httpx.URL, policy: FetchPolicy, deadline: float
) -> bytes | httpx.URL:
    """One hop, pinned to the checked IP: a redirect's target, or a 2xx answer's capped body."""
    pinned, host_header, sni = pin_url(url, policy)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _timeout(url, policy)
    request = client.build_request(
        "GET",
        pinned,
        headers={"Host": host_header, "Accept": "image/*"},
        timeout=httpx.Timeout(remaining),
        extensions=sni,
    )
    response = client.send(request, stream=True)
    try:
        if response.status_code in _REDIRECTS and "location" in response.headers:
            return url.join(response.headers["location"])
        if not 200 <= response.status_code < 300:
            raise FetchRefused(
                "http-status",
                f"{url} answered HTTP {response.status_code} {response.reason_phrase}",
                hint="Check that the URL points at the image itself",
            )
        too_large = FetchRefused(
            "too-large",
            f"{url} is larger than the limit of {policy.max_bytes} bytes",
            hint="Use a smaller image",
        )
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > policy.max_bytes:
            raise too_large
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > policy.max_bytes:
                raise too_large
            if time.monotonic() > deadline:
                raise _timeout(url, policy)
        return bytes(body)
    finally:
        response.close()


def fetch_image(url: str, policy: FetchPolicy) -> tuple[bytes, str]:
    """Download the image at ``url`` under ``policy``; return ``(body, sniffed_mime)``.

    Raises :class:`FetchRefused` for every way the URL cannot be used safely.
    """
    deadline = time.monotonic() + policy.timeout_s
    current = _parse(url)
    limits = httpx.Limits(max_keepalive_connections=0)  # never reuse a connection across hosts
    with httpx.Client(follow_redirects=False, trust_env=False, limits=limits) as client:
        for _hop in range(policy.max_redirects + 1):
            try:
                body = _get(client, current, policy, deadline)
            except httpx.TimeoutException as exc:
                raise _timeout(current, policy) from exc
            except httpx.HTTPError as exc:
                raise FetchRefused(
                    "connect", f"{current} cannot be fetched ({exc})", hint="Check the URL"
                ) from exc
            if isinstance(body, httpx.URL):
                current = _parse(body)
                continue
            mime = sniff_image(body)
            if mime is None:
                raise FetchRefused(
                    "not-an-image",
                    f"{current} is not a PNG, JPEG, WebP, GIF, BMP, TIFF, HEIC or AVIF image",
                    hint="Use a URL that points at the image file itself",
                )
            return body, mime
    raise FetchRefused(
        "too-many-redirects",
        f"{url} redirected more than {policy.max_redirects} times",
        hint="Use the final URL of the image",
    )
