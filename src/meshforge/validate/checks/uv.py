"""Texture-coordinate checks: every mesh has UVs, and they lie in the single tile [0, 1]."""

from __future__ import annotations

import numpy as np

from meshforge.asset import Asset
from meshforge.validate.checks.base import CheckResult, verdict

UV_TOLERANCE = 1e-6  # float noise an exporter may leave at 0 and 1


def check_uv_present(asset: Asset) -> CheckResult:
    """Every mesh has texture coordinates, without which no texture can be applied."""
    missing = [m.name for m in asset.meshes if m.uv is None]
    return verdict(
        "uv_present",
        not missing,
        missing,
        [],
        "every mesh has texture coordinates",
        f"{len(missing)} meshes have no texture coordinates ({', '.join(missing[:5])}); "
        "run the unwrap transform",
    )


def check_uv_range(asset: Asset) -> CheckResult:
    """UVs inside [0, 1]: bakes, atlases and some viewers and marketplaces assume one tile.

    (glTF samplers repeat by default, so a tiled layout renders in a glTF viewer; profiles that
    accept it make this check a warning.)"""
    uvs = [m.uv for m in asset.meshes if m.uv is not None and len(m.uv)]
    if not uvs:
        return CheckResult("uv_range", False, None, [0.0, 1.0], "no texture coordinates to check")
    uv = np.concatenate(uvs)
    outside = int(np.sum(np.any((uv < -UV_TOLERANCE) | (uv > 1 + UV_TOLERANCE), axis=1)))
    low, high = float(uv.min()), float(uv.max())
    return verdict(
        "uv_range",
        outside == 0,
        {"outside": outside, "min": round(low, 6), "max": round(high, 6)},
        [0.0, 1.0],
        "all texture coordinates lie in [0, 1]",
        f"{outside} of {len(uv)} texture coordinates lie outside [0, 1] "
        f"(range {low:.3f} to {high:.3f}); run the unwrap transform to repack them",
    )
