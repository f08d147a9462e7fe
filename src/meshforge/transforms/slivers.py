"""What an edge collapse can leave behind, cleaned up: zero-area slivers and folded pairs.

An edge collapse onto an existing vertex can leave a triangle whose three corners are collinear
(a subdivided or flat-shaded surface has many vertices exactly on older edges). Such a sliver
covers nothing, but dropping it would open the surface: its long edge and its two short edges
all have other neighbours. Flipping the long edge (p, q) between the sliver (p, q, m) and its
neighbour (q, p, x) gives (p, x, m) and (x, q, m): the same quad, with the middle vertex m now
joined to x, both triangles with area, the winding and every other edge unchanged.

A collapse can also fold two triangles onto each other: the same three vertices, wound both
ways, a pocket of no volume whose edges then have three or four faces. Both are dropped, which
leaves the edges around them shared by two faces again.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import FloatArray, IntArray
from meshforge.geometry import row_ids

RELATIVE_AREA = 1e-4  # twice the area over the squared longest edge: a 0.006 degree sliver
ROUNDS = 8  # neighbouring slivers are flipped over successive rounds


def sliver_faces(vertices: FloatArray, faces: IntArray) -> NDArray[np.int64]:
    """Faces whose corners are (nearly) collinear but distinct."""
    tri = vertices[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    longest = np.max(np.sum((tri - np.roll(tri, -1, axis=1)) ** 2, axis=2), axis=1)
    twice_area = np.linalg.norm(cross, axis=1)
    distinct = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2])
    distinct &= faces[:, 0] != faces[:, 2]
    return np.flatnonzero(distinct & (longest > 0) & (twice_area <= RELATIVE_AREA * longest))


def flip_slivers(vertices: FloatArray, faces: IntArray) -> tuple[IntArray, int]:
    """The faces with slivers flipped away where a neighbour shares their long edge, and how
    many were flipped. Slivers on a border or a UV seam (no neighbour by index) stay."""
    faces = faces.copy()
    flipped = 0
    for _ in range(ROUNDS):
        slivers = sliver_faces(vertices, faces)
        if not len(slivers):
            break
        done = _flip_round(vertices, faces, slivers)
        flipped += done
        if done == 0:
            break
    return faces, flipped


def _flip_round(vertices: FloatArray, faces: IntArray, slivers: IntArray) -> int:
    """One round of flips on faces no other flip of this round touches; edits ``faces``."""
    tri = vertices[faces[slivers]]
    # The long edge is opposite the middle vertex: corner k's opposite edge runs k+1 -> k+2.
    lengths = np.stack(
        [np.sum((tri[:, (k + 2) % 3] - tri[:, (k + 1) % 3]) ** 2, axis=1) for k in range(3)],
        axis=1,
    )
    k = np.argmax(lengths, axis=1)
    rows = np.arange(len(slivers))
    m = faces[slivers, k]
    p = faces[slivers, (k + 1) % 3]
    q = faces[slivers, (k + 2) % 3]
    # The neighbour runs q -> p: look its directed edge up among all faces' directed edges.
    n = int(faces.max()) + 1
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    keys = directed[:, 0] * n + directed[:, 1]
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    wanted = q * n + p
    at = np.clip(np.searchsorted(ordered, wanted), 0, len(keys) - 1)
    found = ordered[at] == wanted
    slot = order[at]
    neighbour = slot % len(faces)
    corner = slot // len(faces)  # the neighbour's edge corner -> corner + 1 is q -> p
    x = faces[neighbour, (corner + 2) % 3]
    ok = found & (neighbour != slivers) & (x != m)
    # The new edge m - x must not exist already, or it would be shared by three faces.
    exists = _contains(ordered, m * n + x) | _contains(ordered, x * n + m)
    ok &= ~exists
    # One flip per face per round, first come first served: the rest wait for the next round.
    touched: set[int] = set()
    for row in np.flatnonzero(ok):
        pair = (int(slivers[row]), int(neighbour[row]))
        if pair[0] in touched or pair[1] in touched:
            ok[row] = False
        else:
            touched.update(pair)
    rows = rows[ok]
    faces[slivers[rows]] = np.column_stack([p[rows], x[rows], m[rows]])
    faces[neighbour[rows]] = np.column_stack([x[rows], q[rows], m[rows]])
    return len(rows)


def _contains(ordered: IntArray, values: IntArray) -> NDArray[np.bool_]:
    """Which values a sorted key array holds (a binary search: np.isin hashes all the keys)."""
    at = np.clip(np.searchsorted(ordered, values), 0, len(ordered) - 1)
    return np.asarray(ordered[at] == values)


def drop_folded_pairs(vertices: FloatArray, faces: IntArray) -> tuple[IntArray, int]:
    """The faces without triangles that repeat another's three corner positions (a folded pair
    wound both ways is dropped whole; a repeat wound the same way loses its copies), and how
    many were dropped. Positions, not indices: a fold can straddle a UV seam."""
    if not len(faces):
        return faces, 0
    labels = row_ids(vertices)[0][faces]
    key = np.sort(labels, axis=1)
    _, group, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    group = group.reshape(-1)
    repeated = counts[group] > 1
    if not repeated.any():
        return faces, 0
    # Orientation: an even permutation of the sorted corners is one winding, odd the other.
    rotations = (labels == key[:, [0, 1, 2]]).all(axis=1)
    rotations |= (labels == key[:, [1, 2, 0]]).all(axis=1)
    rotations |= (labels == key[:, [2, 0, 1]]).all(axis=1)
    winding = np.where(rotations, 1, -1)
    balance = np.bincount(group, weights=winding)[group]
    keep = ~repeated
    # Per repeated group: opposite windings cancel; what is left over keeps one face.
    for g in np.unique(group[repeated]):
        members = np.flatnonzero(group == g)
        left = int(balance[members[0]])
        if left:
            keep[members[winding[members] == np.sign(left)][0]] = True
    return faces[keep], int(np.count_nonzero(~keep))
