"""``repair``: make a mesh that viewers, slicers and validators accept: no NaN or degenerate
faces, no duplicates, every edge shared by at most two faces, one consistent outward winding,
small holes closed and stray fragments gone.

Topology is read on positions (corners at the same coordinates are one point, across meshes), so
UV seams are not holes and nothing is welded: kept faces keep their vertices, UVs, normals and
material. The steps run in a fixed order, each counted in the report:

1. faces with a NaN or infinite corner are dropped (nothing sensible can be drawn from them);
2. degenerate faces (two corners at one point, or zero area) are dropped;
3. repeated faces (same three points, any order or winding) keep their first copy;
4. on an edge shared by more than two faces, the two faces most attached to the rest of the
   surface (then the largest) stay and the others are dropped. Dropping, not splitting, keeps
   every vertex and UV as it was; the extra faces are usually fins or doubled sheets, and a hole
   left behind is filled in step 7;
5. connected parts with less than ``min_part_fraction`` of the largest part's area are dropped;
6. winding is made consistent across each part (a breadth-first walk over shared edges);
7. boundary loops of at most ``max_hole_edges`` edges are filled by ear clipping over existing
   vertices (no new vertices, so no new UVs are needed);
8. each part is turned outward (positive signed volume about its centre); stored vertex normals
   that now point against their faces are flipped with them.

A warning says when the result is still not watertight.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import Field
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

from meshforge.asset import Asset, FloatArray, IntArray, Mesh
from meshforge.errors import TransformError
from meshforge.recipe import Options
from meshforge.transforms.base import Context, Transform
from meshforge.transforms.dedup import drop_unused_vertices, unique_face_mask
from meshforge.transforms.weld import position_ids
from meshforge.validate.checks import edge_facts

BoolArray = NDArray[np.bool_]

# A face whose area is below (AREA_EPS * bounding-box diagonal)^2 counts as zero-area.
AREA_EPS = 1e-6
FACTS = ("watertight", "winding_consistent", "boundary_edges", "non_manifold_edges")


class RepairOptions(Options):
    fill_holes: bool = Field(default=True, description="Close small holes with new faces.")
    max_hole_edges: int = Field(
        default=32,
        ge=3,
        description="Largest hole, in boundary edges, that is filled; bigger openings are "
        "likely meant to be open (a cup's rim) or need a modelling tool.",
    )
    min_part_fraction: float = Field(
        default=0.01,
        ge=0.0,
        lt=1.0,
        description="Connected parts with less than this fraction of the largest part's area "
        "are removed as floating debris; 0 keeps every part.",
    )


def repair(
    fill_holes: bool = True, max_hole_edges: int = 32, min_part_fraction: float = 0.01
) -> Transform:
    options = RepairOptions(
        fill_holes=fill_holes, max_hole_edges=max_hole_edges, min_part_fraction=min_part_fraction
    )
    return Transform(name="repair", function=lambda a, c: _repair(a, c, options), options=options)


@dataclasses.dataclass
class _Soup:
    """Every mesh's faces in one array of global vertex ids, with the mesh of each face."""

    vertices: FloatArray
    pid: IntArray
    faces: IntArray
    mesh: IntArray
    flipped: BoolArray

    def keep(self, mask: BoolArray) -> int:
        dropped = int((~mask).sum())
        self.faces, self.mesh, self.flipped = self.faces[mask], self.mesh[mask], self.flipped[mask]
        return dropped

    def flip(self, mask: BoolArray) -> None:
        self.faces[mask] = self.faces[mask][:, ::-1]
        self.flipped[mask] = ~self.flipped[mask]

    @property
    def points(self) -> IntArray:
        return np.asarray(self.pid[self.faces], dtype=np.int64)


def _areas(vertices: FloatArray, faces: IntArray) -> FloatArray:
    tri = vertices[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return np.asarray(np.linalg.norm(cross, axis=1) / 2, dtype=np.float64)


def _edges(points: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Undirected edge keys (3 per face, face-major per corner), their face, and the count of
    faces on each key."""
    n = int(points.max()) + 1 if len(points) else 1
    directed = np.concatenate([points[:, [0, 1]], points[:, [1, 2]], points[:, [2, 0]]])
    ordered = np.sort(directed, axis=1)
    keys = ordered[:, 0] * n + ordered[:, 1]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    faces = np.tile(np.arange(len(points)), 3)
    return keys, faces, np.asarray(counts[inverse.reshape(-1)], dtype=np.int64)


def _components(points: IntArray) -> tuple[int, IntArray]:
    """Connected parts of faces that share an edge."""
    if len(points) == 0:
        return 0, np.zeros(0, dtype=np.int64)
    keys, faces, _ = _edges(points)
    order = np.argsort(keys, kind="stable")
    same = keys[order][1:] == keys[order][:-1]
    a, b = faces[order][:-1][same], faces[order][1:][same]
    m = len(points)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(m, m))
    count, labels = connected_components(graph, directed=False)
    return int(count), np.asarray(labels, dtype=np.int64)


def drop_non_manifold(points: IntArray, areas: FloatArray) -> BoolArray:
    """Mask of faces to keep so that no edge has more than two faces: on each such edge the two
    faces with the most shared edges (then the largest, then the first) stay."""
    keep = np.ones(len(points), dtype=bool)
    while True:
        alive = np.flatnonzero(keep)
        keys, faces, counts = _edges(points[alive])
        if not (counts > 2).any():
            return keep
        attached = np.zeros(len(alive), dtype=np.int64)
        np.add.at(attached, faces, counts >= 2)
        hot = counts > 2
        k, f = keys[hot], faces[hot]
        order = np.lexsort((f, -areas[alive][f], -attached[f], k))
        k, f = k[order], f[order]
        starts = np.r_[0, np.flatnonzero(k[1:] != k[:-1]) + 1]
        rank = np.arange(len(k)) - np.repeat(starts, np.diff(np.r_[starts, len(k)]))
        keep[alive[f[rank >= 2]]] = False


def consistent_winding(points: IntArray) -> BoolArray:
    """Mask of faces to flip so that every shared edge runs opposite ways in its two faces."""
    m = len(points)
    flip = np.zeros(m, dtype=bool)
    directed = np.concatenate([points[:, [0, 1]], points[:, [1, 2]], points[:, [2, 0]]])
    if len(np.unique(directed, axis=0)) == len(directed):
        return flip
    keys, faces, counts = _edges(points)
    shared = np.flatnonzero(counts == 2)
    order = shared[np.argsort(keys[shared], kind="stable")]
    a, b = order[0::2], order[1::2]
    pairs = np.column_stack([faces[a], faces[b]])
    # Same direction on a shared edge: the two faces disagree, one of them must flip.
    disagree = (directed[a] == directed[b]).all(axis=1)
    pairs, first = np.unique(pairs, axis=0, return_index=True)
    disagree = disagree[first]
    # A virtual root joins one face of every part, so one walk visits them all.
    count, labels = connected_components(
        coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m)),
        directed=False,
    )
    _, roots = np.unique(labels, return_index=True)
    rows = np.r_[pairs[:, 0], pairs[:, 1], np.full(count, m)]
    cols = np.r_[pairs[:, 1], pairs[:, 0], roots]
    data = np.r_[disagree, disagree, np.zeros(count, dtype=bool)].astype(np.float64) + 1.0
    graph = csr_matrix((data, (rows, cols)), shape=(m + 1, m + 1))
    order_nodes, predecessors = breadth_first_order(graph, m, directed=False)
    nodes = order_nodes[1:]
    relation = np.asarray(graph[nodes, predecessors[nodes]]).reshape(-1) == 2.0
    state = np.zeros(m + 1, dtype=bool)
    for node, parent, rel in zip(
        nodes.tolist(), predecessors[nodes].tolist(), relation.tolist(), strict=True
    ):
        state[node] = state[parent] ^ rel
    flip[:] = state[:m]
    return flip


def _ear_clip(points: FloatArray) -> list[tuple[int, int, int]]:
    """Triangles (indices into ``points``, in the polygon's own order) covering a 3D polygon,
    by ear clipping in its best-fit plane; a fan where the projection is not simple."""
    n = len(points)
    normal = np.cross(points, np.roll(points, -1, axis=0)).sum(axis=0)
    length = float(np.linalg.norm(normal))
    fan = [(0, j, j + 1) for j in range(1, n - 1)]
    if length == 0.0:
        return fan
    normal /= length
    axis = np.eye(3)[int(np.argmin(np.abs(normal)))]
    u = np.cross(normal, axis)
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    flat = np.column_stack([points @ u, points @ v])
    eps = 1e-12 * float(np.ptp(flat, axis=0).max()) ** 2
    index = list(range(n))
    triangles: list[tuple[int, int, int]] = []
    while len(index) > 3:
        for k in range(len(index)):
            i0, i1, i2 = index[k - 1], index[k], index[(k + 1) % len(index)]
            a, b, c = flat[i0], flat[i1], flat[i2]
            if _cross2(b - a, c - b) <= eps:
                continue
            others = [j for j in index if j not in (i0, i1, i2)]
            if others and _inside(flat[others], a, b, c, eps).any():
                continue
            triangles.append((i0, i1, i2))
            index.pop(k)
            break
        else:
            return triangles + [
                (index[0], index[j], index[j + 1]) for j in range(1, len(index) - 1)
            ]
    triangles.append((index[0], index[1], index[2]))
    return triangles


def _cross2(p: FloatArray, q: FloatArray) -> float:
    return float(p[0] * q[1] - p[1] * q[0])


def _inside(p: FloatArray, a: FloatArray, b: FloatArray, c: FloatArray, eps: float) -> BoolArray:
    def side(s: FloatArray, t: FloatArray) -> FloatArray:
        return np.asarray((t[0] - s[0]) * (p[:, 1] - s[1]) - (t[1] - s[1]) * (p[:, 0] - s[0]))

    return np.asarray((side(a, b) >= -eps) & (side(b, c) >= -eps) & (side(c, a) >= -eps))


def fill_holes(soup: _Soup, max_edges: int, min_area: float) -> tuple[int, int, int]:
    """Close boundary loops of at most ``max_edges`` edges inside one mesh; (holes filled,
    faces added, holes left open)."""
    points = soup.points
    _, faces, counts = _edges(points)
    boundary = np.flatnonzero(counts == 1)
    if len(boundary) == 0:
        return 0, 0, 0
    corner = boundary // len(points)
    face = faces[boundary]
    start = points[face, corner]
    end = points[face, (corner + 1) % 3]
    vid = soup.faces[face, corner]
    outgoing: dict[int, list[int]] = {}
    for e, s in enumerate(start.tolist()):
        outgoing.setdefault(s, []).append(e)
    used = np.zeros(len(boundary), dtype=bool)
    new_faces: list[list[int]] = []
    new_mesh: list[int] = []
    filled = left = 0
    for e0 in range(len(boundary)):
        if used[e0]:
            continue
        loop, e, closed = [e0], e0, False
        used[e0] = True
        while len(loop) <= len(boundary):
            if end[e] == start[e0]:
                closed = True
                break
            nxt = [x for x in outgoing.get(int(end[e]), []) if not used[x]]
            if not nxt:
                break
            e = nxt[0]
            used[e] = True
            loop.append(e)
        meshes = set(soup.mesh[face[loop]].tolist())
        if not closed or len(loop) > max_edges or len(loop) < 3 or len(meshes) != 1:
            left += 1
            continue
        # The loop runs along its faces' edges; the patch runs the other way round.
        ring = vid[loop][::-1]
        triangles = np.array([[ring[i] for i in t] for t in _ear_clip(soup.vertices[ring])])
        tri_points = soup.pid[triangles]
        degenerate = (tri_points[:, 0] == tri_points[:, 1]) | (tri_points[:, 1] == tri_points[:, 2])
        degenerate |= tri_points[:, 0] == tri_points[:, 2]
        if degenerate.any() or (_areas(soup.vertices, triangles) <= min_area).any():
            left += 1
            continue
        new_faces.extend(triangles.tolist())
        new_mesh.extend([meshes.pop()] * len(triangles))
        filled += 1
    if new_faces:
        soup.faces = np.concatenate([soup.faces, np.asarray(new_faces, dtype=np.int64)])
        soup.mesh = np.concatenate([soup.mesh, np.asarray(new_mesh, dtype=np.int64)])
        soup.flipped = np.concatenate([soup.flipped, np.zeros(len(new_faces), dtype=bool)])
    return filled, len(new_faces), left


def outward(vertices: FloatArray, faces: IntArray, points: IntArray) -> BoolArray:
    """Mask of faces in parts whose signed volume about the part's centre is negative."""
    count, labels = _components(points)
    tri = vertices[faces]
    centre = (
        np.stack(
            [np.bincount(labels, tri[:, :, axis].mean(axis=1), count) for axis in range(3)], axis=1
        )
        / np.bincount(labels, minlength=count)[:, None]
    )
    rel = tri - centre[labels][:, None, :]
    volume = np.einsum("ij,ij->i", rel[:, 0], np.cross(rel[:, 1], rel[:, 2])) / 6
    return np.asarray(np.bincount(labels, volume, count)[labels] < 0)


def _facts(soup: _Soup) -> dict[str, Any]:
    return {k: v for k, v in edge_facts(soup.points).items() if k in FACTS}


def _repair(asset: Asset, ctx: Context, options: RepairOptions) -> Asset:
    if asset.face_count == 0:
        raise TransformError(
            "the asset has no faces, so there is nothing to repair",
            stage="repair",
            hint="Check the engine's output or the input file.",
        )
    offsets = np.cumsum([0] + [len(m.vertices) for m in asset.meshes])
    vertices = np.concatenate([m.vertices for m in asset.meshes])
    soup = _Soup(
        vertices=vertices,
        pid=position_ids(vertices),
        faces=np.concatenate([m.faces + o for m, o in zip(asset.meshes, offsets, strict=False)]),
        mesh=np.repeat(np.arange(len(asset.meshes)), [len(m.faces) for m in asset.meshes]),
        flipped=np.zeros(asset.face_count, dtype=bool),
    )
    before = _facts(soup)
    notes: dict[str, int] = {}

    finite = np.isfinite(vertices).all(axis=1)
    notes["nonfinite_faces_removed"] = soup.keep(finite[soup.faces].all(axis=1))
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
    notes["degenerate_faces_removed"] = soup.keep(
        ~repeated & (_areas(vertices, soup.faces) > min_area)
    )
    if len(soup.faces) == 0:
        raise TransformError(
            "every face has zero area",
            stage="repair",
            hint="The mesh is flat or collapsed; re-run the engine or check the input file.",
        )
    notes["duplicate_faces_removed"] = soup.keep(unique_face_mask(soup.faces, soup.pid))
    notes["non_manifold_faces_removed"] = soup.keep(
        drop_non_manifold(soup.points, _areas(vertices, soup.faces))
    )
    ctx.progress(0.3, "faces cleaned")

    parts, labels = _components(soup.points)
    notes["small_parts_removed"] = notes["small_part_faces_removed"] = 0
    if options.min_part_fraction > 0 and parts > 1:
        area = np.bincount(labels, _areas(vertices, soup.faces), parts)
        small = area < options.min_part_fraction * area.max()
        notes["small_parts_removed"] = int(small.sum())
        notes["small_part_faces_removed"] = soup.keep(~small[labels])

    soup.flip(consistent_winding(soup.points))
    ctx.progress(0.6, "winding made consistent")
    holes = (0, 0, 0)
    if options.fill_holes:
        holes = fill_holes(soup, options.max_hole_edges, min_area)
    notes["holes_filled"], notes["hole_faces_added"], notes["holes_left"] = holes
    soup.flip(outward(vertices, soup.faces, soup.points))
    notes["faces_flipped"] = int(soup.flipped.sum())

    meshes, unused, normals_flipped = _split(asset, soup, offsets)
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
        ctx.warn(
            "not-watertight",
            f"the mesh is still open after repair ({after['boundary_edges']} boundary edges, "
            f"{after['non_manifold_edges']} non-manifold edges, {notes['holes_left']} holes "
            f"left); raise max_hole_edges (now {options.max_hole_edges}) or close it in a "
            "modelling tool before 3D printing",
        )
    return dataclasses.replace(asset, meshes=meshes)


def _split(asset: Asset, soup: _Soup, offsets: IntArray) -> tuple[list[Mesh], int, int]:
    """The soup back as the asset's meshes (empty ones dropped), unused vertices removed, and
    stored normals turned with their flipped faces."""
    meshes: list[Mesh] = []
    unused = normals_flipped = 0
    for index, mesh in enumerate(asset.meshes):
        mine = soup.mesh == index
        if not mine.any():
            continue
        faces = soup.faces[mine] - offsets[index]
        normals = mesh.normals
        if normals is not None and soup.flipped[mine].any():
            tri = mesh.vertices[faces]
            cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            summed = np.zeros_like(mesh.vertices)
            for k in range(3):
                np.add.at(summed, faces[:, k], cross)
            touched = np.zeros(len(mesh.vertices), dtype=bool)
            touched[faces[soup.flipped[mine]].reshape(-1)] = True
            against = touched & (np.einsum("ij,ij->i", normals, summed) < 0)
            if against.any():
                normals = normals.copy()
                normals[against] *= -1
                normals_flipped += int(against.sum())
        changed = dataclasses.replace(mesh, faces=faces, normals=normals)
        changed, dropped = drop_unused_vertices(changed)
        unused += dropped
        meshes.append(changed)
    return meshes, unused, normals_flipped
