"""The ``meshy`` engine: Meshy's text-to-3D (v2) and image-to-3D (v1) APIs.

Text: ``POST {base}/openapi/v2/text-to-3d`` ``{"mode": "preview", "prompt": ...}`` answers
``{"result": id}``, polled at ``GET {base}/openapi/v2/text-to-3d/{id}``. A preview has no
texture, so by default (option ``refine``) a succeeded preview is followed by
``{"mode": "refine", "preview_task_id": id}`` on the same endpoint, polled the same way.
Photo: ``POST {base}/openapi/v1/image-to-3d`` ``{"image_url": "data:image/png;base64,..."}``
(the framed subject), polled at ``GET {base}/openapi/v1/image-to-3d/{id}``. A task object has
``status``, ``progress`` (0..100), ``model_urls.glb`` and, when it failed,
``task_error.message``; errors are HTTP statuses with ``{"message": ...}``.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

from pydantic import Field

from meshforge.engines.base import Capabilities, GenerationRequest, ProgressFn
from meshforge.engines.remote.client import ProviderClient, TaskState, TaskStatus, percent
from meshforge.engines.remote.engine import TASK_SPAN, RemoteEngine, subject_png
from meshforge.engines.remote.settings import ProviderSettings, provider_settings
from meshforge.recipe import Options
from meshforge.transforms.base import StageReport

MESHY_BASE_URL = "https://api.meshy.ai"
TEXT_PATH = "/openapi/v2/text-to-3d"
IMAGE_PATH = "/openapi/v1/image-to-3d"
# Meshy's task statuses; one not listed here is taken as still running.
STATES: dict[str, TaskState] = {
    "PENDING": "waiting",
    "IN_PROGRESS": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELED": "failed",
    "EXPIRED": "failed",
}
# With a refine step, the preview fills the first part of the task span and the refine the rest.
PREVIEW_SHARE = 0.45


# MESHFORGE_MESHY_API_KEY (or MESHY_API_KEY) and MESHFORGE_MESHY_BASE_URL.
MeshySettings = provider_settings("meshy", MESHY_BASE_URL)


class MeshyOptions(Options):
    """Options of Meshy's tasks; a field left None is not sent, so Meshy's default applies."""

    ai_model: str | None = Field(
        default=None,
        min_length=1,
        description="The Meshy model to run (a name from Meshy's API documentation); "
        "default: Meshy's.",
    )
    art_style: str | None = Field(
        default=None,
        min_length=1,
        description="The preview's art style, e.g. 'realistic' (text prompts only).",
    )
    should_remesh: bool | None = Field(
        default=None, description="Ask Meshy to remesh the model; default: Meshy's."
    )
    target_polycount: int | None = Field(
        default=None,
        ge=100,
        le=300_000,
        description="The polygon count Meshy aims at (used when it remeshes).",
    )
    refine: bool = Field(
        default=True,
        description="Follow a text prompt's untextured preview with a refine task, which "
        "textures it (photos are textured in one task).",
    )


class MeshyEngine(RemoteEngine):
    name: ClassVar[str] = "meshy"
    version: ClassVar[str] = "1"
    capabilities: ClassVar[Capabilities] = Capabilities(image=True, text=True, textured=True)
    options_model: ClassVar[type[MeshyOptions]] = MeshyOptions
    settings_model: ClassVar[type[ProviderSettings]] = MeshySettings
    options: MeshyOptions

    def run_task(
        self,
        client: ProviderClient,
        request: GenerationRequest,
        report: StageReport,
        progress: ProgressFn,
    ) -> str:
        opts = self.options
        sent = opts.model_dump(exclude={"refine", "art_style"}, exclude_none=True)
        if request.prompt is None:
            if opts.art_style is not None:
                raise self.text_only("art_style")
            assert request.image is not None  # RemoteEngine.generate checked one is given
            image = "data:image/png;base64," + base64.b64encode(subject_png(request.image)).decode()
            task = self._start(client, IMAGE_PATH, {"image_url": image, **sent})
            report.note("task_id", task)
            status = self._follow(client, IMAGE_PATH, task, "image-to-3d task", progress)
        else:
            if opts.art_style is not None:
                sent["art_style"] = opts.art_style
            task = self._start(
                client, TEXT_PATH, {"mode": "preview", "prompt": request.prompt, **sent}
            )
            report.note("preview_task_id", task)
            low, high = TASK_SPAN
            split = high if not opts.refine else low + (high - low) * PREVIEW_SHARE
            status = self._follow(client, TEXT_PATH, task, "preview task", progress, (low, split))
            if opts.refine:
                task = self._start(client, TEXT_PATH, {"mode": "refine", "preview_task_id": task})
                report.note("refine_task_id", task)
                status = self._follow(
                    client, TEXT_PATH, task, "refine task", progress, (split, high)
                )
        urls = status.body.get("model_urls") or {}
        url = urls.get("glb") if isinstance(urls, dict) else None
        if not isinstance(url, str) or not url:
            raise self.no_model(task, urls if isinstance(urls, dict) else {})
        return url

    def _start(self, client: ProviderClient, path: str, body: dict[str, Any]) -> str:
        answer = client.call("POST", path, json=body)
        task = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(task, str) or not task:
            raise self.no_task_id(answer)
        return task

    def _follow(
        self,
        client: ProviderClient,
        path: str,
        task: str,
        what: str,
        progress: ProgressFn,
        span: tuple[float, float] = TASK_SPAN,
    ) -> TaskStatus:
        return self.follow(client, f"{what} {task}", f"{path}/{task}", _status, progress, span)


def _status(answer: Any) -> TaskStatus:
    task = answer if isinstance(answer, dict) else {}
    word = str(task.get("status", ""))
    error = task.get("task_error")
    message = error.get("message") if isinstance(error, dict) else None
    return TaskStatus(
        state=STATES.get(word, "running"),
        percent=percent(task.get("progress")),
        word=word or "no status",
        message=str(message or ""),
        body=task,
    )
