"""A job, declared once: the pydantic models that the CLI, batch files and the API derive from.

Every model forbids unknown keys, so a typo in a batch file or a request is an error, never
silently ignored. Each field's description is the help text the CLI shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from meshforge.errors import RecipeError

SegmenterName = Literal["auto", "u2net", "u2netp", "alpha", "color-key"]
ExportFormat = Literal["glb", "gltf", "obj", "stl", "ply", "3mf", "usdz"]
EXPORT_FORMATS: tuple[str, ...] = ("glb", "gltf", "obj", "stl", "ply", "3mf", "usdz")
DEFAULT_HEIGHT_M = 0.25


class Options(BaseModel):
    """Base of every options model: frozen, unknown keys rejected, values validated on set."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ImageInput(Options):
    path: Path = Field(description="The product photo to reconstruct.")


class SegmentOptions(Options):
    segmenter: SegmenterName = Field(
        default="auto",
        description="Background removal: auto picks the photo's alpha if it has one, else u2net "
        "if installed, else color-key.",
    )
    feather_px: float = Field(
        default=1.0, ge=0.0, le=10.0, description="Edge softening of the mask, in pixels."
    )


class FrameOptions(Options):
    foreground_ratio: float = Field(
        default=0.85,
        gt=0.2,
        le=1.0,
        description="How much of the framed square the subject's longer side fills.",
    )
    size: int = Field(
        default=512, ge=128, le=2048, description="Side of the framed image in pixels."
    )


class SizeSpec(Options):
    """The real-world size: give at most one of height, width or depth (metres)."""

    height: float | None = Field(default=None, gt=0, description="Real height in metres (Y).")
    width: float | None = Field(default=None, gt=0, description="Real width in metres (X).")
    depth: float | None = Field(default=None, gt=0, description="Real depth in metres (Z).")

    @model_validator(mode="after")
    def _at_most_one(self) -> SizeSpec:
        given = [k for k in ("height", "width", "depth") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give only one of height, width or depth (got {', '.join(given)})")
        return self

    @property
    def given(self) -> tuple[str, float] | None:
        """The axis the user fixed and its length, or None when the size is unknown."""
        for axis in ("height", "width", "depth"):
            value = getattr(self, axis)
            if value is not None:
                return axis, float(value)
        return None


class EngineSpec(Options):
    name: str = Field(default="silhouette", description="The engine that builds the raw asset.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Engine options (see `meshforge engines`)."
    )


class OutputSpec(Options):
    directory: Path = Field(default=Path("out"), description="Where the outputs are written.")
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        description="Base name of the output files (default: the photo's file name).",
    )
    formats: tuple[ExportFormat, ...] = Field(
        default=("glb",),
        min_length=1,
        description="Export formats: glb, gltf, obj, stl, ply, 3mf, usdz.",
    )
    thumbnail: bool = Field(default=True, description="Write NAME.png, a rendered thumbnail.")
    thumbnail_size: int = Field(default=512, ge=64, le=4096, description="Thumbnail side (px).")
    turntable: bool = Field(
        default=False,
        description="Write NAME_turntable.webp/.gif (and .mp4 with an encoder): frames around +Y.",
    )
    turntable_frames: int = Field(default=36, ge=1, le=720, description="Turntable frames.")
    turntable_size: int = Field(default=512, ge=64, le=2048, description="Turntable side (px).")

    @field_validator("formats", mode="before")
    @classmethod
    def _split_formats(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip().lower() for v in value.split(",") if v.strip()]
        if isinstance(value, list | tuple):
            return tuple(dict.fromkeys(value))
        return value


class Recipe(Options):
    """Everything one ``generate`` job needs."""

    input: ImageInput
    segment: SegmentOptions = Field(default_factory=SegmentOptions)
    frame: FrameOptions = Field(default_factory=FrameOptions)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    size: SizeSpec = Field(default_factory=SizeSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)

    @property
    def output_name(self) -> str:
        return self.output.name or self.input.path.stem


def build_recipe(data: dict[str, Any]) -> Recipe:
    """Validate a plain dict into a Recipe, turning pydantic's errors into one RecipeError."""
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(
            "invalid options: " + describe_validation_error(exc),
            hint="Fix the options named above; unknown keys are not allowed.",
        ) from exc


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "recipe"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def field_help(model: type[BaseModel], name: str) -> str:
    """The description of one field: the CLI's help text comes from here."""
    return model.model_fields[name].description or ""
