"""Whether a UV layout can be kept: inside [0, 1] and free of overlaps, so that every texel of a
map baked into it belongs to one place on the surface.

Overlap is measured by area: the triangles' summed UV area against the area of their union,
which is counted as texel centres covered on a raster (``render/scan.py``, which keeps one
triangle per texel). On a layout without overlaps the two agree up to sampling noise; mirrored
or stacked charts (common in game assets, where both halves share texels) show up as the
fraction of the summed area the union lacks.

A layout that leaves [0, 1] only because whole charts sit in another tile (DamagedHelmet's UVs
lie in v = 1..2) is brought back by :func:`move_charts_into_unit_tile`: a chart moved by whole
tiles samples the same texels under a repeating sampler (glTF's default, and the only wrapping
meshforge writes), so the move is lossless.
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
    overlap: float | None  # fraction of the summed UV area covered twice or more (None: unmeasured)

    def usable(self, max_overlap: float) -> bool:
        return (
            self.has_uv
            and self.inside
            and self.overlap is not None
            and (self.overlap <= max_overlap)
        )

    def reason(self, max_overlap: float) -> str:
        if not self.has_uv:
            return "no UVs"
        if not self.inside:
            return "UVs outside [0, 1] (tiling)"
        if self.overlap is None:
            return "overlap not measured"
        if self.overlap > max_overlap:
            return f"{self.overlap:.1%} of the UV area overlaps"
        return "usable"


def layout_facts(meshes: list[Mesh], measure_overlap: bool = True) -> LayoutFacts:
    """The UV facts of meshes that share one texture; the overlap (a raster of the layout, the
    costly part) only with ``measure_overlap`` and a layout inside [0, 1]."""
    drawn = [m for m in meshes if len(m.faces)]
    if not drawn or any(m.uv is None for m in drawn):
        return LayoutFacts(has_uv=False, inside=False, overlap=None)
    uv = np.concatenate([m.uv for m in drawn if m.uv is not None])
    offsets = np.cumsum([0] + [len(m.vertices) for m in drawn])
    faces = np.concatenate([m.faces + o for m, o in zip(drawn, offsets, strict=False)])
    used = uv[np.unique(faces)]
    inside = bool(
        used.min(initial=0.0) >= -INSIDE_TOLERANCE and used.max(initial=1.0) <= 1 + INSIDE_TOLERANCE
    )
    overlap = overlap_fraction(uv, faces) if measure_overlap and inside else None
    return LayoutFacts(has_uv=True, inside=inside, overlap=overlap)


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


def move_charts_into_unit_tile(mesh: Mesh) -> tuple[Mesh, int]:
    """The mesh with every chart that lies within one UV tile moved into [0, 1] by whole tiles,
    and how many charts moved (0: the mesh itself is returned).

    A chart here is a set of faces joined by shared vertices, so a move never tears a face; a
    chart that spans a tile border (true tiling, or a seam like a sphere's at u = 1) stays."""
    if mesh.uv is None or not len(mesh.faces):
        return mesh, 0
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(mesh.vertices)
    f = mesh.faces
    rows = np.concatenate([f[:, 0], f[:, 1]])
    cols = np.concatenate([f[:, 1], f[:, 2]])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    count, label = connected_components(graph, directed=False)
    order = np.argsort(label, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(label[order]) != 0])
    uv = mesh.uv[order]
    low = np.minimum.reduceat(uv, starts, axis=0)
    high = np.maximum.reduceat(uv, starts, axis=0)
    tile = np.floor(low + INSIDE_TOLERANCE)
    fits = np.all(high <= tile + 1 + INSIDE_TOLERANCE, axis=1)
    drawn = np.zeros(count, dtype=bool)
    drawn[label[f.reshape(-1)]] = True
    move = fits & drawn & np.any(tile != 0, axis=1)
    if not move.any():
        return mesh, 0
    shift = np.where(move[:, None], tile, 0.0)
    return dataclasses.replace(mesh, uv=mesh.uv - shift[label]), int(move.sum())
