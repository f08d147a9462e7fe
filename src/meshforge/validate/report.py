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
    # glTF is metres and +Y up by specification, and ``api.load`` reads STL (millimetres, +Z up,
    # as slicers write it) into metres and +Y up; the profile's unit and up axis describe the
    # other, unit-less files (OBJ, PLY) as they are.
    in_metres = is_gltf or (source is not None and source.suffix.lower() == ".stl")
    subject = c.Subject(
        asset,
        profile,
        textures,
        materials,
        path=source,
        unit_m=1.0 if in_metres else _UNIT_M[profile.units],
        up_axis="+y" if in_metres else profile.up_axis,
    )
    results = c.run_checks(subject)
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
