"""Fake Tripo and Meshy APIs on 127.0.0.1, following the endpoints and documents that the
providers document (tests/engines, the pipeline, CLI and service tests use them).

One FastAPI app serves both: Tripo under ``/tripo`` (``/upload``, ``/task``, ``/task/{id}``),
Meshy under ``/meshy`` (``/openapi/v2/text-to-3d[/{id}]``, ``/openapi/v1/image-to-3d[/{id}]``)
and the model files under ``/files``. A task succeeds on its ``finish_after``-th poll (never
with 0), its progress rising with each poll. ``faults`` are answers served, once each and in
order, before the normal one to requests whose method and path start as given. Every request
is recorded in ``calls``; every image the providers receive is kept (decoded) in ``images``.
"""

from __future__ import annotations

import base64
import io
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trimesh
from PIL import Image

from service_harness import free_port

KEY = "test-provider-key"
# The served models: "textured" is a box with a base colour texture and PBR factors, "plain"
# the same box without material (a Meshy preview), offset from the origin.
BOX_EXTENTS = (0.4, 1.0, 0.6)
BOX_OFFSET = (0.3, 0.2, -0.1)


def box_glb(textured: bool = True) -> bytes:
    mesh = trimesh.creation.box(extents=BOX_EXTENTS)
    mesh.apply_translation(BOX_OFFSET)
    if textured:
        texels = np.zeros((8, 8, 3), np.uint8)
        texels[:4] = (200, 40, 30)
        texels[4:] = (30, 60, 190)
        uv = (mesh.vertices[:, :2] - mesh.bounds[0, :2]) / np.ptp(mesh.vertices[:, :2], axis=0)
        material = trimesh.visual.material.PBRMaterial(
            baseColorTexture=Image.fromarray(texels), metallicFactor=0.0, roughnessFactor=0.6
        )
        mesh.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return bytes(mesh.export(file_type="glb"))


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    method: str
    path: str  # a prefix of the request's path
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeProviders:
    port: int = 0
    finish_after: int = 3  # polls until a task ends; 0: never
    outcome: str = "success"  # tripo's final status word (meshy's is mapped from it)
    failure_message: str = ""
    model_file: str = "model.glb"  # what finished tasks point at, under /files
    tripo_output: dict[str, str] | None = None  # overrides a finished Tripo task's output
    faults: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    images: list[Image.Image] = field(default_factory=list)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _server: Any = None

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def reset(self) -> None:
        """Back to a fresh provider whose tasks succeed on the third poll."""
        self.finish_after, self.outcome, self.failure_message = 3, "success", ""
        self.model_file, self.tripo_output = "model.glb", None
        for records in (self.faults, self.calls, self.images):
            records.clear()
        self.tasks.clear()
        self._ids = itertools.count()

    def env(self) -> dict[str, str]:
        """The variables that point both engines at this server, with short waits."""
        return {
            "MESHFORGE_TRIPO_API_KEY": KEY,
            "MESHFORGE_TRIPO_BASE_URL": self.url("/tripo"),
            "MESHFORGE_MESHY_API_KEY": KEY,
            "MESHFORGE_MESHY_BASE_URL": self.url("/meshy"),
            "MESHFORGE_REMOTE_POLL_INTERVAL_S": "0.01",
            "MESHFORGE_REMOTE_MAX_POLL_INTERVAL_S": "0.05",
            "MESHFORGE_REMOTE_RETRY_BACKOFF_S": "0.01",
            "MESHFORGE_REMOTE_TASK_TIMEOUT_S": "30",
        }

    def called(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path == path]

    # -------------------------------------------------------------------- tasks

    def new_task(self, provider: str, kind: str, body: Any) -> str:
        task_id = f"{provider}-{kind}-{next(self._ids)}"
        self.tasks[task_id] = {"kind": kind, "polls": 0, "body": body}
        return task_id

    def poll(self, task_id: str) -> tuple[str, float]:
        """One poll of a task: its Tripo status word and progress."""
        task = self.tasks[task_id]
        task["polls"] += 1
        if self.finish_after == 0:
            return "running", 50.0
        if task["polls"] >= self.finish_after:
            return self.outcome, 100.0
        return ("queued" if task["polls"] == 1 else "running"), 100.0 * (
            task["polls"] - 1
        ) / self.finish_after

    def file_url(self, textured: bool = True) -> str:
        return self.url("/files/" + (self.model_file if textured else "preview.glb"))

    # -------------------------------------------------------------------- server

    def start(self) -> FakeProviders:
        import uvicorn

        from fake_provider_routes import build_app

        self.files.update(
            {
                "model.glb": ("model/gltf-binary", box_glb()),
                "preview.glb": ("model/gltf-binary", box_glb(textured=False)),
                "page.html": ("text/html", b"<html><body>Sign in to download</body></html>"),
            }
        )
        self.port = free_port()
        config = uvicorn.Config(
            build_app(self), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        thread = threading.Thread(target=self._server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the fake provider server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True


def decode_png(data: bytes) -> Image.Image:
    """The PNG a provider received (raises when it is not one)."""
    image = Image.open(io.BytesIO(data))
    if image.format != "PNG":
        raise ValueError(f"not a PNG: {image.format}")
    image.load()
    return image


def decode_data_url(url: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    if not url.startswith(prefix):
        raise ValueError("not a PNG data URL")
    return decode_png(base64.b64decode(url[len(prefix) :], validate=True))


@contextmanager
def running_fake() -> Iterator[FakeProviders]:
    fake = FakeProviders().start()
    try:
        yield fake
    finally:
        fake.stop()


@dataclass
class EngineRun:
    """What one engine.generate call gave: the asset, its stage report and every progress
    call as (fraction, message)."""

    asset: Any
    report: Any
    progress: list[tuple[float, str]]


def run_engine(
    engine: str, prompt: str | None = "a red ceramic mug", image: Any = None, **options: Any
) -> EngineRun:
    """``engine`` (created with ``options``) on a prompt or a framed image, outside a pipeline."""
    from meshforge.engines.base import GenerationRequest, create_engine
    from meshforge.transforms.base import StageReport

    seen: list[tuple[float, str]] = []
    report = StageReport(stage="reconstruct")
    request = GenerationRequest(prompt=prompt, image=image)
    asset = create_engine(engine, options).generate(
        request, report, lambda f, m: seen.append((f, m))
    )
    return EngineRun(asset, report, seen)


def framed_bottle(size: int = 256) -> Any:
    """A framed subject (meshforge.image.frame) of a painted bottle: an engine's photo input."""
    from meshforge.image.frame import frame_subject
    from synthetic import bottle_mask, paint

    mask = bottle_mask(size)
    return frame_subject(paint(mask), mask.astype(np.float32), size=size)
