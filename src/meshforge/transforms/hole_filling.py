"""Hole filling: find the boundary loops of a face soup and close them with patches.

The soup must be edge-manifold (no edge with more than two faces) and consistently wound, so
that every boundary edge runs the way its face runs it and the boundary splits into closed
loops. Steps:

1. boundary edges are chained into closed walks; a walk that passes a point twice (a
   figure-eight, two holes touching at a corner) is cut there into simple loops;
2. a loop with more than ``max_edges`` edges stays open (None: no limit);
3. the patch runs opposite to the loop, so it agrees with the faces around it. It belongs to
   the mesh that has most of the loop's edges; loop corners of other meshes are matched to a
   vertex of that mesh at the same position, or copied into it;
4. triangles: ear clipping in the loop's best-fit plane (``polygon.triangulate``), never
   adding an edge the surface already has (a third face on it); when the projection crosses
   itself or no ear can be cut, a fan from a new vertex at the loop's centre, whose UV and
   normal are the means of the loop's;
5. a loop whose corners lie on one line has no area to cover (a crack whose two sides were
   meshed with different vertices, T-junctions): the faces along it are split at the other
   side's corners instead, which zips it shut;
6. otherwise (a triangle of next to no area in every option) the hole stays open.

Patches are added at the end, together; an edge one patch makes is one no later patch may
make again.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from meshforge.asset import FloatArray, IntArray
from meshforge.transforms import polygon
from meshforge.transforms.edge_index import EdgeIndex
from meshforge.transforms.face_soup import FaceSoup

# Hole sizes (boundary edges) the report counts fills by: upper bounds, the last open.
SIZE_BANDS = ((3, 8), (9, 32), (33, 128), (129, None))


def size_band(edges: int) -> str:
    """The report's name for the size band of a hole with ``edges`` boundary edges."""
    for low, high in SIZE_BANDS:
        if high is None or edges <= high:
            return f"{low}-{high}" if high is not None else f"{low}+"
    raise AssertionError(edges)  # pragma: no cover - the last band is open


@dataclasses.dataclass
class HoleReport:
    """What filling did: holes closed (in all, by size band, the largest), faces (net) and
    vertices it added, holes it left open, and how many were closed by a centre fan or by
    zipping a slit."""

    filled: int = 0
    faces_added: int = 0
    left: int = 0
    vertices_added: int = 0
    centre_fans: int = 0
    slits_zipped: int = 0
    largest: int = 0
    by_size: dict[str, int] = dataclasses.field(
        default_factory=lambda: {size_band(low): 0 for low, _ in SIZE_BANDS}
    )


def boundary_loops(
    points: IntArray, index: EdgeIndex
) -> tuple[IntArray, IntArray, list[IntArray], int]:
    """The boundary edges (face and corner of each: the edge from that corner to the next), the
    simple closed loops they form, each an array of boundary-edge numbers in the order the
    faces run them, and the number of chains that close no loop (only where winding
    disagrees)."""
    slots = np.flatnonzero(index.slot_counts() == 1)
    m = len(points)
    face, corner = slots % m, slots // m
    if len(slots) == 0:
        return face, corner, [], 0
    # Plain lists: the walk below looks at one edge at a time.
    start = points[face, corner].tolist()
    end = points[face, (corner + 1) % 3].tolist()
    outgoing: dict[int, list[int]] = {}
    for e, s in enumerate(start):
        outgoing.setdefault(s, []).append(e)
    used = [False] * len(slots)
    loops: list[IntArray] = []
    unclosed = 0
    for e0 in range(len(slots)):
        if used[e0]:
            continue
        walk, e, closed = [e0], e0, False
        used[e0] = True
        while True:
            if end[e] == start[e0]:
                closed = True
                break
            following = outgoing.get(end[e], [])
            while following and used[following[-1]]:
                following.pop()
            if not following:
                break
            e = following.pop()
            used[e] = True
            walk.append(e)
        if closed:
            loops.extend(np.asarray(loop, dtype=np.int64) for loop in _simple(walk, start))
        else:
            unclosed += 1
    return face, corner, loops, unclosed


def _simple(walk: list[int], start: list[int]) -> list[list[int]]:
    """A closed walk of edges cut into simple loops wherever it comes back to a point."""
    loops: list[list[int]] = []
    stack: list[int] = []
    seen: dict[int, int] = {}
    for e in walk:
        point = start[e]
        if point in seen:
            at = seen[point]
            loops.append(stack[at:])
            for x in stack[at:]:
                del seen[start[x]]
            del stack[at:]
        seen[point] = len(stack)
        stack.append(e)
    loops.append(stack)
    return loops


def fill_holes(soup: FaceSoup, max_edges: int | None, min_area: float) -> HoleReport:
    """Close the soup's boundary loops of at most ``max_edges`` edges (None: any)."""
    report = HoleReport()
    face, corner, loops, unclosed = boundary_loops(soup.points, soup.index)
    report.left = unclosed
    if not loops:
        return report
    filler = _Filler(soup, face, corner, min_area)
    for loop in loops:
        size = len(loop)
        if size < 3 or (max_edges is not None and size > max_edges):
            report.left += 1
            continue
        how = filler.close(loop)
        if how is None:
            report.left += 1
            continue
        report.filled += 1
        report.centre_fans += how == "fan"
        report.slits_zipped += how == "zip"
        report.largest = max(report.largest, size)
        report.by_size[size_band(size)] += 1
    report.faces_added = filler.apply()
    report.vertices_added = soup.vertices_added
    return report


@dataclasses.dataclass
class _Filler:
    """The patches of one hole-filling pass, collected and then added to the soup at once."""

    soup: FaceSoup
    face: IntArray
    corner: IntArray
    min_area: float
    patches: list[IntArray] = dataclasses.field(default_factory=list)
    patch_mesh: list[int] = dataclasses.field(default_factory=list)
    replaced: set[int] = dataclasses.field(default_factory=set)
    # Edges the patches made (point pairs): a later patch must not make them again.
    made: set[tuple[int, int]] = dataclasses.field(default_factory=set)
    same_point: dict[int, dict[int, int]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        points = self.soup.points
        self.start = points[self.face, self.corner]
        self.vid = self.soup.faces[self.face, self.corner]

    def exists(self, p: int, q: int) -> bool:
        """Whether the surface or an earlier patch has an edge between points p and q."""
        if (min(p, q), max(p, q)) in self.made:
            return True
        return bool(self.soup.index.has_edges(np.array([p]), np.array([q]))[0])

    def close(self, loop: IntArray) -> str | None:
        """Patch one loop: "ears", "fan" or "zip" by how, or None when it stays open."""
        # The loop runs along its faces' edges; the patch runs the other way round.
        ring_loop = loop[::-1]
        meshes = self.soup.mesh[self.face[ring_loop]]
        mesh = int(np.bincount(meshes).argmax())
        ring_points = self.start[ring_loop]
        corners = self.soup.vertices[self.vid[ring_loop]]

        def blocked(a: int, c: int) -> bool:
            return self.exists(int(ring_points[a]), int(ring_points[c]))

        triangles = polygon.triangulate(corners, blocked)
        if triangles is not None:
            local = np.asarray(triangles, dtype=np.int64)
            if _sound(ring_points[local], corners[local], self.min_area):
                self._add(self._ring(ring_loop, mesh)[local], mesh)
                return "ears"
        local = polygon.fan(len(loop))
        middle = polygon.centre(corners)
        with_centre = np.concatenate([corners, middle[None]])
        if _sound(np.arange(len(loop) + 1)[local], with_centre[local], self.min_area):
            ring = self._ring(ring_loop, mesh)
            centre = self.soup.add_vertex(mesh, middle, self.soup.new_point(), ring)
            self._add(np.append(ring, centre)[local], mesh, record=False)
            return "fan"
        return "zip" if self._zip(loop) else None

    def _ring(self, ring_loop: IntArray, mesh: int) -> IntArray:
        """The loop's vertices, those of other meshes matched or copied into ``mesh``."""
        ring = self.vid[ring_loop].copy()
        for k in np.flatnonzero(self.soup.mesh[self.face[ring_loop]] != mesh):
            ring[k] = _vertex_in(self.soup, mesh, int(ring[k]), self.same_point)
        return ring

    def _add(self, patch: IntArray, mesh: int, record: bool = True) -> None:
        """Queue a patch of ``mesh``; ``record`` its edges (not needed for a fan: its new
        edges end at a new point)."""
        self.patches.append(patch)
        self.patch_mesh.append(mesh)
        if record:
            for t in self._points(patch).tolist():
                for p, q in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
                    self.made.add((min(p, q), max(p, q)))

    def _zip(self, loop: IntArray) -> bool:
        """Close a slit (a loop whose corners lie on one line: two chains along it, as where a
        crack's sides were meshed differently) by splitting each loop face's edge at the other
        side's corners along it: the face (a, b, x) becomes (a, p1, x), ..., (pk, b, x)."""
        soup = self.soup
        faces = self.face[loop]
        points = self.start[loop]
        position = soup.vertices[self.vid[loop]]
        centred = position - position.mean(axis=0)
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
        t = centred @ axis
        if np.abs(centred - np.outer(t, axis)).max() > np.sqrt(self.min_area):
            return False  # not on one line
        size = len(loop)
        low, high = int(np.argmin(t)), int(np.argmax(t))
        along = (np.arange(size) - low) % size  # steps from the low end, the way the loop runs
        turn = (high - low) % size
        # The loop rises from the low end to the high end along one chain, falls along the other.
        rising = along < turn
        if not ((np.diff(np.r_[t, t[0]]) > 0) == rising).all():
            return False
        splits: list[tuple[int, IntArray]] = []
        for k in range(size):
            b = (k + 1) % size
            other = (along > turn) if rising[k] else ((along > 0) & (along < turn))
            inside = np.flatnonzero(other & (t > min(t[k], t[b])) & (t < max(t[k], t[b])))
            if len(inside) == 0:
                continue
            inside = inside[np.argsort(t[inside] if rising[k] else -t[inside])]
            f, c = int(faces[k]), int(self.corner[loop[k]])
            x = int(soup.faces[f, (c + 2) % 3])
            x_point = int(soup.pid[x])
            if any(self.exists(int(points[j]), x_point) for j in inside):
                return False
            along_edge = np.r_[k, inside, b]
            tri = np.stack(
                [
                    position[along_edge[:-1]],
                    position[along_edge[1:]],
                    np.repeat(soup.vertices[x][None], len(along_edge) - 1, 0),
                ],
                axis=1,
            )
            tri_points = np.column_stack(
                [points[along_edge[:-1]], points[along_edge[1:]], np.full(len(tri), x_point)]
            )
            if not _sound(tri_points, tri, self.min_area):
                return False
            splits.append((k, inside))
        split_faces = [int(faces[k]) for k, _ in splits]
        if len(set(split_faces)) < len(split_faces) or self.replaced & set(split_faces):
            return False  # a face to split twice: leave the slit open
        for k, inside in splits:
            f, c = int(faces[k]), int(self.corner[loop[k]])
            mesh = int(soup.mesh[f])
            middle = [
                _vertex_in(soup, mesh, int(self.vid[loop[j]]), self.same_point)
                if soup.mesh[faces[j]] != mesh
                else int(self.vid[loop[j]])
                for j in inside
            ]
            chain = [int(soup.faces[f, c]), *middle, int(soup.faces[f, (c + 1) % 3])]
            x = int(soup.faces[f, (c + 2) % 3])
            self._add(np.column_stack([chain[:-1], chain[1:], np.full(len(chain) - 1, x)]), mesh)
            self.replaced.add(f)
        return bool(splits)

    def _points(self, patch: IntArray) -> IntArray:
        """Point ids of a patch's corners (vertices copied into a mesh may be pending)."""
        pid = self.soup.pid
        committed = len(pid)
        flat = patch.reshape(-1)
        out = np.empty(len(flat), dtype=np.int64)
        old = flat < committed
        out[old] = pid[flat[old]]
        out[~old] = [self.soup.pending_point(int(v)) for v in flat[~old]]
        return out.reshape(patch.shape)

    def apply(self) -> int:
        """Add every patch to the soup (and drop the faces zips replaced); net faces added."""
        soup = self.soup
        if not self.patches:
            return 0
        sizes = [len(p) for p in self.patches]
        soup.add(np.concatenate(self.patches), np.repeat(np.asarray(self.patch_mesh), sizes))
        if self.replaced:
            keep = np.ones(len(soup.faces), dtype=bool)
            keep[list(self.replaced)] = False
            soup.keep(keep)
        return int(sum(sizes)) - len(self.replaced)


def _sound(points: IntArray, triangles: FloatArray, min_area: float) -> bool:
    """No triangle (point ids; corner positions) has a repeated point or (next to) zero area."""
    p = points
    repeated = (p[:, 0] == p[:, 1]) | (p[:, 1] == p[:, 2]) | (p[:, 0] == p[:, 2])
    cross = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    return not repeated.any() and bool((np.linalg.norm(cross, axis=1) / 2 > min_area).all())


def _vertex_in(soup: FaceSoup, mesh: int, vertex: int, cache: dict[int, dict[int, int]]) -> int:
    """A vertex of ``mesh`` at the position of ``vertex`` (another mesh's): one it has, else a
    copy added to it."""
    if mesh not in cache:
        low, high = int(soup.offsets[mesh]), int(soup.offsets[mesh + 1])
        ids = soup.pid[low:high].tolist()
        # The first vertex of each point wins.
        cache[mesh] = {p: low + k for k, p in reversed(list(enumerate(ids)))}
    point = int(soup.pid[vertex])
    found = cache[mesh].get(point)
    if found is None:
        found = soup.add_vertex(mesh, soup.vertices[vertex], point, np.array([vertex]))
        cache[mesh][point] = found
    return found
