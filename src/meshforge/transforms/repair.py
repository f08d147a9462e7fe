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
import functools
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
class _EdgeIndex:
    """Every face's three undirected edges, sorted by edge once so that later steps find shared
    edges with linear passes instead of a new sort each. Entry ``i`` is the edge from corner
    ``corner[i]`` to the next corner of face ``face[i]``; entries run by ``key`` (low * n + high
    point id), ties in slot order (``corner * faces + face``) until faces are flipped or added."""

    faces: int
    n: int
    key: IntArray
    face: IntArray
    corner: IntArray

    @classmethod
    def build(cls, points: IntArray, n: int | None = None) -> _EdgeIndex:
        if n is None:
            n = int(points.max()) + 1 if len(points) else 1
        keys = _slot_keys(points, n)
        order = np.argsort(keys, kind="stable")
        m = len(points)
        return cls(m, n, keys[order], order % m if m else order, order // m if m else order)

    def keep(self, mask: BoolArray) -> _EdgeIndex:
        """The index of the faces ``mask`` keeps (renumbered); filtering keeps the order."""
        if mask.all():
            return self
        alive = mask[self.face]
        renumber = np.cumsum(mask) - 1
        return _EdgeIndex(
            int(mask.sum()),
            self.n,
            self.key[alive],
            renumber[self.face[alive]],
            self.corner[alive],
        )

    def flip(self, mask: BoolArray) -> _EdgeIndex:
        """The index after the faces in ``mask`` are reversed ((a, b, c) -> (c, b, a)): their
        edges stay, but the edge of corner 0 becomes the edge of corner 1 and back."""
        swap = mask[self.face] & (self.corner < 2)
        return dataclasses.replace(self, corner=np.where(swap, 1 - self.corner, self.corner))

    def add(self, points: IntArray) -> _EdgeIndex:
        """The index with faces ``points`` appended; their edges are merged into the order."""
        keys = _slot_keys(points, self.n)
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(self.key, keys[order], side="right")
        return _EdgeIndex(
            self.faces + len(points),
            self.n,
            np.insert(self.key, at, keys[order]),
            np.insert(self.face, at, self.faces + order % len(points)),
            np.insert(self.corner, at, order // len(points)),
        )

    def starts(self) -> BoolArray:
        """True where a run of entries with one edge key begins."""
        starts = np.ones(len(self.key), dtype=bool)
        np.not_equal(self.key[1:], self.key[:-1], out=starts[1:])
        return starts

    def run_sizes(self) -> tuple[IntArray, IntArray]:
        """Each entry's run (edge) number, and each run's size: the faces on that edge."""
        return self._runs

    @functools.cached_property
    def _runs(self) -> tuple[IntArray, IntArray]:
        # Several steps read the runs between two changes; an index is never changed in place.
        run = np.cumsum(self.starts()) - 1
        return run, np.bincount(run)

    def slots(self) -> IntArray:
        """Each entry's slot ``corner * faces + face`` (the layout of ``_slot_keys``)."""
        return np.asarray(self.corner * self.faces + self.face, dtype=np.int64)

    def slot_counts(self) -> IntArray:
        """Faces on the edge of each slot."""
        run, sizes = self.run_sizes()
        counts = np.empty(len(self.key), dtype=np.int64)
        counts[self.slots()] = sizes[run]
        return counts

    def directed(self, points: IntArray, at: IntArray) -> tuple[IntArray, IntArray]:
        """Start and end point of the edges of entries ``at`` as their faces run them."""
        slot = self.slots()[at]
        return points.T.reshape(-1)[slot], points[:, [1, 2, 0]].T.reshape(-1)[slot]


def _slot_keys(points: IntArray, n: int) -> IntArray:
    """Undirected edge keys, slot ``corner * faces + face`` (corners 0-1, 1-2, 2-0)."""
    start = points.T.reshape(-1)
    end = points[:, [1, 2, 0]].T.reshape(-1)
    return np.asarray(np.minimum(start, end) * n + np.maximum(start, end), dtype=np.int64)


def _repeated_directed_edge(points: IntArray, index: _EdgeIndex) -> bool:
    """Whether two faces run one edge the same way (a directed edge appears twice)."""
    backward_slot = (points > points[:, [1, 2, 0]]).T.reshape(-1)
    run, sizes = index.run_sizes()
    backward = np.bincount(run, backward_slot[index.slots()], len(sizes))
    return bool(((backward >= 2) | (sizes - backward >= 2)).any())


@dataclasses.dataclass
class _Soup:
    """Every mesh's faces in one array of global vertex ids, with the mesh of each face and the
    edge index of their points, kept in step as faces go, flip or come."""

    vertices: FloatArray
    pid: IntArray
    faces: IntArray
    mesh: IntArray
    flipped: BoolArray
    index: _EdgeIndex

    def keep(self, mask: BoolArray) -> int:
        dropped = int((~mask).sum())
        if dropped:
            self.faces, self.mesh = self.faces[mask], self.mesh[mask]
            self.flipped, self.index = self.flipped[mask], self.index.keep(mask)
        return dropped

    def flip(self, mask: BoolArray) -> None:
        if mask.any():
            self.faces[mask] = self.faces[mask][:, ::-1]
            self.flipped[mask] = ~self.flipped[mask]
            self.index = self.index.flip(mask)

    def add(self, faces: IntArray, mesh: IntArray) -> None:
        self.faces = np.concatenate([self.faces, faces])
        self.mesh = np.concatenate([self.mesh, mesh])
        self.flipped = np.concatenate([self.flipped, np.zeros(len(faces), dtype=bool)])
        self.index = self.index.add(np.asarray(self.pid[faces], dtype=np.int64))

    @property
    def points(self) -> IntArray:
        return np.asarray(self.pid[self.faces], dtype=np.int64)


def _areas(vertices: FloatArray, faces: IntArray) -> FloatArray:
    tri = vertices[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return np.asarray(np.linalg.norm(cross, axis=1) / 2, dtype=np.float64)


def _components(points: IntArray, index: _EdgeIndex | None = None) -> tuple[int, IntArray]:
    """Connected parts of faces that share an edge, numbered in order of their first face;
    ``index`` (the faces' edge index) saves sorting the edges again."""
    if len(points) == 0:
        return 0, np.zeros(0, dtype=np.int64)
    index = _EdgeIndex.build(points) if index is None else index
    same = index.key[1:] == index.key[:-1]
    a, b = index.face[:-1][same], index.face[1:][same]
    m = len(points)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(m, m))
    count, labels = connected_components(graph, directed=False)
    return int(count), np.asarray(labels, dtype=np.int64)


def drop_non_manifold(
    points: IntArray, areas: FloatArray, index: _EdgeIndex | None = None
) -> BoolArray:
    """Mask of faces to keep so that no edge has more than two faces: on each such edge the two
    faces with the most shared edges (then the largest, then the first) stay. ``index`` (the
    faces' edge index) saves sorting the edges again."""
    keep = np.ones(len(points), dtype=bool)
    if len(points) == 0:
        return keep
    index = _EdgeIndex.build(points) if index is None else index
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


def consistent_winding(points: IntArray, index: _EdgeIndex | None = None) -> BoolArray:
    """Mask of faces to flip so that every shared edge runs opposite ways in its two faces;
    ``index`` (the faces' edge index, in slot order within each edge) saves sorting again."""
    m = len(points)
    flip = np.zeros(m, dtype=bool)
    if m == 0:
        return flip
    index = _EdgeIndex.build(points) if index is None else index
    if not _repeated_directed_edge(points, index):
        return flip
    run, sizes = index.run_sizes()
    # Edges with exactly two faces: the run's first entry and the next.
    a = np.flatnonzero(index.starts() & (sizes[run] == 2))
    b = a + 1
    pairs = np.column_stack([index.face[a], index.face[b]])
    # Same direction on a shared edge: the two faces disagree, one of them must flip.
    (start_a, end_a), (start_b, end_b) = index.directed(points, a), index.directed(points, b)
    disagree = (start_a == start_b) & (end_a == end_b)
    _, first = np.unique(pairs[:, 0] * m + pairs[:, 1], return_index=True)
    pairs, disagree = pairs[first], disagree[first]
    # A virtual root joins one face of every part, so one walk visits them all.
    count, labels = connected_components(
        coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m)),
        directed=False,
    )
    roots = np.full(count, m, dtype=np.int64)
    np.minimum.at(roots, labels, np.arange(m))
    rows = np.r_[pairs[:, 0], pairs[:, 1], np.full(count, m)]
    cols = np.r_[pairs[:, 1], pairs[:, 0], roots]
    data = np.r_[disagree, disagree, np.zeros(count, dtype=bool)].astype(np.float64) + 1.0
    size = m + 1
    graph = csr_matrix((data, (rows, cols)), shape=(size, size))
    graph.sum_duplicates()  # canonical: sorted columns, for the look-up below
    order_nodes, predecessors = breadth_first_order(graph, m, directed=False)
    nodes = np.asarray(order_nodes[1:], dtype=np.int64)  # int32 from scipy: keys overflow
    parents = np.asarray(predecessors[nodes], dtype=np.int64)
    # graph[node, parent] for every tree edge, looked up in the CSR arrays (row-major, sorted
    # columns); the virtual root's edges are stored one way only, so those read as 0.
    entry = np.repeat(np.arange(size), np.diff(graph.indptr)) * size + graph.indices
    wanted = nodes * size + parents
    at = np.minimum(np.searchsorted(entry, wanted), len(entry) - 1)
    weight = np.where(entry[at] == wanted, graph.data[at], 0.0)
    # A face flips when an odd number of disagreeing edges lead to its part's root: the parity
    # of each path, by pointer jumping (log of the tree's depth passes).
    parent = np.arange(size)
    parent[nodes] = parents
    odd = np.zeros(size, dtype=bool)
    odd[nodes] = weight == 2.0
    while True:
        grandparent = parent[parent]
        if np.array_equal(grandparent, parent):
            break
        odd ^= odd[parent]
        parent = grandparent
    flip[:] = odd[:m]
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
    boundary = np.flatnonzero(soup.index.slot_counts() == 1)
    if len(boundary) == 0:
        return 0, 0, 0
    corner = boundary // len(points)
    face = boundary % len(points)
    # Plain lists: the walk below looks at one edge at a time.
    start = points[face, corner].tolist()
    end = points[face, (corner + 1) % 3].tolist()
    vid = soup.faces[face, corner]
    outgoing: dict[int, list[int]] = {}
    for e, s in enumerate(start):
        outgoing.setdefault(s, []).append(e)
    used = [False] * len(boundary)
    patches: list[list[list[int]]] = []
    patch_mesh: list[int] = []
    left = 0
    for e0 in range(len(boundary)):
        if used[e0]:
            continue
        loop, e, closed = [e0], e0, False
        used[e0] = True
        while len(loop) <= len(boundary):
            if end[e] == start[e0]:
                closed = True
                break
            nxt = [x for x in outgoing.get(end[e], []) if not used[x]]
            if not nxt:
                break
            e = nxt[0]
            used[e] = True
            loop.append(e)
        if not closed or len(loop) > max_edges or len(loop) < 3:
            left += 1
            continue
        meshes = set(soup.mesh[face[loop]].tolist())
        if len(meshes) != 1:
            left += 1
            continue
        # The loop runs along its faces' edges; the patch runs the other way round.
        ring = vid[loop][::-1]
        # A triangle is its own patch (what ear clipping returns for it, without the maths).
        corners = _ear_clip(soup.vertices[ring]) if len(ring) > 3 else [(0, 1, 2)]
        patches.append([[int(ring[i]) for i in t] for t in corners])
        patch_mesh.append(meshes.pop())
    if not patches:
        return 0, 0, left
    # Patches with a degenerate or zero-area triangle stay open: checked for all at once.
    sizes = [len(patch) for patch in patches]
    triangles = np.asarray([t for patch in patches for t in patch], dtype=np.int64)
    owner = np.repeat(np.arange(len(patches)), sizes)
    tri_points = soup.pid[triangles]
    bad = (tri_points[:, 0] == tri_points[:, 1]) | (tri_points[:, 1] == tri_points[:, 2])
    bad |= tri_points[:, 0] == tri_points[:, 2]
    bad |= _areas(soup.vertices, triangles) <= min_area
    open_patch = np.bincount(owner, bad, len(patches)) > 0
    left += int(open_patch.sum())
    filled = len(patches) - int(open_patch.sum())
    new_faces = triangles[~open_patch[owner]]
    if len(new_faces):
        soup.add(
            new_faces, np.repeat(np.asarray(patch_mesh, dtype=np.int64), sizes)[~open_patch[owner]]
        )
    return filled, len(new_faces), left


def outward(
    vertices: FloatArray,
    faces: IntArray,
    points: IntArray,
    components: tuple[int, IntArray] | None = None,
) -> BoolArray:
    """Mask of faces in parts whose signed volume about the part's centre is negative;
    ``components`` (count, labels) saves finding the parts again when they are known."""
    count, labels = _components(points) if components is None else components
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
    """``validate.checks.edge_facts`` on the soup's points (the FACTS part), read off the edge
    index rather than sorting every edge again."""
    p = soup.points
    _, sizes = soup.index.run_sizes()
    degenerate = int(
        np.count_nonzero((p[:, 0] == p[:, 1]) | (p[:, 1] == p[:, 2]) | (p[:, 0] == p[:, 2]))
    )
    return {
        "watertight": bool(np.all(sizes == 2)) and degenerate == 0,
        "winding_consistent": not _repeated_directed_edge(p, soup.index),
        "boundary_edges": int(np.count_nonzero(sizes == 1)),
        "non_manifold_edges": int(np.count_nonzero(sizes > 2)),
    }


def _repair(asset: Asset, ctx: Context, options: RepairOptions) -> Asset:
    if asset.face_count == 0:
        raise TransformError(
            "the asset has no faces, so there is nothing to repair",
            stage="repair",
            hint="Check the engine's output or the input file.",
        )
    offsets = np.cumsum([0] + [len(m.vertices) for m in asset.meshes])
    vertices = np.concatenate([m.vertices for m in asset.meshes])
    pid = position_ids(vertices)
    faces = np.concatenate([m.faces + o for m, o in zip(asset.meshes, offsets, strict=False)])
    # The edges are sorted once here; every step below keeps the index in step with the faces.
    soup = _Soup(
        vertices=vertices,
        pid=pid,
        faces=faces,
        mesh=np.repeat(np.arange(len(asset.meshes)), [len(m.faces) for m in asset.meshes]),
        flipped=np.zeros(asset.face_count, dtype=bool),
        index=_EdgeIndex.build(np.asarray(pid[faces], dtype=np.int64), int(pid.max()) + 1),
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
    # Face areas are found once and filtered along with the faces.
    areas = _areas(vertices, soup.faces)
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
    notes["duplicate_faces_removed"] = soup.keep(mask)
    areas = areas[mask]
    mask = drop_non_manifold(soup.points, areas, soup.index)
    notes["non_manifold_faces_removed"] = soup.keep(mask)
    areas = areas[mask]
    ctx.progress(0.3, "faces cleaned")

    parts, labels = _components(soup.points, soup.index)
    notes["small_parts_removed"] = notes["small_part_faces_removed"] = 0
    if options.min_part_fraction > 0 and parts > 1:
        area = np.bincount(labels, areas, parts)
        small = area < options.min_part_fraction * area.max()
        notes["small_parts_removed"] = int(small.sum())
        notes["small_part_faces_removed"] = soup.keep(~small[labels])
        # Whole parts went, so the others keep their faces; renumber them in the same order.
        labels = (np.cumsum(~small) - 1)[labels[~small[labels]]]
        parts = int((~small).sum())

    soup.flip(consistent_winding(soup.points, soup.index))
    ctx.progress(0.6, "winding made consistent")
    holes = (0, 0, 0)
    if options.fill_holes:
        holes = fill_holes(soup, options.max_hole_edges, min_area)
    notes["holes_filled"], notes["hole_faces_added"], notes["holes_left"] = holes
    # Patches may join parts: find them again only then.
    components = _components(soup.points, soup.index) if holes[1] else (parts, labels)
    soup.flip(outward(vertices, soup.faces, soup.points, components))
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
            # Summed per vertex in corner-then-face order (as np.add.at per corner would).
            corners = faces.T.reshape(-1)
            count = len(mesh.vertices)
            summed = np.column_stack(
                [np.bincount(corners, np.tile(cross[:, k], 3), count) for k in range(3)]
            )
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
