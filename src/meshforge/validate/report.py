"""Run a profile's checks on an Asset (and its file) into a ValidationReport: JSON and text.

The JSON form carries ``schema: "meshforge.validation/1"`` so that tools reading it can tell
versions apart. A .glb/.gltf file is also run through the Khronos glTF Validator (check
``gltf_validator``, always required: 0 errors; warnings are listed). A validator that is not
installed fails that check, so no profile passes an unverified file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshforge.asset import Asset
from meshforge.validate import checks as c
from meshforge.validate.gltf_validator import (
    GltfValidation,
    check_gltf_validator,
    run_gltf_validator,
)
from meshforge.validate.profiles import Profile

SCHEMA = "meshforge.validation/1"
_UNIT_M = {"m": 1.0, "mm": 0.001}
_SHOWN_WARNINGS = 10


@dataclass
class ValidationReport:
    """Every check's result against one profile; ``passed`` only when no required check failed."""

    profile: str
    results: list[c.CheckResult]
    file: str | None = None
    notes: list[str] = field(default_factory=list)
    gltf_validation: GltfValidation | None = None

    @property
    def passed(self) -> bool:
        return all(r.status != "FAIL" for r in self.results)

    @property
    def failures(self) -> list[c.CheckResult]:
        return [r for r in self.results if r.status == "FAIL"]

    def result(self, check_id: str) -> c.CheckResult:
        """The result of one check by id (KeyError when the profile did not run it)."""
        for r in self.results:
            if r.id == check_id:
                return r
        raise KeyError(check_id)

    def to_dict(self) -> dict[str, Any]:
        counts = {s: sum(r.status == s for r in self.results) for s in ("PASS", "FAIL", "WARN")}
        return {
            "schema": SCHEMA,
            "profile": self.profile,
            "file": self.file,
            "passed": self.passed,
            "counts": {k.lower(): v for k, v in counts.items()},
            "checks": [r.to_dict() for r in self.results],
            "notes": list(self.notes),
            "gltf_validator": (
                self.gltf_validation.to_dict() if self.gltf_validation is not None else None
            ),
        }

    def summary(self) -> str:
        """One line per check: status, id, measured against limit, and what to do."""
        width = max((len(r.id) for r in self.results), default=0)
        lines = [f"profile {self.profile}" + (f"  file {self.file}" if self.file else "")]
        for r in self.results:
            lines.append(
                f"{r.status}  {r.id:<{width}}  {_short(r.measured)} (limit {_short(r.limit)})"
                f"  {r.message}"
            )
        lines.extend(f"note  {n}" for n in self.notes)
        failed = len(self.failures)
        lines.append(
            "PASSED" if self.passed else f"FAILED: {failed} required check(s) did not pass"
        )
        return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, list | tuple) and not value:
        return "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_short(v)}" for k, v in value.items() if v not in ({}, []))
    if isinstance(value, list | tuple):
        return ", ".join(_short(v) for v in value)
    return str(value)


def validate_asset(
    asset: Asset,
    profile: Profile,
    *,
    path: str | os.PathLike[str] | None = None,
) -> ValidationReport:
    """Check ``asset`` against ``profile``; with ``path``, also the file's format and size, and
    (for glTF) the materials and textures as the file stores them and the Khronos glTF
    Validator's verdict."""
    source = Path(path) if path is not None else None
    textures, materials = c.asset_textures(asset), c.asset_materials(asset)
    notes: list[str] = []
    is_gltf = source is not None and source.suffix.lower() in (".glb", ".gltf")
    if source is not None and is_gltf:
        try:
            gltf, binary = c.read_gltf(source)
        except (OSError, ValueError) as exc:
            notes.append(f"the glTF structure could not be read ({exc}); checked the mesh only")
        else:
            textures = c.gltf_textures(gltf, binary, source.parent)
            materials = c.gltf_materials(gltf)
    b = profile.budgets
    runs: list[tuple[str, Any]] = []
    if source is not None:
        runs.append(("file_format", lambda: c.check_file_format(source, profile.formats)))
        if b.file_size_mb is not None:
            size_mb = b.file_size_mb
            runs.append(("file_size", lambda: c.check_file_size(source.stat().st_size, size_mb)))
    runs += [
        ("watertight", lambda: c.check_watertight(asset)),
        ("manifold", lambda: c.check_manifold(asset)),
        ("winding", lambda: c.check_winding(asset)),
        ("degenerate_faces", lambda: c.check_degenerate_faces(asset)),
        ("uv_present", lambda: c.check_uv_present(asset)),
        ("uv_range", lambda: c.check_uv_range(asset)),
    ]
    if b.texture_power_of_two:
        runs.append(("texture_power_of_two", lambda: c.check_texture_power_of_two(textures)))
    if b.texture_max_size is not None:
        max_size = b.texture_max_size
        runs.append(("texture_max_size", lambda: c.check_texture_max_size(textures, max_size)))
    if b.texture_min_size is not None:
        min_size = b.texture_min_size
        runs.append(("texture_min_size", lambda: c.check_texture_min_size(textures, min_size)))
    runs.append(("pbr_maps", lambda: c.check_pbr_maps(materials, profile.required_maps)))
    if b.materials is not None:
        most = b.materials
        runs.append(("materials", lambda: c.check_material_count(materials, most)))
    if b.triangles is not None:
        triangles = b.triangles
        runs.append(("triangles", lambda: c.check_triangles(asset, triangles)))
    if b.vertices is not None:
        vertices = b.vertices
        runs.append(("vertices", lambda: c.check_vertices(asset, vertices)))
    # glTF is metres and +Y up by specification, and ``api.load`` reads STL (millimetres, +Z up,
    # as slicers write it) into metres and +Y up; the profile's unit and up axis describe the
    # other, unit-less files (OBJ, PLY) as they are.
    in_metres = is_gltf or (source is not None and source.suffix.lower() == ".stl")
    up = "+y" if in_metres else profile.up_axis
    if profile.real_size is not None:
        low, high = profile.real_size.min_m, profile.real_size.max_m
        unit = 1.0 if in_metres else _UNIT_M[profile.units]
        runs.append(("real_size", lambda: c.check_real_size(asset, low, high, unit)))
    if profile.pivot != "any":
        rule = profile.pivot
        runs.append(("pivot", lambda: c.check_pivot(asset, rule, up)))
    runs.append(("up_axis", lambda: c.check_up_axis(asset, up)))

    results = []
    for check_id, run in runs:
        level = profile.level(check_id)
        if level != "off":
            results.append(run().with_severity(level))
    validation = None
    if source is not None and is_gltf:
        # Required whatever the profile says: a profile cannot pass a file the validator rejects.
        validation = run_gltf_validator(source)
        results.append(check_gltf_validator(validation))
        warnings = [i for i in validation.issues if i.severity == "warning"]
        notes.extend(f"glTF Validator warning {issue}" for issue in warnings[:_SHOWN_WARNINGS])
        if validation.num_warnings > _SHOWN_WARNINGS:
            more = validation.num_warnings - _SHOWN_WARNINGS
            notes.append(f"glTF Validator: {more} more warning(s), listed in the JSON report")
    return ValidationReport(
        profile.name, results, str(source) if source is not None else None, notes, validation
    )


def validate_file(path: str | os.PathLike[str], profile: Profile) -> ValidationReport:
    """Load a mesh file (meshforge.api.load) and check it, file-level checks included."""
    from meshforge.api import load

    return validate_asset(load(path), profile, path=path)
