"""Request and response models of the REST API. Job options derive from the recipe's own models
(field descriptions included), and every model forbids unknown keys."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from meshforge.recipe import ExportFormat, FrameOptions, OutputSpec, SegmenterName, SizeSpec


def _help(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].description or ""


def _default_formats() -> list[ExportFormat]:
    return ["glb"]


class JobOptions(BaseModel):
    """The recipe options a job can set; the same names as ``meshforge generate``'s flags."""

    model_config = ConfigDict(extra="forbid")

    engine: str = Field(default="silhouette", description="The engine that builds the mesh.")
    engine_options: dict[str, Any] = Field(
        default_factory=dict, description="Engine options (see `meshforge engines`)."
    )
    profile: str | None = Field(
        default=None,
        description="Target profile (shopify, amazon, apple-ar, web, print, game): its "
        "transforms run and the result is validated against it.",
    )
    formats: list[ExportFormat] = Field(
        default_factory=_default_formats, min_length=1, description=_help(OutputSpec, "formats")
    )
    height: float | None = Field(default=None, gt=0, description=_help(SizeSpec, "height"))
    width: float | None = Field(default=None, gt=0, description=_help(SizeSpec, "width"))
    depth: float | None = Field(default=None, gt=0, description=_help(SizeSpec, "depth"))
    target_faces: int | None = Field(
        default=None, ge=100, le=5_000_000, description="Triangle budget of the result."
    )
    texture_size: int | None = Field(
        default=None, ge=64, le=8192, description="Largest texture side in pixels."
    )
    segmenter: SegmenterName = Field(default="auto", description="Background removal backend.")
    foreground_ratio: float = Field(
        default=0.85, gt=0.2, le=1.0, description=_help(FrameOptions, "foreground_ratio")
    )
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        description="Base name of the output files (default: the asset id).",
    )
    thumbnail: bool = Field(default=True, description=_help(OutputSpec, "thumbnail"))
    turntable: bool = Field(default=False, description=_help(OutputSpec, "turntable"))

    @field_validator("formats", mode="before")
    @classmethod
    def _split_formats(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip().lower() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            return list(
                dict.fromkeys(v.strip().lower() if isinstance(v, str) else v for v in value)
            )
        return value


class JobRequest(JobOptions):
    """``POST /v1/jobs`` as JSON: one input (image_url, image_base64, upload_id or prompt)."""

    image_url: str | None = Field(default=None, max_length=4000, description="http(s) image URL.")
    image_base64: str | None = Field(default=None, description="The image, base64-encoded.")
    upload_id: str | None = Field(default=None, description="An id from POST /v1/uploads.")
    prompt: str | None = Field(
        default=None, max_length=4000, description="A text prompt, for a provider engine."
    )
    webhook_url: str | None = Field(
        default=None, max_length=2000, description="Where job.succeeded/failed/canceled go."
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free, returned as is.")


class FeaturesPrompt(BaseModel):
    model_config = ConfigDict(extra="allow")
    imageUrl: str = Field(description="An http(s) URL or the storage path of an upload.")


class FeaturesRequest(BaseModel):
    """The common "features" API shape (``POST /api/features``)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["IMAGE_3D_GENERATOR"]
    model: str = Field(default="silhouette", description="The engine.")
    promptObject: FeaturesPrompt
