"""``solidify``: make a printable solid: one closed 2-manifold, standing flat, walls checked.

Steps, each in the report (coordinates are metres, +Y up, as everywhere in an Asset):

1. the ``repair`` transform's function cleans the surface and closes every hole, whatever its
   size (``max_hole_edges=None``; its report is kept under ``details.repair``);
2. corners at the same position are merged and the whole surface becomes a manifold3d
   ``Manifold``; its connected parts are united (overlapping shells become one solid). A part
   that is still open is dropped when it is tiny (under ``OPEN_PART_FRACTION`` of the surface;
   a ``open-parts-dropped`` warning counts them); a larger open part, or a surface that encloses
   no volume, cannot be a solid: a TransformError says why;
3. with ``flatten_base``, a base that is not already flat (flat faces at the lowest level cover
   less than 1% of the footprint) is cut off ``base_cut_mm`` above the lowest point, so the part
   sits flat on the bed;
4. wall thickness is estimated at ``wall_samples`` area-weighted points: a ray is cast inward
   along the surface normal (manifold3d's ray cast; trimesh's needs rtree or embree) and a hit
   closer than ``min_wall_mm`` marks a thin spot. The fraction of thin spots is reported, and any
   at all raises a ``thin-walls`` warning;
5. the solid's mesh is cleaned so that it stays closed once positions are welded, as a slicer
   reads an STL: manifold3d keeps touching parts apart by index only and a boolean's cuts leave
   slivers (``solid_cleanup.py``; counts under ``details.cleanup``).

The result is one mesh with the first mesh's material; UVs and normals are dropped (a print has
none), and the report says so.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from meshforge.asset import Asset, FloatArray, IntArray, Material, Mesh, RealSize
from meshforge.errors import TransformError
from meshforge.recipe import Options
from meshforge.transforms.base import Context, StageReport, Transform
from meshforge.transforms.edge_index import EdgeIndex, face_components
from meshforge.transforms.repair import repair
from meshforge.transforms.solid_cleanup import clean_solid
from meshforge.transforms.weld import position_ids

if TYPE_CHECKING:
    import manifold3d

# A base counts as flat when its flat faces cover this fraction of the footprint.
FLAT_BASE_FRACTION = 0.01
# An open part (one repair could not close) under this fraction of the surface area is dropped.
OPEN_PART_FRACTION = 0.001
# Clean-up of the solid, as fractions of its bounding-box diagonal: manifold3d's simplification
# and the collapse of joined vertices (well under what a printer resolves), how far touching
# sheets are moved apart, and the side of the square whose area makes a face count as zero
# (validation's limit is 1e-6; twice that leaves room for the STL's 32-bit floats).
SIMPLIFY = 1e-7
COLLAPSE = 2e-6
SEPARATION = 1e-6
ZERO_AREA_SIDE = 2e-6


class SolidifyOptions(Options):
    flatten_base: bool = Field(
        default=True, description="Cut the bottom flat when the part does not already sit flat."
    )
    base_cut_mm: float = Field(
        default=1.0, gt=0, description="Height cut off above the lowest point to flatten it."
    )
    min_wall_mm: float = Field(
        default=1.0, gt=0, description="Thinnest wall the printer makes; thinner ones warn."
    )
    wall_samples: int = Field(
        default=1000, ge=10, le=100_000, description="Surface points probed for wall thickness."
    )
    seed: int = Field(default=0, description="Seed of the wall-thickness sampling.")


def solidify(
    flatten_base: bool = True,
    base_cut_mm: float = 1.0,
    min_wall_mm: float = 1.0,
    wall_samples: int = 1000,
    seed: int = 0,
) -> Transform:
    options = SolidifyOptions(
        flatten_base=flatten_base,
        base_cut_mm=base_cut_mm,
        min_wall_mm=min_wall_mm,
        wall_samples=wall_samples,
        seed=seed,
    )
    return Transform(
        name="solidify", function=lambda a, c: _solidify(a, c, options), options=options
    )


def merged_surface(asset: Asset) -> tuple[FloatArray, IntArray]:
    """Every mesh's faces over shared positions (corners at one point become one vertex)."""
    vertices = np.concatenate([m.vertices for m in asset.meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in asset.meshes])
    faces = np.concatenate([m.faces + o for m, o in zip(asset.meshes, offsets, strict=False)])
    ids = position_ids(vertices)
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    faces = inverse.reshape(-1)[faces]
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2])
    keep &= faces[:, 0] != faces[:, 2]
    return np.asarray(vertices[first], dtype=np.float64), np.asarray(faces[keep], dtype=np.int64)


def drop_open_parts(vertices: FloatArray, faces: IntArray) -> tuple[IntArray, int, float]:
    """The faces without the connected parts that are still open (an edge with one face, or
    more than two), the number of parts dropped and their share of the surface area; a
    TransformError when such a part is not tiny (``OPEN_PART_FRACTION``)."""
    if len(faces) == 0:
        return faces, 0, 0.0
    index = EdgeIndex.build(faces, len(vertices))
    count, labels = face_components(faces, index)
    run, sizes = index.run_sizes()
    bad_entry = sizes[run] != 2
    open_part = np.zeros(count, dtype=bool)
    open_part[labels[index.face[bad_entry]]] = True
    if not open_part.any():
        return faces, 0, 0.0
    tri = vertices[faces]
    areas = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1) / 2
    share = float(areas[open_part[labels]].sum() / max(float(areas.sum()), 1e-300))
    if share >= OPEN_PART_FRACTION:
        edges = int(np.count_nonzero(sizes != 2))
        raise TransformError(
            f"{int(open_part.sum())} parts ({share:.1%} of the surface) are still open after "
            f"repair ({edges} edges without exactly two faces), so they cannot become a solid",
            stage="solidify",
            hint="Close those openings in a modelling tool, or remove the open parts.",
        )
    return faces[~open_part[labels]], int(open_part.sum()), share


def to_manifold(vertices: FloatArray, faces: IntArray) -> manifold3d.Manifold:
    """A Manifold of the surface, its overlapping parts united; TransformError when not closed
    or when it encloses no volume."""
    import manifold3d

    mesh = manifold3d.Mesh64(
        vert_properties=np.ascontiguousarray(vertices, dtype=np.float64),
        tri_verts=np.ascontiguousarray(faces, dtype=np.uint32),
    )
    solid = manifold3d.Manifold(mesh)
    status = solid.status()
    if status != manifold3d.Error.NoError:
        reason = getattr(status, "name", str(status))
        raise TransformError(
            f"the surface is not a closed 2-manifold after repair ({reason}), so it cannot "
            "become a solid",
            stage="solidify",
            hint="Close the remaining openings in a modelling tool.",
        )
    parts = solid.decompose()
    if len(parts) > 1:
        solid = manifold3d.Manifold.batch_boolean(parts, manifold3d.OpType.Add)
    extent = float(np.linalg.norm(np.ptp(vertices, axis=0))) if len(vertices) else 0.0
    if solid.is_empty() or solid.volume() <= (1e-6 * extent) ** 3:
        raise TransformError(
            "the closed surface encloses no volume (a flat or folded sheet), so it cannot "
            "become a solid",
            stage="solidify",
            hint="Give the part a thickness in a modelling tool before printing.",
        )
    return solid


def from_manifold(solid: manifold3d.Manifold) -> tuple[FloatArray, IntArray]:
    mesh = solid.to_mesh64()
    vertices = np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3]
    return vertices, np.asarray(mesh.tri_verts, dtype=np.int64)


def flat_base_area(vertices: FloatArray, faces: IntArray) -> tuple[float, float]:
    """(area of downward faces lying at the lowest y, area of the x-z footprint)."""
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    tolerance = 1e-6 * max(float(np.linalg.norm(high - low)), 1e-12)
    tri = vertices[faces]
    normal_y = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 1] / 2
    flat = np.all(np.abs(tri[:, :, 1] - low[1]) <= tolerance, axis=1)
    footprint = float((high[0] - low[0]) * (high[2] - low[2]))
    return float(np.sum(np.maximum(-normal_y[flat], 0.0))), footprint


def wall_thickness(
    solid: manifold3d.Manifold,
    vertices: FloatArray,
    faces: IntArray,
    reach: float,
    samples: int,
    seed: int,
) -> FloatArray:
    """Thickness under ``samples`` surface points, up to ``reach`` (``inf`` where no wall is
    closer), by rays cast inward along the face normals."""
    import trimesh

    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    points, face_index = trimesh.sample.sample_surface(mesh, samples, seed=seed)
    normals = mesh.face_normals[face_index]
    start = 1e-7 * max(float(np.linalg.norm(mesh.extents)), 1e-12)
    thickness = np.full(len(points), np.inf)
    for i, (p, n) in enumerate(zip(points, normals, strict=True)):
        origin = p - n * start
        hits = solid.ray_cast(tuple(origin.tolist()), tuple((p - n * reach).tolist()))
        if hits:
            thickness[i] = start + hits[0].distance * (reach - start)
    return thickness


def _solidify(asset: Asset, ctx: Context, options: SolidifyOptions) -> Asset:
    if not asset.face_count:
        raise TransformError(
            "the asset has no faces to make solid",
            stage="solidify",
            hint="Check the engine's output or the input file.",
        )
    sub = StageReport(stage="repair")
    repaired = repair(max_hole_edges=None).function(asset, Context(report=sub))
    ctx.report.note("repair", _repair_summary(sub))
    ctx.progress(0.3, "repaired")

    vertices, faces = merged_surface(repaired)
    parts = _count_parts(faces)
    faces, dropped, share = drop_open_parts(vertices, faces)
    if dropped:
        ctx.report.note("open_parts_dropped", dropped)
        ctx.warn(
            "open-parts-dropped",
            f"{dropped} small parts that repair could not close ({share:.3%} of the surface) "
            "were left out of the solid",
        )
    solid = to_manifold(vertices, faces)
    ctx.report.change("parts", parts, 1)
    ctx.progress(0.5, "solid")

    cut_mm = 0.0
    if options.flatten_base:
        v, f = from_manifold(solid)
        flat, footprint = flat_base_area(v, f)
        if flat < FLAT_BASE_FRACTION * footprint:
            cut_mm = options.base_cut_mm
            level = float(v[:, 1].min()) + cut_mm / 1000.0
            trimmed = solid.trim_by_plane((0.0, 1.0, 0.0), level)
            if trimmed.is_empty():
                raise TransformError(
                    f"cutting {cut_mm} mm off the base leaves nothing",
                    stage="solidify",
                    hint="Lower base_cut_mm, or scale the asset to its real size first.",
                )
            solid = trimmed
    ctx.report.note("base_cut_mm", cut_mm)
    ctx.progress(0.7, "base flattened")

    box = np.asarray(solid.bounding_box(), dtype=np.float64)
    diagonal = float(np.linalg.norm(box[3:] - box[:3]))
    solid = solid.as_original().simplify(SIMPLIFY * diagonal)
    vertices, faces, cleanup, clean = clean_solid(
        *from_manifold(solid),
        tolerance=COLLAPSE * diagonal,
        separation=SEPARATION * diagonal,
        max_area=(ZERO_AREA_SIDE * diagonal) ** 2,
    )
    ctx.report.note("cleanup", cleanup)
    if not clean:
        ctx.warn(
            "not-clean",
            "the solid still has edges that more than two faces share, or faces of next to "
            "no area, once its positions are welded; a slicer may need to repair it",
        )
    volume = float(solid.volume())
    ctx.report.note("volume_m3", volume)
    ctx.report.note("watertight", True)

    reach = options.min_wall_mm / 1000.0
    thickness = wall_thickness(solid, vertices, faces, reach, options.wall_samples, options.seed)
    thin = float(np.mean(thickness < reach))
    ctx.report.note("min_wall_mm", options.min_wall_mm)
    ctx.report.note("thin_wall_fraction", round(thin, 4))
    if np.isfinite(thickness).any():
        ctx.report.note("thinnest_wall_mm", round(float(thickness.min()) * 1000.0, 4))
    if thin > 0:
        ctx.warn(
            "thin-walls",
            f"{thin:.1%} of the surface (sampled) is thinner than {options.min_wall_mm:g} mm; "
            "thicken those walls or print the part larger",
        )

    had_uv = any(m.uv is not None for m in asset.meshes)
    if had_uv:
        ctx.report.note("uv_dropped", True)
    first = asset.meshes[0]
    material = (
        asset.materials[first.material] if first.material < len(asset.materials) else Material()
    )
    size = asset.size
    if size is not None:
        extents = vertices.max(axis=0) - vertices.min(axis=0)
        size = RealSize(float(extents[0]), float(extents[1]), float(extents[2]), source=size.source)
    ctx.progress(1.0, "done")
    return dataclasses.replace(
        asset,
        meshes=[Mesh(vertices=vertices, faces=faces, name="solid")],
        materials=[material],
        size=size,
    )


def _count_parts(faces: IntArray) -> int:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = int(faces.max()) + 1 if len(faces) else 0
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    used = np.unique(faces)
    count, labels = connected_components(graph, directed=False)
    return len(np.unique(labels[used])) if count else 0


def _repair_summary(report: StageReport) -> dict[str, Any]:
    data = report.to_dict()
    return {"changes": data["changes"], "details": data["details"]}
