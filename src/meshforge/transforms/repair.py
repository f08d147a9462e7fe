"""``repair``: make a mesh that viewers, slicers and validators accept: no NaN or degenerate
faces, no duplicates, every edge shared by at most two faces, one consistent outward winding,
holes closed and stray fragments gone.

Topology is read on positions (corners at the same coordinates are one point, across meshes), so
UV seams are not holes and nothing is welded: kept faces keep their vertices, UVs, normals and
material. The steps run in a fixed order, each counted in the report:

1. faces with a NaN or infinite corner are dropped (nothing sensible can be drawn from them);
2. degenerate faces (two corners at one point, or zero area) are dropped;
3. repeated faces (same three points, any order or winding) keep their first copy, except
   walls between touching parts (a patch of faces present twice, wound opposite ways, whose
   rim is attached to the rest): both sides go, which joins the parts into one surface;
4. on an edge shared by more than two faces, the two faces most attached to the rest of the
   surface (then the largest) stay and the others are dropped. Dropping, not splitting, keeps
   every vertex and UV as it was; the extra faces are usually fins or doubled sheets, and a hole
   left behind is filled in step 7;
5. connected parts with less than ``min_part_fraction`` of the largest part's area are dropped;
6. winding is made consistent across each part (a breadth-first walk over shared edges,
   ``winding.py``); where a part cannot agree with itself (a fold of slivers, a twisted strip)
   the smaller face on each edge that still disagrees is dropped and the walk runs again;
7. boundary loops of at most ``max_hole_edges`` edges (None: any size) are filled
   (``hole_filling.py``): figure-eights are cut into simple loops, and each loop is ear-clipped
   in its best-fit plane over its own vertices (no new vertices, so no new UVs), or, where that
   projection crosses itself, closed by a fan from a new vertex at its centre;
8. each part is turned outward (positive signed volume about its centre); stored vertex normals
   that now point against their faces are flipped with them.

The report counts every step, the filled holes by size (``holes_filled_by_size``) and the
largest; a warning says when the result is still not watertight. The edge bookkeeping is in
``edge_index.py`` and ``face_soup.py``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from pydantic import Field

from meshforge.asset import Asset, FloatArray, IntArray
from meshforge.errors import TransformError
from meshforge.geometry import int_row_keys, triangle_areas
from meshforge.recipe import Options
from meshforge.transforms.base import Context, Transform
from meshforge.transforms.dedup import unique_face_mask
from meshforge.transforms.edge_index import (
    BoolArray,
    EdgeIndex,
    face_components,
    repeated_directed_edge,
)
from meshforge.transforms.face_soup import FaceSoup
from meshforge.transforms.hole_filling import HoleReport, fill_holes
from meshforge.transforms.winding import consistent_winding, outward, twisted_faces

# A face whose area is below (AREA_EPS * bounding-box diagonal)^2 counts as zero-area.
AREA_EPS = 1e-6
# Rounds of dropping faces where winding still disagrees (each round walks the parts again).
TWIST_ROUNDS = 8
FACTS = ("watertight", "winding_consistent", "boundary_edges", "non_manifold_edges")


class RepairOptions(Options):
    fill_holes: bool = Field(default=True, description="Close holes with new faces.")
    max_hole_edges: int | None = Field(
        default=32,
        ge=3,
        description="Largest hole, in boundary edges, that is filled; bigger openings are "
        "likely meant to be open (a cup's rim). None fills every hole, as a solid for printing "
        "needs.",
    )
    min_part_fraction: float = Field(
        default=0.01,
        ge=0.0,
        lt=1.0,
        description="Connected parts with less than this fraction of the largest part's area "
        "are removed as floating debris; 0 keeps every part.",
    )


def repair(
    fill_holes: bool = True, max_hole_edges: int | None = 32, min_part_fraction: float = 0.01
) -> Transform:
    options = RepairOptions(
        fill_holes=fill_holes, max_hole_edges=max_hole_edges, min_part_fraction=min_part_fraction
    )
    return Transform(name="repair", function=lambda a, c: _repair(a, c, options), options=options)


def internal_walls(points: IntArray, index: EdgeIndex) -> BoolArray:
    """Mask of faces that form walls between touching parts: pairs of faces over the same three
    points wound opposite ways (each part's side of the contact), in connected patches whose
    rim edges keep two or more faces of the rest and whose other edges keep none. Dropping both
    sides of such a patch joins the parts into one closed surface, where keeping one side would
    leave edges of three faces. A double-sided sheet on its own (no rim attached to anything)
    is not a wall: its copies are left to the duplicate step."""
    m = len(points)
    low = points.min(axis=1)
    high = points.max(axis=1)
    key = int_row_keys(np.column_stack([low, points.sum(axis=1) - low - high, high]))
    order = np.argsort(key, kind="stable")
    ranked = key[order]
    starts = np.r_[True, ranked[1:] != ranked[:-1]]
    group = np.cumsum(starts) - 1
    size = np.bincount(group)[group]
    # Groups of exactly two faces, wound opposite ways (an odd permutation of each other).
    first = order[starts & (size == 2)]
    second = order[np.flatnonzero(starts & (size == 2)) + 1]
    rolled = [points[second][:, [k, (k + 1) % 3, (k + 2) % 3]] for k in range(3)]
    same_way = np.any([(points[first] == r).all(axis=1) for r in rolled], axis=0)
    pair = np.zeros(m, dtype=bool)
    pair[first[~same_way]] = pair[second[~same_way]] = True
    if not pair.any():
        return pair
    run, sizes = index.run_sizes()
    inside = np.bincount(run, pair[index.face], len(sizes))
    outside = (sizes - inside)[run]
    entries = pair[index.face]
    ok = np.ones(m, dtype=bool)
    attached = np.zeros(m, dtype=bool)
    np.logical_and.at(ok, index.face[entries], (outside[entries] == 0) | (outside[entries] >= 2))
    np.logical_or.at(attached, index.face[entries], outside[entries] >= 2)
    # Per connected patch of paired faces: every edge fine, and some edge attached.
    faces = np.flatnonzero(pair)
    count, labels = face_components(points[faces])
    patch_ok = np.ones(count, dtype=bool)
    patch_attached = np.zeros(count, dtype=bool)
    np.logical_and.at(patch_ok, labels, ok[faces])
    np.logical_or.at(patch_attached, labels, attached[faces])
    wall = np.zeros(m, dtype=bool)
    wall[faces] = (patch_ok & patch_attached)[labels]
    return wall


def drop_non_manifold(
    points: IntArray, areas: FloatArray, index: EdgeIndex | None = None
) -> BoolArray:
    """Mask of faces to keep so that no edge has more than two faces: on each such edge the two
    faces with the most shared edges (then the largest, then the first) stay. ``index`` (the
    faces' edge index) saves sorting the edges again."""
    keep = np.ones(len(points), dtype=bool)
    if len(points) == 0:
        return keep
    index = EdgeIndex.build(points) if index is None else index
    alive = np.arange(len(points))
    while True:
        run, sizes = index.run_sizes()
        counts = sizes[run]
        hot = counts > 2
        if not hot.any():
            return keep
        attached = np.bincount(index.face, counts >= 2, len(alive)).astype(np.int64)
        k, f = run[hot], index.face[hot]
        order = np.lexsort((f, -areas[alive][f], -attached[f], k))
        k, f = k[order], f[order]
        starts = np.r_[0, np.flatnonzero(k[1:] != k[:-1]) + 1]
        rank = np.arange(len(k)) - np.repeat(starts, np.diff(np.r_[starts, len(k)]))
        mask = np.ones(len(alive), dtype=bool)
        mask[f[rank >= 2]] = False
        keep[alive[~mask]] = False
        alive, index = alive[mask], index.keep(mask)


def _facts(soup: FaceSoup) -> dict[str, Any]:
    """``validate.checks.edge_facts`` on the soup's points (the FACTS part), read off the edge
    index rather than sorting every edge again."""
    p = soup.points
    _, sizes = soup.index.run_sizes()
    degenerate = int(
        np.count_nonzero((p[:, 0] == p[:, 1]) | (p[:, 1] == p[:, 2]) | (p[:, 0] == p[:, 2]))
    )
    return {
        "watertight": bool(np.all(sizes == 2)) and degenerate == 0,
        "winding_consistent": not repeated_directed_edge(p, soup.index),
        "boundary_edges": int(np.count_nonzero(sizes == 1)),
        "non_manifold_edges": int(np.count_nonzero(sizes > 2)),
    }


def _orient(soup: FaceSoup, areas: FloatArray) -> tuple[FloatArray, int]:
    """Consistent winding in every part; faces dropped where a part cannot agree with itself.
    Returns the areas of the faces kept and how many were dropped."""
    if not repeated_directed_edge(soup.points, soup.index):
        return areas, 0
    dropped = 0
    for _ in range(TWIST_ROUNDS):
        soup.flip(consistent_winding(soup.points, soup.index))
        twisted = twisted_faces(soup.points, soup.index, areas)
        if not twisted.any():
            break
        dropped += soup.keep(~twisted)
        areas = areas[~twisted]
    return areas, dropped


def _repair(asset: Asset, ctx: Context, options: RepairOptions) -> Asset:
    if asset.face_count == 0:
        raise TransformError(
            "the asset has no faces, so there is nothing to repair",
            stage="repair",
            hint="Check the engine's output or the input file.",
        )
    soup = FaceSoup.of(asset)
    vertices = soup.vertices
    before = _facts(soup)
    notes: dict[str, Any] = {}

    finite = np.asarray(np.isfinite(vertices).all(axis=1))
    notes["nonfinite_faces_removed"] = soup.keep(np.asarray(finite[soup.faces].all(axis=1)))
    if len(soup.faces) == 0:
        raise TransformError(
            "every face has a NaN or infinite corner",
            stage="repair",
            hint="The mesh is unusable; re-run the engine or re-export the file.",
        )
    low, high = vertices[finite].min(axis=0), vertices[finite].max(axis=0)
    min_area = (AREA_EPS * float(np.linalg.norm(high - low))) ** 2
    p = soup.points
    repeated = (p[:, 0] == p[:, 1]) | (p[:, 1] == p[:, 2]) | (p[:, 0] == p[:, 2])
    # Face areas are found once and filtered along with the faces.
    areas = triangle_areas(vertices, soup.faces)
    mask = ~repeated & (areas > min_area)
    notes["degenerate_faces_removed"] = soup.keep(mask)
    areas = areas[mask]
    if len(soup.faces) == 0:
        raise TransformError(
            "every face has zero area",
            stage="repair",
            hint="The mesh is flat or collapsed; re-run the engine or check the input file.",
        )
    mask = unique_face_mask(soup.faces, soup.pid)
    notes["internal_faces_removed"] = 0
    if not mask.all():
        # Some faces repeat: a wall between two parts that touch goes whole first.
        wall = internal_walls(soup.points, soup.index)
        notes["internal_faces_removed"] = soup.keep(~wall)
        areas = areas[~wall]
        mask = unique_face_mask(soup.faces, soup.pid)
    notes["duplicate_faces_removed"] = soup.keep(mask)
    areas = areas[mask]
    mask = drop_non_manifold(soup.points, areas, soup.index)
    notes["non_manifold_faces_removed"] = soup.keep(mask)
    areas = areas[mask]
    ctx.progress(0.3, "faces cleaned")

    parts, labels = face_components(soup.points, soup.index)
    notes["small_parts_removed"] = notes["small_part_faces_removed"] = 0
    if options.min_part_fraction > 0 and parts > 1:
        area = np.bincount(labels, areas, parts)
        small = area < options.min_part_fraction * area.max()
        notes["small_parts_removed"] = int(small.sum())
        notes["small_part_faces_removed"] = soup.keep(~small[labels])
        areas = areas[~small[labels]]
        # Whole parts went, so the others keep their faces; renumber them in the same order.
        labels = (np.cumsum(~small) - 1)[labels[~small[labels]]]
        parts = int((~small).sum())

    areas, twisted = _orient(soup, areas)
    notes["twisted_faces_removed"] = twisted
    ctx.progress(0.6, "winding made consistent")
    holes = HoleReport()
    if options.fill_holes:
        holes = fill_holes(soup, options.max_hole_edges, min_area)
    notes["holes_filled"] = holes.filled
    notes["hole_faces_added"] = holes.faces_added
    notes["holes_left"] = holes.left
    notes["holes_filled_by_size"] = holes.by_size
    notes["largest_hole_filled"] = holes.largest
    notes["hole_centre_fans"] = holes.centre_fans
    notes["hole_slits_zipped"] = holes.slits_zipped
    notes["hole_vertices_added"] = holes.vertices_added
    # Patches may join parts, and twisted faces split them: find them again only then.
    changed = holes.faces_added or twisted
    components = face_components(soup.points, soup.index) if changed else (parts, labels)
    soup.flip(outward(soup.vertices, soup.faces, soup.points, components))
    notes["faces_flipped"] = int(soup.flipped.sum())

    meshes, unused, normals_flipped = soup.to_meshes()
    notes["unused_vertices_removed"] = unused
    notes["vertex_normals_flipped"] = normals_flipped
    for key, value in notes.items():
        ctx.report.note(key, value)
    after = _facts(soup)
    for key in FACTS:
        if before[key] != after[key]:
            ctx.report.change(key, before[key], after[key])
    if len(meshes) != len(asset.meshes):
        ctx.report.change("meshes", len(asset.meshes), len(meshes))
    if not after["watertight"]:
        limit = "any size" if options.max_hole_edges is None else options.max_hole_edges
        ctx.warn(
            "not-watertight",
            f"the mesh is still open after repair ({after['boundary_edges']} boundary edges, "
            f"{after['non_manifold_edges']} non-manifold edges, {notes['holes_left']} holes "
            f"left); raise max_hole_edges (now {limit}) or close it in a "
            "modelling tool before 3D printing",
        )
    return dataclasses.replace(asset, meshes=meshes)
