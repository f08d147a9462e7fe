"""``decimate``: quadric-error edge collapse to a face budget, keeping UV seams and the texture.

The backend is meshoptimizer's simplifier (PyPI ``meshoptimizer``, the library glTF-Transform
uses): half a second for 500k faces. Each mesh is welded on (position, UV), so that only real
seams stay split, and handed over as an indexed mesh. The simplifier collapses an edge onto one of
its ends, so every output vertex is an input vertex and keeps its exact UV and normal: the
texture stays where it was on the surface and needs no re-bake. Vertices that share a position but
not a UV (a seam) are collapsed together along the seam or not at all, so seams neither crack nor
get crossed by a triangle. Open borders are locked by default so holes do not grow. A collapse
can leave a zero-area triangle where vertices lie on older edges, or fold two triangles onto
each other; the slivers are flipped away and the folds dropped (``slivers.py``), and both are
counted in the report.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from meshforge.asset import Asset, FloatArray, IntArray, Mesh
from meshforge.errors import DependencyError
from meshforge.geometry import row_ids
from meshforge.recipe import Options
from meshforge.transforms.base import Context, Transform
from meshforge.transforms.slivers import drop_folded_pairs, flip_slivers


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
        description="Lock the vertices of open borders so holes do not grow; off lets borders "
        "collapse along themselves, which reaches lower budgets on open meshes.",
    )
    max_error: float | None = Field(
        default=None,
        gt=0.0,
        description="Stop before the budget once a collapse would move the surface more than "
        "this fraction of the mesh's size (e.g. 0.01); None reaches the budget.",
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
    max_error: float | None = None,
) -> Transform:
    options = DecimateOptions(
        target_faces=target_faces,
        ratio=ratio,
        preserve_border=preserve_border,
        max_error=max_error,
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
    flipped = folded = 0
    for i, (mesh, share) in enumerate(zip(asset.meshes, shares, strict=True)):
        ctx.progress(i / len(asset.meshes), f"decimating {mesh.name}")
        new = mesh
        if len(mesh.faces) > share:
            new = decimate_mesh(mesh, share, options)
            faces, dropped = drop_folded_pairs(new.vertices, new.faces)
            faces, count = flip_slivers(new.vertices, faces)
            new = dataclasses.replace(new, faces=faces)
            flipped, folded = flipped + count, folded + dropped
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
    ctx.report.note("slivers_flipped", flipped)
    ctx.report.note("folded_faces_dropped", folded)
    if achieved > target * 1.05:
        reason = (
            f"max_error={options.max_error} stopped it first"
            if options.max_error is not None
            else "UV seams and locked borders limit the reduction; fewer UV islands or "
            "preserve_border=False go lower"
        )
        ctx.warn("budget-not-reached", f"reached {achieved:,} faces, not {target:,}: {reason}")
    return result


def split_budget(face_counts: list[int], target: int) -> list[int]:
    """Each mesh's share of ``target``, in proportion to its faces (at least 4, at most all)."""
    total = sum(face_counts)
    return [min(n, max(4, round(target * n / total))) if total else 0 for n in face_counts]


def decimate_mesh(mesh: Mesh, target_faces: int, options: DecimateOptions) -> Mesh:
    """One mesh simplified to about ``target_faces``; kept vertices keep their UVs and normals."""
    try:
        import meshoptimizer
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise DependencyError(
            "the decimation backend is not installed",
            stage="decimate",
            hint="pip install meshoptimizer",
        ) from exc
    keep, faces = weld_corners(mesh.vertices, mesh.uv, mesh.faces)
    indices = np.ascontiguousarray(faces, dtype=np.uint32).reshape(-1)
    positions = np.ascontiguousarray(mesh.vertices[keep], dtype=np.float32)
    destination = np.empty_like(indices)
    flags = meshoptimizer.SIMPLIFY_LOCK_BORDER if options.preserve_border else 0
    count = meshoptimizer.simplify(
        destination,
        indices,
        positions,
        target_index_count=3 * target_faces,
        # The backend's error is relative to the mesh's extent; above 1 it never stops early.
        target_error=options.max_error if options.max_error is not None else 2.0,
        options=flags,
    )
    kept_faces = destination[:count].astype(np.int64).reshape(-1, 3)
    used, new_faces = compact(kept_faces)
    chosen = keep[used]
    return dataclasses.replace(
        mesh,
        vertices=mesh.vertices[chosen],
        faces=new_faces,
        uv=None if mesh.uv is None else mesh.uv[chosen],
        normals=None if mesh.normals is None else merged_normals(mesh, keep, faces, used),
    )


def weld_corners(
    vertices: FloatArray, uv: FloatArray | None, faces: IntArray
) -> tuple[IntArray, IntArray]:
    """Corners that share position and UV (split only by normals) merged, so only seams stay
    split: the input vertex kept for each welded vertex, and the faces over them."""
    used = np.unique(faces)
    key = vertices[used] if uv is None else np.column_stack([vertices[used], uv[used]])
    inverse, first = row_ids(key)
    remap = np.zeros(len(vertices), dtype=np.int64)
    remap[used] = inverse
    return used[first], remap[faces]


def compact(faces: IntArray) -> tuple[IntArray, IntArray]:
    """The vertices the faces use, and the faces renumbered over them."""
    used, inverse = np.unique(faces, return_inverse=True)
    return used, inverse.reshape(-1, 3).astype(np.int64)


def merged_normals(mesh: Mesh, keep: IntArray, faces: IntArray, used: IntArray) -> FloatArray:
    """Each kept vertex's normal: the mean of the input normals welded into it (corners split
    only by their normals), so a dense scan's shading survives the reduction."""
    assert mesh.normals is not None
    welded = np.zeros((len(keep), 3))
    corners = mesh.faces.reshape(-1)
    np.add.at(welded, faces.reshape(-1), mesh.normals[corners])
    normals = welded[used]
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    fallback = mesh.normals[keep[used]]
    return np.where(length > 1e-12, normals / np.maximum(length, 1e-12), fallback)
