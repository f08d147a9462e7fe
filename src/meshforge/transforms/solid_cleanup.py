"""A united solid made to read as one once positions are welded, as slicers and validators
read an STL: no edge with four faces, no corner twice in a face, no (near) zero-area face.

manifold3d keeps its result manifold by index, not by position: where two united parts touch
(a shared corner, an edge, coplanar faces) it keeps coincident vertices apart, and the cuts of
a boolean leave needles (a very short edge), caps (a corner on the opposite edge) and specks
(every edge tiny). Welded, those become edges of four faces and faces of zero area. The
clean-up, on the solid's vertices and faces, runs in passes while the welded result is not
clean (nothing at all is done to a clean solid):

1. vertices closer than ``tolerance`` that an edge joins (directly or through one another)
   become one, and faces that lose a corner go: needles and specks collapse, while two
   touching sheets (not joined) stay two. The faces of a pocket the collapse flattened (the
   same three vertices wound both ways) go too, and where a collapse pinched two sheets onto
   one edge, each sheet's fan of faces round the edge's ends gets its own copy of the vertex;
2. vertices left at one place (touching sheets, split pinched corners) move apart: each by
   ``separation`` toward the middle of its own faces (as MeshLab's split of non-manifold
   vertices does) and inward, against their normal (which parts sheets that touch face to
   face), so no edge ends up shared by the two sheets; vertices still together after a pass
   move further in the next;
3. folded pairs (the same three vertices wound both ways) are dropped, and caps (area at
   most ``max_area``) are flipped across their long edge with the neighbour there;
4. connected parts that enclose next to nothing (a pocket the collapse flattened: volume at
   most area times ``tolerance``) are dropped.

``tolerance`` and ``separation`` are far below what a printer resolves (solidify uses a few
millionths of the bounding-box diagonal).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from meshforge.asset import FloatArray, IntArray
from meshforge.geometry import int_row_keys, triangle_areas
from meshforge.transforms.edge_index import EdgeIndex, face_components
from meshforge.transforms.weld import cluster_positions

PASSES = 8  # of the four steps; a pass that finds nothing to do ends the clean-up
FLIP_ROUNDS = 8  # neighbouring caps are flipped over successive rounds


def clean_solid(
    vertices: FloatArray,
    faces: IntArray,
    tolerance: float,
    separation: float,
    max_area: float,
) -> tuple[FloatArray, IntArray, dict[str, int], bool]:
    """The solid's vertices and faces cleaned (see the module), unused vertices dropped, what
    was done (vertices merged by short edges, split at pinches and separated, faces dropped,
    caps flipped, flat parts dropped), and whether the result is clean: welded (points within
    a tenth of ``separation`` as one), every edge has two faces and no face repeats a point or
    has an area of at most ``max_area``."""
    counts = dict.fromkeys(
        ("vertices_merged", "vertices_split", "vertices_separated", "faces_dropped"), 0
    )
    counts["caps_flipped"] = counts["flat_parts_dropped"] = 0
    vertices = vertices.copy()
    # Points closer than this may become one in a 32-bit STL: the checks treat them as one.
    near = separation / 10
    clean = _clean(vertices, faces, near, max_area)
    for attempt in range(PASSES):
        if clean:
            break
        faces, merged, dropped = _collapse(vertices, faces, tolerance)
        # A collapse folds the faces of a flattened pocket onto each other: those go first.
        faces, folded_first = _drop_folded(faces)
        dropped += folded_first
        vertices, faces, split = _split_pinches(vertices, faces)
        # Vertices still together after a pass (they moved alike) move further the next.
        separated = _separate(vertices, faces, separation * (attempt + 1), near)
        faces, folded, flipped = _unfold(vertices, faces, max_area)
        faces, flat = _drop_flat_parts(vertices, faces, tolerance)
        counts["vertices_merged"] += merged
        counts["vertices_split"] += split
        counts["vertices_separated"] += separated
        counts["faces_dropped"] += dropped + folded
        counts["caps_flipped"] += flipped
        counts["flat_parts_dropped"] += flat
        if not (merged or split or separated or folded or flipped or flat):
            break
        clean = _clean(vertices, faces, near, max_area)
    used = np.zeros(len(vertices), dtype=bool)
    used[faces.reshape(-1)] = True
    remap = np.cumsum(used) - 1
    return vertices[used], np.asarray(remap[faces], dtype=np.int64), counts, clean


def _drop_flat_parts(
    vertices: FloatArray, faces: IntArray, tolerance: float
) -> tuple[IntArray, int]:
    """Connected parts that enclose next to nothing (volume at most their area times
    ``tolerance``: a pocket flattened by the collapse) dropped. (faces, parts dropped)"""
    count, labels = face_components(faces, EdgeIndex.build(faces, len(vertices)))
    if count < 2:
        return faces, 0
    tri = vertices[faces]
    volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6
    part_volume = np.abs(np.bincount(labels, volume, count))
    part_area = np.bincount(labels, triangle_areas(vertices, faces), count)
    flat = part_volume <= part_area * tolerance
    if not flat.any() or flat.all():
        return faces, 0
    return faces[~flat[labels]], int(flat.sum())


def _clean(vertices: FloatArray, faces: IntArray, near: float, max_area: float) -> bool:
    """Welded by position (points within ``near`` as one): every edge has two faces, no face
    repeats a point or has an area of at most ``max_area``."""
    if len(faces) == 0:
        return True
    points = cluster_positions(vertices, near)[faces]
    if (
        (points[:, 0] == points[:, 1]) | (points[:, 1] == points[:, 2])
        | (points[:, 0] == points[:, 2])
    ).any():  # fmt: skip
        return False
    if (triangle_areas(vertices, faces) <= max_area).any():
        return False
    n = int(points.max()) + 1
    edges = np.sort(np.concatenate([points[:, [0, 1]], points[:, [1, 2]], points[:, [2, 0]]]), 1)
    _, counts = np.unique(edges[:, 0] * n + edges[:, 1], return_counts=True)
    return bool((counts == 2).all())


def _collapse(vertices: FloatArray, faces: IntArray, tolerance: float) -> tuple[IntArray, int, int]:
    """Vertices within ``tolerance`` joined by edges merged into their lowest index; faces
    that lose a corner dropped. (faces, vertices merged, faces dropped)"""
    n = len(vertices)
    cluster = cluster_positions(vertices, tolerance)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    short = edges[cluster[edges[:, 0]] == cluster[edges[:, 1]]]
    if len(short) == 0:
        return faces, 0, 0
    graph = coo_matrix((np.ones(len(short)), (short[:, 0], short[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    lowest = np.full(int(labels.max()) + 1, n, dtype=np.int64)
    np.minimum.at(lowest, labels, np.arange(n))
    merged = lowest[labels]
    faces = merged[faces]
    keep = (
        (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    )
    used = np.zeros(n, dtype=bool)
    used[short.reshape(-1)] = True
    return faces[keep], int(np.count_nonzero(used & (merged != np.arange(n)))), int((~keep).sum())


def _split_pinches(vertices: FloatArray, faces: IntArray) -> tuple[FloatArray, IntArray, int]:
    """At each end of an edge with more than two faces (by index: two sheets pinched together
    by a collapse), the faces around the vertex fall into fans joined by two-face edges; every
    fan but the largest gets a copy of the vertex of its own. (vertices, faces, copies made)"""
    n = len(vertices)
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), 1)
    keys, counts = np.unique(edges[:, 0] * n + edges[:, 1], return_counts=True)
    crowded = keys[counts > 2]
    if len(crowded) == 0:
        return vertices, faces, 0
    pairs = np.column_stack([keys // n, keys % n])[counts == 2].tolist()
    two = {(int(a), int(b)) for a, b in pairs}
    faces = faces.copy()
    copies: list[int] = []
    for v in np.unique(np.concatenate([crowded // n, crowded % n])).tolist():
        around = np.flatnonzero((faces == v).any(axis=1)).tolist()
        parent = list(range(len(around)))

        def root(i: int, parent: list[int] = parent) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        by_edge: dict[tuple[int, int], int] = {}
        for i, f in enumerate(around):
            for y in faces[f].tolist():
                key = (min(v, y), max(v, y))
                if y == v or key not in two:
                    continue
                if key in by_edge:
                    parent[root(i)] = root(by_edge[key])
                else:
                    by_edge[key] = i
        fans: dict[int, list[int]] = {}
        for i, f in enumerate(around):
            fans.setdefault(root(i), []).append(f)
        for fan in sorted(fans.values(), key=len)[:-1]:
            copy = n + len(copies)
            rows = np.asarray(fan)
            # A two-face edge has both faces in one fan, so it moves to the copy whole.
            for y in np.unique(faces[rows]).tolist():
                if (min(v, y), max(v, y)) in two:
                    two.add((min(copy, y), max(copy, y)))
            faces[rows] = np.where(faces[rows] == v, copy, faces[rows])
            copies.append(v)
    if not copies:
        return vertices, faces, 0
    return np.concatenate([vertices, vertices[copies]]), faces, len(copies)


def _separate(vertices: FloatArray, faces: IntArray, separation: float, near: float) -> int:
    """Distinct vertices at one place (within ``near``) each moved by ``separation`` toward the
    mean centre of their faces and against their normal; edits ``vertices``. How many moved."""
    n = len(vertices)
    used = np.zeros(n, dtype=bool)
    used[faces.reshape(-1)] = True
    cluster = cluster_positions(vertices, near)
    members = np.bincount(cluster[used], minlength=int(cluster.max()) + 1)
    crowded = np.flatnonzero(used & (members[cluster] > 1))
    if len(crowded) == 0:
        return 0
    tri = vertices[faces]
    corner = faces.T.reshape(-1)

    def summed(rows: FloatArray) -> FloatArray:
        """Per crowded vertex, the sum of ``rows`` (one per face) over its faces."""
        total = np.column_stack([np.bincount(corner, np.tile(rows[:, k], 3), n) for k in (0, 1, 2)])
        return np.asarray(total[crowded], dtype=np.float64)

    toward = summed(tri.mean(axis=1)) / np.bincount(corner, minlength=n)[crowded, None]
    toward -= vertices[crowded]
    normal = summed(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]))
    step = _unit(_unit(toward) - _unit(normal))
    vertices[crowded] += separation * step
    return len(crowded)


def _unit(rows: FloatArray) -> FloatArray:
    """Each row scaled to length 1 (zero rows stay zero)."""
    length = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(np.divide(rows, length, out=np.zeros_like(rows), where=length > 0))


def _unfold(vertices: FloatArray, faces: IntArray, max_area: float) -> tuple[IntArray, int, int]:
    """Caps flipped, round by round, and the folded pairs a flip can make dropped.
    (faces, faces dropped, caps flipped)"""
    dropped = flipped = 0
    for _ in range(FLIP_ROUNDS):
        faces, done = _flip_caps(vertices, faces, max_area)
        if not done:
            break
        faces, folded = _drop_folded(faces)
        dropped += folded
        flipped += done
    return faces, dropped, flipped


def _drop_folded(faces: IntArray) -> tuple[IntArray, int]:
    """Faces over the same three vertices dropped: a folded pair wound both ways goes whole,
    copies wound the same way keep one (the net winding). (faces, faces dropped)"""
    ordered = np.sort(faces, axis=1)
    keys = int_row_keys(ordered)
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    repeated = np.zeros(len(faces), dtype=bool)
    same = ranked[1:] == ranked[:-1]
    repeated[order[1:][same]] = repeated[order[:-1][same]] = True
    if not repeated.any():
        return faces, 0
    # An even permutation of the sorted corners is one winding, odd the other.
    rows = np.flatnonzero(repeated)
    even = (faces[rows] == ordered[rows]).all(axis=1)
    even |= (faces[rows] == ordered[rows][:, [1, 2, 0]]).all(axis=1)
    even |= (faces[rows] == ordered[rows][:, [2, 0, 1]]).all(axis=1)
    winding = np.where(even, 1, -1)
    keep = ~repeated
    groups: dict[int, list[int]] = {}
    for row, key in zip(rows.tolist(), keys[rows].tolist(), strict=True):
        groups.setdefault(key, []).append(row)
    sign = dict(zip(rows.tolist(), winding.tolist(), strict=True))
    for members in groups.values():
        balance = sum(sign[r] for r in members)
        if balance:
            keep[next(r for r in members if sign[r] == (1 if balance > 0 else -1))] = True
    return faces[keep], int(np.count_nonzero(~keep))


def _flip_caps(vertices: FloatArray, faces: IntArray, max_area: float) -> tuple[IntArray, int]:
    """One round: each cap (p, q, m) with m by its long edge p-q and the neighbour (q, p, x)
    across it become (p, x, m) and (x, q, m), where the edge m-x is new and no other flip of
    the round touches the two faces or makes the same edge."""
    caps = np.flatnonzero(triangle_areas(vertices, faces) <= max_area)
    if len(caps) == 0:
        return faces, 0
    tri = vertices[faces[caps]]
    opposite = np.stack(
        [np.sum((tri[:, (k + 2) % 3] - tri[:, (k + 1) % 3]) ** 2, axis=1) for k in range(3)], 1
    )
    k = np.argmax(opposite, axis=1)
    m = faces[caps, k]
    p, q = faces[caps, (k + 1) % 3], faces[caps, (k + 2) % 3]
    n = len(vertices)
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    keys = directed[:, 0] * n + directed[:, 1]
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    at = np.minimum(np.searchsorted(ordered, q * n + p), len(keys) - 1)
    found = ordered[at] == q * n + p
    slot = order[at]
    neighbour, corner = slot % len(faces), slot // len(faces)
    x = faces[neighbour, (corner + 2) % 3]
    undirected = np.sort(directed, axis=1)
    existing = set((undirected[:, 0] * n + undirected[:, 1]).tolist())
    faces = faces.copy()
    touched: set[int] = set()
    done = 0
    for row in np.flatnonzero(found & (x != m)):
        cap, other = int(caps[row]), int(neighbour[row])
        key = min(int(m[row]), int(x[row])) * n + max(int(m[row]), int(x[row]))
        if cap == other or cap in touched or other in touched or key in existing:
            continue
        touched.update((cap, other))
        existing.add(key)
        faces[cap] = (p[row], x[row], m[row])
        faces[other] = (x[row], q[row], m[row])
        done += 1
    return faces, done
