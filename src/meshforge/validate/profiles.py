"""Validation profiles: what a target (a marketplace, a viewer, a printer) accepts, as data.

A profile is a YAML file checked against :class:`Profile` (unknown keys are an error). The
built-ins live in ``validate/profiles/*.yaml``; a user's own file may ``extends:`` a built-in
(or another file) and override only what differs, e.g.::

    extends: shopify
    name: my-shop
    budgets:
      triangles: 50000
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import Field, ValidationError

from meshforge.errors import InputError
from meshforge.recipe import Options, describe_validation_error
from meshforge.validate.checks import MapKind

CheckLevel = Literal["error", "warning", "off"]
CheckId = Literal[
    "file_format",
    "file_size",
    "watertight",
    "manifold",
    "winding",
    "degenerate_faces",
    "uv_present",
    "uv_range",
    "texture_power_of_two",
    "texture_max_size",
    "texture_min_size",
    "pbr_maps",
    "materials",
    "triangles",
    "vertices",
    "real_size",
    "pivot",
    "up_axis",
]
CHECK_IDS: tuple[str, ...] = get_args(CheckId)
# Every check is required unless a profile says otherwise; the geometric guesses only warn.
WARNING_ONLY: dict[str, CheckLevel] = {"up_axis": "warning"}
DEFAULT_LEVELS: dict[str, CheckLevel] = {
    check: WARNING_ONLY.get(check, "error") for check in CHECK_IDS
}


class Budgets(Options):
    """Limits; a limit left out (null) is not checked."""

    triangles: int | None = Field(default=None, gt=0, description="Most triangles.")
    vertices: int | None = Field(default=None, gt=0, description="Most vertices.")
    texture_max_size: int | None = Field(
        default=None, gt=0, description="Largest allowed texture side, in pixels."
    )
    texture_min_size: int | None = Field(
        default=None, gt=0, description="Smallest allowed texture side, in pixels."
    )
    texture_power_of_two: bool = Field(
        default=True, description="Texture sides must be powers of two."
    )
    file_size_mb: float | None = Field(
        default=None, gt=0, description="Largest file, in MB of 1,000,000 bytes."
    )
    materials: int | None = Field(default=None, gt=0, description="Most materials.")


class SizeRange(Options):
    """A plausible largest dimension, in metres."""

    min_m: float = Field(gt=0, description="Smallest plausible largest dimension (m).")
    max_m: float = Field(gt=0, description="Largest plausible largest dimension (m).")


class TransformSpec(Options):
    """A transform the profile implies, by name with its options; run by
    ``meshforge.transforms.chain.transforms_for``."""

    name: str = Field(description="The transform's name, e.g. decimate.")
    options: dict[str, Any] = Field(default_factory=dict, description="Its options.")


class Profile(Options):
    """What one target accepts, and the transforms that get an asset there."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="Its name.")
    description: str = Field(default="", description="What the target is; where figures are from.")
    extends: str | None = Field(
        default=None, description="The profile this one was built on (a name or a YAML path)."
    )
    formats: tuple[str, ...] = Field(
        min_length=1, description="Accepted file formats (extensions, lower case)."
    )
    units: Literal["m", "mm"] = Field(
        default="m", description="The length unit of the file's coordinates."
    )
    up_axis: Literal["+y", "+z"] = Field(default="+y", description="The axis that points up.")
    pivot: Literal["bottom-center", "base-on-ground", "any"] = Field(
        default="bottom-center", description="Where the origin must be."
    )
    budgets: Budgets = Field(default_factory=Budgets, description="Counts and sizes.")
    required_maps: tuple[MapKind, ...] = Field(
        default=(), description="PBR maps every material must have: base_color, normal, orm."
    )
    real_size: SizeRange | None = Field(
        default=None, description="Plausible largest dimension; null skips the check."
    )
    checks: dict[CheckId, CheckLevel] = Field(
        default_factory=dict,
        description="Per-check level (error, warning, off) over the defaults.",
    )
    transforms: tuple[TransformSpec, ...] = Field(
        default=(), description="Transforms that bring an asset to this profile, in order."
    )

    def level(self, check: str) -> CheckLevel:
        """How a check counts: an explicit level, else its default."""
        explicit: dict[str, CheckLevel] = {str(k): v for k, v in self.checks.items()}
        return explicit.get(check, DEFAULT_LEVELS[check])


def builtin_profiles() -> list[str]:
    """The names of the profiles shipped with meshforge."""
    folder = resources.files("meshforge.validate") / "profiles"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile by name, or a user's YAML file by path (``extends:`` resolved)."""
    return Profile.model_validate(_resolve(str(name_or_path), seen=()))


def _resolve(ref: str, seen: tuple[str, ...], base: Path | None = None) -> dict[str, Any]:
    data, key, where = _read(ref, base)
    if key in seen:
        chain = " -> ".join([*seen, key])
        raise InputError(f"profile {ref}: extends itself ({chain})", stage="profile")
    parent = data.get("extends")
    if parent is None:
        return _checked(data, where)
    if not isinstance(parent, str):
        raise InputError(
            f"profile {where}: extends must be a profile name or path", stage="profile"
        )
    base_dir = Path(where).parent if Path(where).is_file() else None
    merged = _merge(_resolve(parent, (*seen, key), base_dir), data)
    return _checked(merged, where)


def _read(ref: str, base: Path | None) -> tuple[dict[str, Any], str, str]:
    builtins = builtin_profiles()
    default_name: str | None = None
    if ref in builtins:
        resource = resources.files("meshforge.validate") / "profiles" / f"{ref}.yaml"
        text, where, key = resource.read_text(encoding="utf-8"), f"{ref} (built-in)", ref
    else:
        path = Path(ref)
        if base is not None and not path.is_absolute() and not path.exists():
            path = base / path
        if not path.is_file() or path.suffix.lower() not in (".yaml", ".yml"):
            raise InputError(
                f"unknown profile {ref!r}",
                stage="profile",
                hint=f"Use one of: {', '.join(builtins)}; or the path of a YAML profile file.",
            )
        text, where, key = path.read_text(encoding="utf-8"), str(path), str(path.resolve())
        default_name = path.stem
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"profile {where} is not valid YAML: {exc}", stage="profile") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"profile {where} must be a mapping of keys to values", stage="profile")
    if "name" not in data and default_name is not None:
        data["name"] = default_name  # a user's file is named after itself, not its parent
    return data, key, where


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists included) is replaced whole."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _checked(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate early so that an error names the file it came from."""
    try:
        Profile.model_validate(data)
    except ValidationError as exc:
        raise InputError(
            f"profile {where} is invalid: {describe_validation_error(exc)}",
            stage="profile",
            hint="Fix the keys named above; unknown keys are not allowed.",
        ) from exc
    return data
