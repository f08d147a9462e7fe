"""Whether a UV layout can be kept: inside [0, 1] and free of overlaps, so that every texel of a
map baked into it belongs to one place on the surface.

Overlap is measured by area: the triangles' summed UV area against the area of their union,
which is counted as texel centres covered on a raster (``render/scan.py``, which keeps one
triangle per texel). On a layout without overlaps the two agree up to sampling noise; mirrored
or stacked charts (common in game assets, where both halves share texels) show up as the
fraction of the summed area the union lacks.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from meshforge.asset import FloatArray, IntArray, Mesh

INSIDE_TOLERANCE = 1e-4  # UVs this far outside [0, 1] still count as inside (float noise)
OVERLAP_RASTER = 1024  # texels a side of the union raster


@dataclasses.dataclass(frozen=True)
class LayoutFacts:
    """What a set of meshes' UVs look like, for deciding whether to keep them."""

    has_uv: bool
    inside: bool  # every UV inside [0, 1]
    overlap: float  # fraction of the summed UV area covered twice or more

    def usable(self, max_overlap: float) -> bool:
        return self.has_uv and self.inside and self.overlap <= max_overlap

    def reason(self, max_overlap: float) -> str:
        if not self.has_uv:
            return "no UVs"
        if not self.inside:
            return "UVs outside [0, 1] (tiling)"
        if self.overlap > max_overlap:
            return f"{self.overlap:.1%} of the UV area overlaps"
        return "usable"


def layout_facts(meshes: list[Mesh]) -> LayoutFacts:
    """The UV facts of meshes that share one texture."""
    drawn = [m for m in meshes if len(m.faces)]
    if not drawn or any(m.uv is None for m in drawn):
        return LayoutFacts(has_uv=False, inside=False, overlap=1.0)
    uv = np.concatenate([m.uv for m in drawn if m.uv is not None])
    offsets = np.cumsum([0] + [len(m.vertices) for m in drawn])
    faces = np.concatenate([m.faces + o for m, o in zip(drawn, offsets, strict=False)])
    used = uv[np.unique(faces)]
    inside = bool(
        used.min(initial=0.0) >= -INSIDE_TOLERANCE and used.max(initial=1.0) <= 1 + INSIDE_TOLERANCE
    )
    return LayoutFacts(has_uv=True, inside=inside, overlap=overlap_fraction(uv, faces))


def overlap_fraction(uv: FloatArray, faces: IntArray, size: int = OVERLAP_RASTER) -> float:
    """1 - union area / summed area of the UV triangles, 0 when they do not overlap."""
    from meshforge.render.occlusion import orthographic_scene
    from meshforge.render.scan import scan_convert

    t = uv[faces]
    e1, e2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    summed = float(np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).sum() / 2)
    if summed <= 0:
        return 1.0
    clipped = np.clip(uv, 0.0, 1.0) * size
    scene, _ = orthographic_scene(clipped[faces, 0], clipped[faces, 1], None, size)
    union = float(np.count_nonzero(scan_convert(scene).opaque >= 0)) / size**2
    return float(np.clip(1.0 - union / summed, 0.0, 1.0))
