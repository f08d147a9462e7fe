"""Every check a profile can run, by id and in report order, with what it needs from a profile.

A :class:`Subject` is what the checks look at: the asset, its textures and materials (as the
file stores them, when there is one), the file, and the frame its coordinates are in. Each
:class:`Check` turns a subject into one CheckResult, or None where the profile sets no limit for
it (no triangle budget, no file). ``report.validate_asset`` builds the subject and runs
:func:`run_checks`; the profile's ``checks`` levels decide which run and how strictly.

The ids here and ``profiles.CheckId`` (which a profile's YAML keys are checked against) are the
same list; a test keeps them equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from meshforge.asset import Asset
from meshforge.validate.checks.base import CheckResult, MaterialInfo, TextureInfo
from meshforge.validate.checks.budgets import (
    check_file_format,
    check_file_size,
    check_triangles,
    check_vertices,
)
from meshforge.validate.checks.geometry import (
    check_degenerate_faces,
    check_manifold,
    check_watertight,
    check_winding,
)
from meshforge.validate.checks.materials import check_material_count, check_pbr_maps
from meshforge.validate.checks.placement import check_pivot, check_real_size, check_up_axis
from meshforge.validate.checks.textures import (
    check_texture_max_size,
    check_texture_min_size,
    check_texture_power_of_two,
)
from meshforge.validate.checks.uv import check_uv_present, check_uv_range

if TYPE_CHECKING:
    from meshforge.validate.profiles import Profile


@dataclass(frozen=True)
class Subject:
    """What the checks look at; ``unit_m`` and ``up_axis`` describe the coordinates."""

    asset: Asset
    profile: Profile
    textures: list[TextureInfo]
    materials: list[MaterialInfo]
    path: Path | None = None
    unit_m: float = 1.0
    up_axis: str = "+y"


@dataclass(frozen=True)
class Check:
    """One check: its id and how it runs on a subject (None: the profile sets no limit)."""

    id: str
    run: Callable[[Subject], CheckResult | None]


def _file_format(s: Subject) -> CheckResult | None:
    return None if s.path is None else check_file_format(s.path, s.profile.formats)


def _file_size(s: Subject) -> CheckResult | None:
    limit = s.profile.budgets.file_size_mb
    if s.path is None or limit is None:
        return None
    return check_file_size(s.path.stat().st_size, limit)


def _power_of_two(s: Subject) -> CheckResult | None:
    if not s.profile.budgets.texture_power_of_two:
        return None
    return check_texture_power_of_two(s.textures)


def _texture_max(s: Subject) -> CheckResult | None:
    limit = s.profile.budgets.texture_max_size
    return None if limit is None else check_texture_max_size(s.textures, limit)


def _texture_min(s: Subject) -> CheckResult | None:
    limit = s.profile.budgets.texture_min_size
    return None if limit is None else check_texture_min_size(s.textures, limit)


def _materials(s: Subject) -> CheckResult | None:
    limit = s.profile.budgets.materials
    return None if limit is None else check_material_count(s.materials, limit)


def _triangles(s: Subject) -> CheckResult | None:
    limit = s.profile.budgets.triangles
    return None if limit is None else check_triangles(s.asset, limit)


def _vertices(s: Subject) -> CheckResult | None:
    limit = s.profile.budgets.vertices
    return None if limit is None else check_vertices(s.asset, limit)


def _real_size(s: Subject) -> CheckResult | None:
    size = s.profile.real_size
    if size is None:
        return None
    return check_real_size(s.asset, size.min_m, size.max_m, s.unit_m)


def _pivot(s: Subject) -> CheckResult | None:
    rule = s.profile.pivot
    return None if rule == "any" else check_pivot(s.asset, rule, s.up_axis)


CHECKS: tuple[Check, ...] = (
    Check("file_format", _file_format),
    Check("file_size", _file_size),
    Check("watertight", lambda s: check_watertight(s.asset)),
    Check("manifold", lambda s: check_manifold(s.asset)),
    Check("winding", lambda s: check_winding(s.asset)),
    Check("degenerate_faces", lambda s: check_degenerate_faces(s.asset)),
    Check("uv_present", lambda s: check_uv_present(s.asset)),
    Check("uv_range", lambda s: check_uv_range(s.asset)),
    Check("texture_power_of_two", _power_of_two),
    Check("texture_max_size", _texture_max),
    Check("texture_min_size", _texture_min),
    Check("pbr_maps", lambda s: check_pbr_maps(s.materials, s.profile.required_maps)),
    Check("materials", _materials),
    Check("triangles", _triangles),
    Check("vertices", _vertices),
    Check("real_size", _real_size),
    Check("pivot", _pivot),
    Check("up_axis", lambda s: check_up_axis(s.asset, s.up_axis)),
)


def run_checks(subject: Subject) -> list[CheckResult]:
    """Every check the profile does not turn off and sets a limit for, at the profile's level."""
    results = []
    for check in CHECKS:
        level = subject.profile.level(check.id)
        if level == "off":
            continue
        result = check.run(subject)
        if result is not None:
            results.append(result.with_severity(level))
    return results
