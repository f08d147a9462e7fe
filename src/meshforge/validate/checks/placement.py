"""Placement checks: a plausible real-world size, the pivot, and which way is up."""

from __future__ import annotations

from typing import Literal

import numpy as np

from meshforge.asset import Asset
from meshforge.validate.checks.base import CheckResult, verdict

_AXES = {"+x": 0, "+y": 1, "+z": 2}


def check_real_size(asset: Asset, min_m: float, max_m: float, unit_m: float = 1.0) -> CheckResult:
    """The largest dimension is plausible for a product; far off means the scale was never set."""
    if not asset.face_count:
        return CheckResult("real_size", False, None, [min_m, max_m], "the asset has no faces")
    extents = asset.extents() * unit_m
    largest = float(extents.max())
    return verdict(
        "real_size",
        min_m <= largest <= max_m,
        [round(float(e), 6) for e in extents],
        [min_m, max_m],
        f"{' x '.join(f'{e:.3f}' for e in extents)} m, a plausible size",
        f"largest dimension {largest:.4g} m is outside {min_m:g} to {max_m:g} m; "
        "set the real size (scale transform, e.g. --height in metres)",
    )


def check_pivot(
    asset: Asset, rule: Literal["bottom-center", "base-on-ground"], up_axis: str = "+y"
) -> CheckResult:
    """The origin sits where the target places the model: on the ground, and centred under it."""
    if not asset.face_count:
        return CheckResult("pivot", False, None, rule, "the asset has no faces")
    low, high = asset.bounds()
    up = _AXES[up_axis]
    tolerance = 1e-3 * max(float(np.max(high - low)), 1e-9)
    centre = (low + high) / 2
    offsets = {"ground": float(low[up])}
    if rule == "bottom-center":
        offsets.update({"xyz"[a]: float(centre[a]) for a in range(3) if a != up})
    off = {k: v for k, v in offsets.items() if abs(v) > tolerance}
    where = "the bottom centre" if rule == "bottom-center" else f"{up_axis[1]} = 0"
    return verdict(
        "pivot",
        not off,
        {k: round(v, 6) for k, v in offsets.items()},
        rule,
        f"the origin is at {where}",
        f"the origin is not at {where} (off by "
        + ", ".join(f"{k} {v:.4g}" for k, v in off.items())
        + f"); run the pivot transform ({rule})",
    )


def check_up_axis(asset: Asset, up_axis: str = "+y") -> CheckResult:
    """Heuristic: the flat base the asset stands on should face down the up axis.

    Finds, for each axis, the area of faces lying flat on the bounding box's low side and facing
    outwards; if another axis has a clearly larger base, the asset probably lies on its side (a
    Z-up export read as Y-up). Ties and round shapes pass: there is nothing to tell them apart.
    """
    if not asset.face_count:
        return CheckResult("up_axis", False, None, up_axis, "the asset has no faces")
    low, high = asset.bounds()
    tolerance = 1e-4 * max(float(np.max(high - low)), 1e-9)
    base = np.zeros(3)
    for mesh in asset.meshes:
        tri = mesh.vertices[mesh.faces]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]) / 2
        for axis in range(3):
            flat = np.all(np.abs(tri[:, :, axis] - low[axis]) <= tolerance, axis=1)
            base[axis] += float(np.sum(np.maximum(-normal[flat, axis], 0.0)))
    up = _AXES[up_axis]
    best = int(np.argmax(base))
    passed = base[best] <= 1.5 * base[up] or base[best] == 0
    return verdict(
        "up_axis",
        bool(passed),
        {"base_area": {a: round(float(base[i]), 9) for a, i in _AXES.items()}},
        up_axis,
        f"the asset stands on its base along {up_axis}",
        f"the largest flat base faces -{'xyz'[best]}, not -{up_axis[1]}: the asset may lie on "
        f"its side; run the orient transform so that {up_axis} is up",
    )
