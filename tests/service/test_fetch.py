"""meshforge.service.fetch against a real HTTP server on 127.0.0.1 (offline, a few seconds)."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from PIL import Image

from meshforge.errors import InputError
from meshforge.service.fetch import FetchPolicy, FetchRefused, check_url, fetch_image, sniff_image

LOCAL = FetchPolicy(allow_hosts=("127.0.0.1",), timeout_s=5.0)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()


@dataclass
class Server:
    port: int
    hosts: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    server_state: Server
    stop: threading.Event

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server_state.hosts.append(self.headers.get("Host", ""))
        port = self.server_state.port
        redirects = {
            "/redirect-png": "/png",
            "/redirect-loopback": f"http://127.0.0.1:{port}/png",
            "/redirect-metadata": "http://169.254.169.254/latest/meta-data/",
            "/redirect-ftp": "ftp://127.0.0.1/png",
            "/loop": "/loop",
        }
        try:
            if self.path in redirects:
                self._send(302, Location=redirects[self.path], Content_Length="0")
            elif self.path == "/png":
                self._send(200, PNG, Content_Type="image/png", Content_Length=str(len(PNG)))
            elif self.path == "/text":
                self._send(200, b"hello, not an image", Content_Type="text/plain")
            elif self.path == "/big":  # announced: refused before the body is read
                self._send(200, PNG + bytes(5000), Content_Length=str(len(PNG) + 5000))
            elif self.path == "/big-stream":  # no Content-Length: the cap must hold while reading
                self._send(200, PNG + bytes(50_000))
            elif self.path == "/slow":  # no answer at all until the test ends
                self.stop.wait(5)
                self._send(200, PNG)
            elif self.path == "/trickle":  # each read is quick, the whole body is not
                self._send(200, PNG[:8])
                while not self.stop.wait(0.05):
                    self.wfile.write(b"\0")
                    self.wfile.flush()
            else:
                self._send(404, b"missing", Content_Length="7")
        except OSError:  # the client hung up, as it should on a refusal
            pass


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    stop = threading.Event()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    state = Server(port=httpd.server_address[1])
    _Handler.server_state, _Handler.stop = state, stop
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _refused(reason: str, url: str, policy: FetchPolicy = LOCAL) -> FetchRefused:
    with pytest.raises(FetchRefused) as info:
        fetch_image(url, policy)
    assert info.value.reason == reason, str(info.value)
    assert str(info.value).startswith("fetch: ")
    return info.value


@pytest.mark.parametrize(
    ("url", "address", "kind"),
    [
        ("http://127.0.0.1/x.png", "127.0.0.1", "loopback"),
        ("http://10.0.0.1/x.png", "10.0.0.1", "private"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "cloud metadata"),
        ("http://[::1]:8080/x.png", "::1", "loopback"),
        ("http://0.0.0.0/x.png", "0.0.0.0", "unspecified"),
        ("http://100.64.1.2/", "100.64.1.2", "shared"),
        ("http://100.100.100.200/", "100.100.100.200", "cloud metadata"),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254", "cloud metadata"),
        ("http://224.0.0.1/", "224.0.0.1", "multicast"),
        ("http://240.0.0.1/", "240.0.0.1", "reserved"),
        ("http://[::ffff:10.0.0.1]/", "::ffff:a00:1", "private"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1", "loopback"),
        ("https://[2002:a9fe:a9fe::1]/", "2002:a9fe:a9fe::1", "cloud metadata"),
    ],
)
def test_blocked_addresses_are_refused(url: str, address: str, kind: str) -> None:
    error = _refused("address", url, FetchPolicy())
    assert isinstance(error, InputError)
    assert f"the address {address} is" in str(error)
    assert kind in str(error)
    assert "MESHFORGE_URL_ALLOWLIST" in str(error)


def test_localhost_is_refused_after_resolving() -> None:
    error = _refused("address", "http://localhost/", FetchPolicy())
    assert " of localhost is loopback" in str(error)
    assert "127.0.0.1" in str(error) or "::1" in str(error)


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    policy = FetchPolicy(resolver=lambda host: ["93.184.215.14", "10.0.0.1"])
    with pytest.raises(FetchRefused, match=r"10\.0\.0\.1 of images\.example is private") as info:
        check_url("https://images.example/a.png", policy)
    assert info.value.reason == "address"


def test_public_and_allow_listed_addresses_pass_without_connecting() -> None:
    public = FetchPolicy(resolver=lambda host: ["93.184.215.14", "2606:2800:21f:cb07::1"])
    assert check_url("https://Images.Example./a.png", public) == [
        "93.184.215.14",
        "2606:2800:21f:cb07::1",
    ]
    internal = FetchPolicy(allow_hosts=("10.0.0.0/8",), resolver=lambda host: ["10.1.2.3"])
    assert check_url("http://images.internal/a.png", internal) == ["10.1.2.3"]
    by_name = FetchPolicy(allow_hosts=("images.internal",), resolver=lambda host: ["10.1.2.3"])
    assert check_url("http://images.internal/a.png", by_name) == ["10.1.2.3"]
    with pytest.raises(FetchRefused, match=r"10\.1\.2\.3 of other\.internal"):
        check_url("http://other.internal/a.png", by_name)


def test_dns_failure_is_refused() -> None:
    def fail(host: str) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(FetchRefused, match=r"no\.such\.host cannot be resolved") as info:
        check_url("http://no.such.host/", FetchPolicy(resolver=fail))
    assert info.value.reason == "dns"
    with pytest.raises(FetchRefused, match="has no usable address"):
        check_url("http://empty.host/", FetchPolicy(resolver=lambda host: []))
    with pytest.raises(FetchRefused, match="has no usable address"):
        check_url("http://odd.host/", FetchPolicy(resolver=lambda host: ["not-an-ip"]))


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd", "gopher://x/"])
def test_other_schemes_are_refused(url: str) -> None:
    error = _refused("scheme", url, FetchPolicy())
    assert "scheme" in str(error) and "http" in str(error)


def test_allow_listed_png_is_fetched_and_sniffed(server: Server) -> None:
    body, mime = fetch_image(server.url("/png"), LOCAL)
    assert (body, mime) == (PNG, "image/png")
    body, mime = fetch_image(server.url("/redirect-png"), LOCAL)
    assert (body, mime) == (PNG, "image/png")


def test_the_connection_goes_to_the_checked_ip_with_the_original_host(server: Server) -> None:
    calls: list[str] = []

    def resolve(host: str) -> list[str]:  # a rebinding DNS would answer differently next time
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else ["93.184.215.14"]

    policy = FetchPolicy(allow_hosts=("images.test",), resolver=resolve, timeout_s=5.0)
    server.hosts.clear()
    assert fetch_image(server.url("/png", host="images.test"), policy) == (PNG, "image/png")
    assert calls == ["images.test"]
    assert server.hosts == [f"images.test:{server.port}"]


def test_https_sends_sni_and_host_for_the_name_but_connects_to_the_ip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[httpx.Request] = []

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=PNG, request=request)

    monkeypatch.setattr(httpx.Client, "send", send)
    policy = FetchPolicy(resolver=lambda host: ["93.184.215.14"])
    assert fetch_image("https://images.example/a.png?v=2", policy) == (PNG, "image/png")
    (request,) = sent
    assert str(request.url) == "https://93.184.215.14/a.png?v=2"
    assert request.headers["host"] == "images.example"
    assert request.extensions["sni_hostname"] == "images.example"


@pytest.mark.parametrize(
    ("path", "policy", "reason", "detail"),
    [
        ("/redirect-metadata", LOCAL, "address", "169.254.169.254 is"),
        ("/redirect-ftp", LOCAL, "scheme", "'ftp'"),
        ("/text", LOCAL, "not-an-image", "is not a PNG"),
        ("/missing", LOCAL, "http-status", "HTTP 404"),
        ("/loop", LOCAL, "too-many-redirects", "more than 5 times"),
        ("/big", FetchPolicy(("127.0.0.1",), max_bytes=1000), "too-large", "1000 bytes"),
        ("/big-stream", FetchPolicy(("127.0.0.1",), max_bytes=1000), "too-large", "1000 bytes"),
    ],
)
def test_bad_answers_are_refused(
    server: Server, path: str, policy: FetchPolicy, reason: str, detail: str
) -> None:
    assert detail in str(_refused(reason, server.url(path), policy))


def test_a_redirect_to_a_blocked_address_is_refused_even_from_an_allowed_host(
    server: Server,
) -> None:
    policy = FetchPolicy(allow_hosts=("images.test",), resolver=lambda host: ["127.0.0.1"])
    url = server.url("/redirect-loopback", host="images.test")
    assert "the address 127.0.0.1 is loopback" in str(_refused("address", url, policy))


@pytest.mark.parametrize("path", ["/slow", "/trickle"])
def test_the_deadline_covers_the_whole_fetch(server: Server, path: str) -> None:
    start = time.monotonic()
    policy = FetchPolicy(allow_hosts=("127.0.0.1",), timeout_s=0.5)
    assert "within 0.5 s" in str(_refused("timeout", server.url(path), policy))
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
        (b"GIF89a\x01\0\x01\0", "image/gif"),
        (b"BM" + bytes(30), "image/bmp"),
        (b"II*\0\x08\0\0\0", "image/tiff"),
        (b"\0\0\0\x18ftypheic\0\0\0\0", "image/heic"),
        (b"\0\0\0\x1cftypavif\0\0\0\0", "image/avif"),
        (b"\0\0\0\x18ftypmif1\0\0\0\0", "image/heif"),
        (b"\0\0\0\x18ftypisom\0\0\0\0", None),
        (b"<html>", None),
        (b"", None),
    ],
)
def test_sniff_image(head: bytes, mime: str | None) -> None:
    assert sniff_image(head) == mime
