"""``decimate``: quadric-error edge collapse to a face budget, keeping UV seams and the texture.

The backend is Fast-Quadric-Mesh-Simplification (PyPI ``fast-simplification``): fast enough for
a 500k-face scan, and it returns its collapse history, which is what carries the UVs. Each mesh is
welded on (position, uv) so that only real seams stay split, then simplified with the seam and the
open borders locked: a seam's two sides are the same vertices before and after, so no crack opens
and no triangle ever spans two UV islands (no texels smeared across a seam). A moved vertex takes
its UV from the closest point of the original triangles around the vertices it absorbed, so the
texture stays where it was on the surface. Normals are recomputed, smooth across seams.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from meshforge.asset import Asset, FloatArray, IntArray, Mesh
from meshforge.errors import DependencyError, TransformError
from meshforge.geometry import row_ids, vertex_normals
from meshforge.recipe import Options
from meshforge.transforms.base import Context, Transform

# The backend keeps one mesh in C++ module state, so concurrent calls would corrupt each other.
_BACKEND_LOCK = threading.Lock()


class DecimateOptions(Options):
    """Give exactly one of ``target_faces`` (for the whole asset) or ``ratio``."""

    target_faces: int | None = Field(
        default=None, ge=4, description="Face budget for the whole asset, split across meshes."
    )
    ratio: float | None = Field(
        default=None, gt=0.0, le=1.0, description="Fraction of the faces to keep, in (0, 1]."
    )
    preserve_border: bool = Field(
        default=True,
        description="Lock open borders and UV seams so seams stay closed and holes do not grow; "
        "off reaches lower budgets on many-island meshes but seams may open.",
    )
    aggressiveness: float = Field(
        default=7.0,
        ge=0.0,
        le=10.0,
        description="Backend threshold growth: lower keeps shape better but may miss the budget.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> DecimateOptions:
        if (self.target_faces is None) == (self.ratio is None):
            raise ValueError("give exactly one of target_faces or ratio")
        return self

    def budget(self, faces: int) -> int:
        """The asset's target face count."""
        if self.target_faces is not None:
            return self.target_faces
        assert self.ratio is not None
        return max(round(self.ratio * faces), 4)


def decimate(
    target_faces: int | None = None,
    ratio: float | None = None,
    preserve_border: bool = True,
    aggressiveness: float = 7.0,
) -> Transform:
    options = DecimateOptions(
        target_faces=target_faces,
        ratio=ratio,
        preserve_border=preserve_border,
        aggressiveness=aggressiveness,
    )
    return Transform(
        name="decimate", function=lambda a, c: decimate_asset(a, c, options), options=options
    )


def decimate_asset(asset: Asset, ctx: Context, options: DecimateOptions) -> Asset:
    total = asset.face_count
    target = options.budget(total)
    ctx.report.note("target_faces", target)
    if total <= target:
        ctx.report.note("unchanged", f"{total:,} faces already within the budget of {target:,}")
        ctx.report.note("achieved_ratio", 1.0)
        return asset
    shares = split_budget([len(m.faces) for m in asset.meshes], target)
    meshes: list[Mesh] = []
    per_mesh: list[dict[str, Any]] = []
    for i, (mesh, share) in enumerate(zip(asset.meshes, shares, strict=True)):
        ctx.progress(i / len(asset.meshes), f"decimating {mesh.name}")
        new = mesh if len(mesh.faces) <= share else decimate_mesh(mesh, share, options)
        if options.preserve_border is False and mesh.uv is not None and new is not mesh:
            ctx.warn(
                "seams-unlocked",
                f"mesh {mesh.name!r} was decimated with preserve_border off, so its UV seams "
                "may have opened; keep preserve_border on for textured meshes",
            )
        meshes.append(new)
        per_mesh.append(
            {
                "mesh": mesh.name,
                "target_faces": share,
                "faces": [len(mesh.faces), len(new.faces)],
                "vertices": [len(mesh.vertices), len(new.vertices)],
            }
        )
    ctx.progress(1.0, "decimated")
    result = dataclasses.replace(asset, meshes=meshes)
    achieved = result.face_count
    ctx.report.note("achieved_ratio", round(achieved / total, 4))
    ctx.report.note("meshes", per_mesh)
    if achieved > target * 1.05:
        ctx.warn(
            "budget-not-reached",
            f"reached {achieved:,} faces, not {target:,}: locked seams and borders limit "
            "the reduction; fewer UV islands or preserve_border=False go lower",
        )
    return result


def split_budget(face_counts: list[int], target: int) -> list[int]:
    """Each mesh's share of ``target``, in proportion to its faces (at least 4, at most all)."""
    total = sum(face_counts)
    return [min(n, max(4, round(target * n / total))) if total else 0 for n in face_counts]


def decimate_mesh(mesh: Mesh, target_faces: int, options: DecimateOptions) -> Mesh:
    """One mesh simplified to about ``target_faces``, UVs carried, normals recomputed."""
    try:
        import fast_simplification
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise DependencyError(
            "the quadric decimation backend is not installed",
            stage="decimate",
            hint="pip install fast-simplification",
        ) from exc
    vertices, uv, faces = weld_corners(mesh.vertices, mesh.uv, mesh.faces)
    lock = options.preserve_border
    with _BACKEND_LOCK:
        points, new_faces, collapses = fast_simplification.simplify(
            vertices,
            faces,
            target_count=target_faces,
            agg=options.aggressiveness,
            preserve_border=lock,
            return_collapses=True,
        )
    points = np.asarray(points, dtype=np.float64)
    new_faces = np.asarray(new_faces, dtype=np.int64).reshape(-1, 3)
    root = collapse_roots(len(vertices), np.asarray(collapses, dtype=np.int64).reshape(-1, 2))
    rooted = root[faces]
    alive = (rooted[:, 0] != rooted[:, 1]) & (rooted[:, 1] != rooted[:, 2])
    alive &= rooted[:, 0] != rooted[:, 2]
    survivors = np.unique(rooted[alive])
    if len(survivors) != len(points):
        raise TransformError(
            f"mesh {mesh.name!r}: the backend's result does not match its collapse history "
            f"({len(points)} vertices, {len(survivors)} expected)",
            stage="decimate",
            hint="Run repair() first to remove non-manifold parts, then decimate again.",
        )
    new_uv = None
    if uv is not None:
        new_uv = carry_uv(vertices, faces, uv, points, survivors, root)
    normals = (
        vertex_normals(points, new_faces, join_positions=True) if mesh.normals is not None else None
    )
    return dataclasses.replace(mesh, vertices=points, faces=new_faces, uv=new_uv, normals=normals)


def weld_corners(
    vertices: FloatArray, uv: FloatArray | None, faces: IntArray
) -> tuple[FloatArray, FloatArray | None, IntArray]:
    """Merge corners that share position and UV (split only by normals): only seams stay split."""
    used = np.unique(faces)
    key = vertices[used] if uv is None else np.column_stack([vertices[used], uv[used]])
    inverse, first = row_ids(key)
    remap = np.zeros(len(vertices), dtype=np.int64)
    remap[used] = inverse
    keep = used[first]
    return vertices[keep], None if uv is None else uv[keep], remap[faces]


def collapse_roots(count: int, collapses: IntArray) -> IntArray:
    """For every input vertex, the vertex it was finally collapsed into (itself if kept)."""
    parent = np.arange(count, dtype=np.int64)
    if len(collapses):
        parent[collapses[:, 1]] = collapses[:, 0]
    while True:  # pointer jumping: chains halve each round
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def carry_uv(
    vertices: FloatArray,
    faces: IntArray,
    uv: FloatArray,
    points: FloatArray,
    survivors: IntArray,
    root: IntArray,
) -> FloatArray:
    """UVs of the simplified vertices: each takes the UV of its closest point on the original
    triangles around the vertices merged into it, all in its own UV island."""
    from trimesh.triangles import closest_point, points_to_barycentric

    out_index = np.full(len(vertices), -1, dtype=np.int64)
    out_index[survivors] = np.arange(len(survivors))
    # (output vertex, original face) pairs: every face touching one of the vertex's members.
    owner = out_index[root[faces]].reshape(-1)
    face_id = np.repeat(np.arange(len(faces)), 3)
    pairs = np.unique(np.column_stack([owner, face_id])[owner >= 0], axis=0)
    who, tri = pairs[:, 0], pairs[:, 1]
    triangles = vertices[faces[tri]]
    nearest = closest_point(triangles, points[who])  # type: ignore[no-untyped-call]
    dist = np.einsum("ij,ij->i", nearest - points[who], nearest - points[who])
    order = np.lexsort((dist, who))
    first = order[np.unique(who[order], return_index=True)[1]]
    bary = points_to_barycentric(triangles[first], nearest[first])  # type: ignore[no-untyped-call]
    bary = np.clip(np.nan_to_num(bary, nan=1.0 / 3.0), 0.0, 1.0)
    bary /= bary.sum(axis=1, keepdims=True)
    result = np.einsum("ij,ijk->ik", bary, uv[faces[tri[first]]])
    out: FloatArray = np.empty((len(points), 2), dtype=np.float64)
    out[who[first]] = result
    still = np.all(points == vertices[survivors], axis=1)  # locked or never moved: exact UVs
    out[still] = uv[survivors[still]]
    return out
