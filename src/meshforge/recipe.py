"""A job, declared once: the pydantic models that the CLI, batch files and the API derive from.

Every model forbids unknown keys, so a typo in a batch file or a request is an error, never
silently ignored. Each field's description is the help text the CLI shows.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from meshforge.errors import RecipeError

SegmenterName = Literal["auto", "u2net", "u2netp", "alpha", "color-key"]
ExportFormat = Literal["glb", "gltf", "obj", "stl", "ply", "3mf", "usdz"]
EXPORT_FORMATS: tuple[str, ...] = ("glb", "gltf", "obj", "stl", "ply", "3mf", "usdz")
DEFAULT_HEIGHT_M = 0.25


class Options(BaseModel):
    """Base of every options model: frozen, unknown keys rejected, values validated on set."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ImageInput(Options):
    """A product photo: loaded, segmented, checked and framed before the engine sees it."""

    path: Path = Field(description="The product photo to reconstruct.")

    @property
    def default_name(self) -> str:
        return self.path.stem


class PromptInput(Options):
    """A text prompt, handed to an engine that takes text (a remote provider's)."""

    prompt: str = Field(
        min_length=1,
        max_length=4000,
        description="A text prompt describing the product, for an engine that takes text "
        "(tripo, meshy).",
    )

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the prompt is blank; describe the product in words")
        return value

    @property
    def default_name(self) -> str:
        return prompt_slug(self.prompt)


def prompt_slug(prompt: str, limit: int = 64) -> str:
    """A file name from a prompt: ASCII words joined by '-' ("a red mug" -> "a-red-mug"); a
    prompt with no ASCII letter or digit gets ``prompt-`` and its hash's first 8 digits."""
    ascii_text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode()
    slug = "-".join(re.findall(r"[a-z0-9]+", ascii_text.lower()))[:limit].strip("-")
    return slug or "prompt-" + hashlib.sha256(prompt.encode()).hexdigest()[:8]


def _input_kind(value: Any) -> str:
    """Which input a recipe's ``input`` is: "prompt" when it has a prompt, else "photo"."""
    if isinstance(value, dict):
        return "prompt" if "prompt" in value else "photo"
    return "prompt" if isinstance(value, PromptInput) else "photo"


RecipeInput = Annotated[
    Annotated[ImageInput, Tag("photo")] | Annotated[PromptInput, Tag("prompt")],
    Discriminator(_input_kind),
]


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
        description="Base name of the output files (default: the photo's file name, or the "
        "prompt's words joined by '-').",
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

    input: RecipeInput = Field(
        description="Exactly one of: path (a product photo) or prompt (a text prompt)."
    )
    segment: SegmentOptions = Field(default_factory=SegmentOptions)
    frame: FrameOptions = Field(default_factory=FrameOptions)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    size: SizeSpec = Field(default_factory=SizeSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)

    @field_validator("input", mode="before")
    @classmethod
    def _one_input(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        given = {k: v for k, v in value.items() if v is not None}
        inputs = [k for k in ("path", "prompt") if k in given]
        if len(inputs) != 1:
            got = " and ".join(inputs) if inputs else "neither"
            raise ValueError(
                f"give exactly one input, path (a photo) or prompt (a text prompt); got {got}"
            )
        return given

    @property
    def output_name(self) -> str:
        """The output files' base name: the one given, else the photo's stem or the prompt's
        slug."""
        return self.output.name or self.input.default_name


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
