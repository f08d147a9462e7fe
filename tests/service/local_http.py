"""Small HTTP servers the service tests run on 127.0.0.1: a webhook receiver that records every
request (and answers scripted status codes), and a static file server for image URLs."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from PIL import Image


def transparent_png(size: int = 64) -> bytes:
    """A valid RGBA PNG whose every pixel is fully transparent: a photo with no foreground."""
    out = io.BytesIO()
    Image.fromarray(np.zeros((size, size, 4), np.uint8), "RGBA").save(out, "PNG")
    return out.getvalue()


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


@dataclass
class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (``port`` 0: any free port).

    ``files`` maps a path to ``(content type, body)`` for GET (each GET is recorded in ``gets``);
    every POST is recorded in ``received`` and answered with the next code of ``script`` (200
    once it is used up).
    """

    port: int = 0
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    gets: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> LocalServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                with owner._lock:
                    owner.gets.append(
                        Received(
                            "GET", self.path, {k.lower(): v for k, v in self.headers.items()}, b""
                        )
                    )
                if self.path in owner.files:
                    self._answer(200, *owner.files[self.path])
                else:
                    self._answer(404, "text/plain", b"not found")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with owner._lock:
                    owner.received.append(
                        Received(
                            "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                        )
                    )
                    status = owner.script.pop(0) if owner.script else 200
                self._answer(status, "application/json", b"{}")

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """The first ``count`` requests received, waiting up to ``timeout`` seconds."""

        def probe() -> list[Received] | None:
            got = self.requests()
            return got[:count] if len(got) >= count else None

        return wait_until(
            probe,
            timeout,
            f"{count} request(s) at {self.url()}",
        )


def wait_until(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``probe`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
