"""The ``tripo`` engine: Tripo's OpenAPI v2 (text_to_model and image_to_model tasks).

Text: ``POST {base}/task`` ``{"type": "text_to_model", "prompt": ...}``. Photo: the framed
subject is uploaded as a PNG (``POST {base}/upload``, multipart part ``file``, answering an
``image_token``), then ``{"type": "image_to_model", "file": {"type": "png", "file_token": ...}}``.
Both answer a ``task_id``, polled at ``GET {base}/task/{task_id}`` until its status ends. Every
answer is ``{"code": 0, "data": ...}``; a non-zero code is an error with ``message`` and
``suggestion``. The model is the output's ``pbr_model``, else ``model``, else ``base_model``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from meshforge.engines.base import Capabilities, GenerationRequest, ProgressFn
from meshforge.engines.remote.client import STAGE, ProviderClient, TaskState, TaskStatus, percent
from meshforge.engines.remote.client import body_message as error_text
from meshforge.engines.remote.engine import RemoteEngine, subject_png
from meshforge.engines.remote.settings import ProviderSettings, provider_settings
from meshforge.errors import ProviderError
from meshforge.recipe import Options
from meshforge.transforms.base import StageReport

TRIPO_BASE_URL = "https://api.tripo3d.ai/v2/openapi"
# Tripo's task statuses; one not listed here is taken as still running.
STATES: dict[str, TaskState] = {
    "queued": "waiting",
    "running": "running",
    "success": "succeeded",
    "failed": "failed",
    "cancelled": "failed",
    "unknown": "failed",
    "banned": "failed",
    "expired": "failed",
}
# The output's model files, best first.
MODEL_KEYS = ("pbr_model", "model", "base_model")


# MESHFORGE_TRIPO_API_KEY (or TRIPO_API_KEY) and MESHFORGE_TRIPO_BASE_URL.
TripoSettings = provider_settings("tripo", TRIPO_BASE_URL)


class TripoOptions(Options):
    """Options of Tripo's tasks; a field left None is not sent, so Tripo's default applies."""

    model_version: str | None = Field(
        default=None,
        min_length=1,
        description="The Tripo model version to run (a name from Tripo's API documentation); "
        "default: Tripo's current one.",
    )
    texture: bool = Field(default=True, description="Ask for a textured model.")
    pbr: bool = Field(
        default=True, description="Ask for PBR materials (the output's pbr_model is preferred)."
    )
    face_limit: int | None = Field(
        default=None, gt=0, description="The most faces the model may have; default: Tripo's."
    )
    negative_prompt: str | None = Field(
        default=None,
        min_length=1,
        description="What the model must not look like (text prompts only).",
    )


class TripoEngine(RemoteEngine):
    name: ClassVar[str] = "tripo"
    version: ClassVar[str] = "1"
    capabilities: ClassVar[Capabilities] = Capabilities(
        image=True, text=True, textured=True, pbr=True
    )
    options_model: ClassVar[type[TripoOptions]] = TripoOptions
    settings_model: ClassVar[type[ProviderSettings]] = TripoSettings
    face_budget_option: ClassVar[str | None] = "face_limit"
    options: TripoOptions

    def run_task(
        self,
        client: ProviderClient,
        request: GenerationRequest,
        report: StageReport,
        progress: ProgressFn,
    ) -> str:
        opts = self.options
        body: dict[str, Any]
        if request.prompt is not None:
            body = {"type": "text_to_model", "prompt": request.prompt}
            if opts.negative_prompt is not None:
                body["negative_prompt"] = opts.negative_prompt
        else:
            if opts.negative_prompt is not None:
                raise self.text_only("negative_prompt")
            assert request.image is not None  # RemoteEngine.generate checked one is given
            token = self._upload(client, subject_png(request.image))
            body = {"type": "image_to_model", "file": {"type": "png", "file_token": token}}
        body["texture"], body["pbr"] = opts.texture, opts.pbr
        if opts.model_version is not None:
            body["model_version"] = opts.model_version
        if opts.face_limit is not None:
            body["face_limit"] = opts.face_limit
        created = _data(client, client.call("POST", "/task", json=body))
        task_id = str(created.get("task_id") or "")
        if not task_id:
            raise self.no_task_id(created)
        report.note("task_id", task_id)
        status = self.follow(
            client, f"task {task_id}", f"/task/{task_id}", lambda p: _status(client, p), progress
        )
        output = status.body.get("output") or {}
        url = next((output[k] for k in MODEL_KEYS if isinstance(output.get(k), str)), None)
        if not url:
            raise self.no_model(task_id, output)
        report.note("model_kind", next(k for k in MODEL_KEYS if output.get(k) == url))
        return str(url)

    def _upload(self, client: ProviderClient, png: bytes) -> str:
        files = {"file": ("subject.png", png, "image/png")}
        token = _data(client, client.call("POST", "/upload", files=files)).get("image_token")
        if not isinstance(token, str) or not token:
            raise ProviderError(
                "tripo accepted the photo but gave no image_token",
                stage=STAGE,
                hint="Run the job again; report it if it persists.",
            )
        return token


def _data(client: ProviderClient, answer: Any) -> dict[str, Any]:
    """The ``data`` of a Tripo answer; a non-zero ``code`` is the provider's refusal."""
    if isinstance(answer, dict) and answer.get("code", 0) != 0:
        raise client.refusal(None, f"code {answer.get('code')}: {error_text(answer)}")
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict):
        raise ProviderError(
            f"tripo answered with an unexpected document: {str(answer)[:200]}",
            stage=STAGE,
            hint="Check that MESHFORGE_TRIPO_BASE_URL points at Tripo's OpenAPI v2.",
        )
    return data


def _status(client: ProviderClient, answer: Any) -> TaskStatus:
    data = _data(client, answer)
    word = str(data.get("status", ""))
    return TaskStatus(
        state=STATES.get(word, "running"),
        percent=percent(data.get("progress")),
        word=word or "no status",
        message=str(data.get("message") or ""),
        body=data,
    )
