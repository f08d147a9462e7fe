"""Composite: thin parts (legs, handles, stems, cords) as round tubes, the rest inflated.

Inflation gives every pixel a round cross-section of its local half-width ``rho``, which suits a
body but flattens a leg where it meets the body and pinches it where the outline wobbles. Here
the pixels whose ``rho`` is well below the body's (``THIN_RATIO`` of its 90th percentile) are
grouped into parts; a part long next to its own width (``MIN_ELONGATION``) becomes tubes along its
skeleton, with the radius of the local half-width, and round caps. Short thin bits, such as the
corners of a board, stay in the body. The body (what is left) is inflated as usual and everything
is joined with manifold3d.

All geometry here lives in "pixel space": ``(column, -row, height)`` in framed pixels, height
towards the camera. The engine lifts it onto the pixels' rays afterwards, so from the input camera
a tube covers exactly the strip of pixels within its radius of the skeleton. The row is negated
so that pixel space has the camera frame's handedness and outward stays outward.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from meshforge.engines.silhouette.inflate import sample
from meshforge.errors import EngineError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Mask = NDArray[np.uint8]

# A pixel is thin when its half-width is below 40 % of the body's: a table leg or a lamp stem is a
# tenth to a third as wide as the top or the shade, while a bottle's neck (45 %) or a drill's
# handle (about 50 %) are better inflated with the body.
THIN_RATIO = 0.4
# The body's half-width: the 90th percentile of rho over the subject, not the maximum, so a
# single bulge does not set it.
BODY_PERCENTILE = 90.0
# A thin part becomes tubes only if its skeleton is at least 4 times as long as its widest
# radius and as long as the threshold: a board's corners (whose thin bit reaches about a sixth of
# the body's half-width in) and the tip of a leaf are thin but short.
MIN_ELONGATION = 4.0
# Skeleton branches shorter than twice the local radius are spurs from a square end.
MIN_BRANCH_RADII = 2.0
# A tube bends no tighter than this fraction of its radius per unit length, else it is split
# there (the round caps fill the corner), so a tube never folds through itself.
MAX_BEND = 0.7
TUBE_SEGMENTS = 16
MAX_TUBES = 32


@dataclass
class Tube:
    """A tube's centre line in framed pixels (column, row) and its radius at every point."""

    points: FloatArray
    radii: FloatArray

    @property
    def length(self) -> float:
        return float(np.linalg.norm(np.diff(self.points, axis=0), axis=1).sum())


@dataclass
class ThinParts:
    """What ``find_thin_parts`` found: the threshold, the tubes and the pixels given to them."""

    body_rho: float
    threshold: float
    tubes: list[Tube]
    region: NDArray[np.bool_]


def find_thin_parts(
    mask: Mask,
    dist: NDArray[np.float32],
    rho: NDArray[np.float32],
    alpha: NDArray[np.float32] | None = None,
) -> ThinParts:
    """The subject's thin, elongated parts as tubes along their skeletons; ``alpha``, the soft
    mask, refines their centres and radii to a fraction of a pixel."""
    import cv2

    inside = mask > 0
    body_rho = float(np.percentile(rho[inside], BODY_PERCENTILE)) if inside.any() else 0.0
    threshold = THIN_RATIO * body_rho
    thin = (inside & (rho < threshold)).astype(np.uint8)
    region = np.zeros(mask.shape, dtype=bool)
    tubes: list[Tube] = []
    count, labels, stats, _ = cv2.connectedComponentsWithStats(thin, connectivity=8)
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if area < 12:
            continue
        # A one-pixel margin, so the skeleton of a part touching the crop's edge is not cut.
        x0, y0 = max(x - 1, 0), max(y - 1, 0)
        part = labels[y0 : y + h + 1, x0 : x + w + 1] == label
        paths = _branches(skeleton(part), dist[y0 : y + h + 1, x0 : x + w + 1])
        if not paths:
            continue
        offset = np.array([x0 + 0.5, y0 + 0.5])
        found = [_tube(path + offset, dist, alpha) for path in paths]
        length = sum(t.length for t in found)
        widest = max(float(t.radii.max()) for t in found)
        if length < max(MIN_ELONGATION * widest, threshold):
            continue
        region[y0 : y + h + 1, x0 : x + w + 1] |= part
        tubes.extend(found)
    tubes = [piece for t in tubes for piece in _split_bends(t)][:MAX_TUBES]
    return ThinParts(body_rho=body_rho, threshold=threshold, tubes=tubes, region=region)


def skeleton(part: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Zhang-Suen thinning: a connected, one-pixel-wide centre line of a region."""
    img = np.pad(part.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = img
            # Neighbours P2..P9, clockwise from north.
            n = [
                p[:-2, 1:-1],
                p[:-2, 2:],
                p[1:-1, 2:],
                p[2:, 2:],
                p[2:, 1:-1],
                p[2:, :-2],
                p[1:-1, :-2],
                p[:-2, :-2],
            ]
            total = sum(a.astype(np.int16) for a in n)
            transitions = sum(
                ((n[i] == 0) & (n[(i + 1) % 8] == 1)).astype(np.int16) for i in range(8)
            )
            if step == 0:
                keep_a = (n[0] * n[2] * n[4] == 0) & (n[2] * n[4] * n[6] == 0)
            else:
                keep_a = (n[0] * n[2] * n[6] == 0) & (n[0] * n[4] * n[6] == 0)
            remove = (p[1:-1, 1:-1] == 1) & (total >= 2) & (total <= 6) & (transitions == 1)
            remove &= keep_a
            if remove.any():
                img[1:-1, 1:-1][remove] = 0
                changed = True
        if not changed:
            return np.asarray(img[1:-1, 1:-1] > 0)


def _branches(skel: NDArray[np.bool_], dist: NDArray[np.float32]) -> list[FloatArray]:
    """The skeleton as polylines (pixel indices as (column, row)): the longest path of each piece
    first, then, while one is long enough, the path from the farthest remaining pixel back to
    what is already taken. Spurs of a square end fall below the length and are dropped."""
    rows, cols = np.nonzero(skel)
    n = len(rows)
    if n < 2:
        return []
    index = -np.ones(skel.shape, dtype=np.int64)
    index[rows, cols] = np.arange(n)
    graph: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        r2, c2 = rows + dr, cols + dc
        ok = (r2 < skel.shape[0]) & (c2 >= 0) & (c2 < skel.shape[1])
        j = np.full(n, -1)
        j[ok] = index[r2[ok], c2[ok]]
        weight = float(np.hypot(dr, dc))
        for a, b in zip(np.flatnonzero(j >= 0).tolist(), j[j >= 0].tolist(), strict=True):
            graph[a].append((b, weight))
            graph[b].append((a, weight))
    radius = dist[rows, cols].astype(np.float64)
    seen = np.zeros(n, dtype=bool)
    paths: list[FloatArray] = []
    for first in range(n):
        if seen[first]:
            continue
        d0, _ = _geodesic(graph, [first])
        nodes = np.flatnonzero(np.isfinite(d0))
        seen[nodes] = True
        if len(nodes) < 2:
            continue
        start = int(nodes[np.argmax(d0[nodes])])
        d1, pred = _geodesic(graph, [start])
        end = int(nodes[np.argmax(d1[nodes])])
        taken = _walk(pred, end)
        if d1[end] < MIN_BRANCH_RADII * float(radius[taken].max()):
            continue
        chosen = [taken]
        in_tree = np.zeros(n, dtype=bool)
        in_tree[taken] = True
        while len(chosen) < MAX_TUBES:
            d, pred = _geodesic(graph, np.flatnonzero(in_tree).tolist())
            d[~np.isfinite(d)] = -1.0
            far = int(np.argmax(d))
            branch = _walk(pred, far)
            if d[far] < max(3.0, MIN_BRANCH_RADII * float(radius[branch[-1]])):
                break
            chosen.append(branch)
            in_tree[branch] = True
        paths.extend(np.column_stack([cols[p], rows[p]]).astype(np.float64) for p in chosen)
    return paths


def _geodesic(
    graph: list[list[tuple[int, float]]], sources: list[int]
) -> tuple[FloatArray, IntArray]:
    """Dijkstra from the nearest of ``sources``: distances (inf where unreached) and predecessors
    (-1 at sources). A skeleton has a few hundred pixels; plain Python beats importing a graph
    library for it."""
    import heapq

    n = len(graph)
    best = [float("inf")] * n
    pred = [-1] * n
    heap = [(0.0, s) for s in sources]
    for s in sources:
        best[s] = 0.0
    heapq.heapify(heap)
    while heap:
        d, u = heapq.heappop(heap)
        if d > best[u]:
            continue
        for v, w in graph[u]:
            nd = d + w
            if nd < best[v]:
                best[v] = nd
                pred[v] = u
                heapq.heappush(heap, (nd, v))
    return np.asarray(best, dtype=np.float64), np.asarray(pred, dtype=np.int64)


def _walk(pred: IntArray, node: int) -> IntArray:
    """Nodes from ``node`` back along the predecessors to the search's source (inclusive)."""
    out = [node]
    while pred[out[-1]] >= 0:
        out.append(int(pred[out[-1]]))
    return np.asarray(out, dtype=np.int64)


def _tube(path: FloatArray, dist: NDArray[np.float32], alpha: NDArray[np.float32] | None) -> Tube:
    """A smoothed, evenly resampled centre line with radii from the distance map."""
    # cv2's distance at a pixel centre is to the nearest outside pixel's centre, half a pixel
    # more than to the edge; between pixel centres the interpolation loses up to as much again.
    # A quarter pixel is the unbiased middle.
    radius = np.maximum(sample(dist, path) - 0.25, 0.75)
    r = float(np.median(radius))
    # The longest path through a square end may run down a spur into a corner, where the
    # distance to the outline falls off; the centre line forks r from the end, where the
    # distance is still r. Cut the spur: the round cap of radius r reaches the end again.
    full = np.flatnonzero(radius >= 0.8 * r)
    if len(full) >= 2:
        path = path[full[0] : full[-1] + 1]
    points = path.copy()
    for _ in range(max(1, round(r))):  # pixel steps out, ends kept
        points[1:-1] = (points[:-2] + 2 * points[1:-1] + points[2:]) / 4
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    spacing = float(np.clip(r, 1.5, 12.0))
    count = max(2, round(arc[-1] / spacing) + 1)
    targets = np.linspace(0.0, arc[-1], count)
    points = np.column_stack([np.interp(targets, arc, points[:, k]) for k in range(2)])
    radii = np.maximum(sample(dist, points) - 0.25, 0.75)
    if alpha is not None:
        points, radii = _refine(points, radii, alpha)
    # A running median keeps one noisy pixel from bulging the tube.
    if len(radii) >= 5:
        stack = np.stack(
            [np.roll(np.pad(radii, 2, mode="edge"), -k)[: len(radii)] for k in range(5)]
        )
        radii = np.median(stack, axis=0)
    return Tube(points=points, radii=np.asarray(radii, dtype=np.float64))


def _refine(
    points: FloatArray, radii: FloatArray, alpha: NDArray[np.float32]
) -> tuple[FloatArray, FloatArray]:
    """Sub-pixel centre and half-width from the soft mask across the tube.

    The binary mask rounds a strip's width to whole pixels (a quarter pixel of radius either
    way); alpha is each pixel's coverage, so its integral along the normal is the width and its
    centroid the centre. Where the line across meets another part (a junction) the two disagree
    by more than a pixel and the mask's values stand.
    """
    tangent = np.gradient(points, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    step = 0.25
    reach = np.ceil(radii.max()) + 3.0
    s = np.arange(-reach, reach + step / 2, step)
    line = points[:, None, :] + s[None, :, None] * normal[:, None, :]
    # Only the samples out to the radius and three pixels: nearby parts stay out.
    near = np.abs(s)[None, :] <= radii[:, None] + 3.0
    a = sample(alpha, line.reshape(-1, 2)).reshape(len(points), len(s)) * near
    width = a.sum(axis=1) * step
    shift = (a * s[None, :]).sum(axis=1) * step / np.maximum(width, 1e-9)
    ok = (np.abs(width / 2 - radii) <= 1.0) & (np.abs(shift) <= 1.0)
    refined = points + np.where(ok, shift, 0.0)[:, None] * normal
    return refined, np.where(ok, width / 2, radii)


def _split_bends(tube: Tube) -> list[Tube]:
    """Split a tube where it bends tighter than its radius allows."""
    p = tube.points
    if len(p) < 3:
        return [tube]
    d = np.diff(p, axis=0)
    seg = np.linalg.norm(d, axis=1)
    heading = np.arctan2(d[:, 1], d[:, 0])
    turn = np.abs((np.diff(heading) + np.pi) % (2 * np.pi) - np.pi)
    bend = turn / np.maximum((seg[:-1] + seg[1:]) / 2, 1e-9) * tube.radii[1:-1]
    cuts = [0, *(np.flatnonzero(bend > MAX_BEND) + 1).tolist(), len(p) - 1]
    out = []
    for i, j in pairwise(cuts):
        if j > i:
            out.append(Tube(points=p[i : j + 1], radii=tube.radii[i : j + 1]))
    return out


def extend_into(tubes: list[Tube], body: Mask) -> list[Tube]:
    """Carry each tube end that meets the body on into it by 1.5 radii, so the join is solid.

    An end meets the body when the body is within the trimmed spur and a radius of it."""
    import cv2

    if not body.any():
        return tubes
    to_body = cv2.distanceTransform((body == 0).astype(np.uint8), cv2.DIST_L2, 3)
    out = []
    for tube in tubes:
        p, r = tube.points, tube.radii
        if len(p) >= 2:
            rad = float(np.median(r))
            for end, inner in ((0, 1), (-1, -2)):
                gap = float(sample(to_body, p[[end]])[0])
                if gap > (1.0 + np.sqrt(2.0)) * r[end] + 2.0:
                    continue
                t = p[end] - p[inner]
                t /= max(float(np.linalg.norm(t)), 1e-9)
                extra = p[end] + t * (gap + 1.5 * rad)
                if end == 0:
                    p, r = np.vstack([extra, p]), np.r_[rad, r]
                else:
                    p, r = np.vstack([p, extra]), np.r_[r, rad]
        out.append(Tube(points=p, radii=r))
    return out


def tube_faces(tube: Tube, segments: int) -> int:
    """Faces ``tube_mesh`` makes for ``tube``."""
    caps = max(2, segments // 4)
    return 2 * segments * (len(tube.points) - 1 + 2 * caps)


def tube_mesh(tube: Tube, segments: int = TUBE_SEGMENTS) -> tuple[FloatArray, IntArray]:
    """A closed tube in pixel space: rings round the centre line in the plane of its normal and
    the view axis, and a hemisphere on each end. Outward wound."""
    p = np.column_stack([tube.points[:, 0], -tube.points[:, 1]])
    r = tube.radii
    tangent = np.gradient(p, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    caps = max(2, segments // 4)
    # The cap rings: latitudes from the equator towards the pole, along -t at the start.
    lat = np.linspace(0.0, np.pi / 2, caps + 2)[1:-1]
    centres = [p[0] - tangent[0] * r[0] * np.sin(a) for a in lat[::-1]]
    sizes = [r[0] * np.cos(a) for a in lat[::-1]]
    frames = [normal[0]] * caps
    centres += list(p)
    sizes += list(r)
    frames += list(normal)
    centres += [p[-1] + tangent[-1] * r[-1] * np.sin(a) for a in lat]
    sizes += [r[-1] * np.cos(a) for a in lat]
    frames += [normal[-1]] * caps
    c, s, nrm = np.asarray(centres), np.asarray(sizes), np.asarray(frames)
    theta = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    rings = len(c)
    ring_xy = c[:, None, :] + s[:, None, None] * cos_t[None, :, None] * nrm[:, None, :]
    ring_z = s[:, None] * sin_t[None, :]
    vertices = np.concatenate([ring_xy, ring_z[..., None]], axis=2).reshape(-1, 3)
    start_pole = np.r_[p[0] - tangent[0] * r[0], 0.0]
    end_pole = np.r_[p[-1] + tangent[-1] * r[-1], 0.0]
    vertices = np.vstack([vertices, start_pole, end_pole])
    k = np.arange(segments)
    k1 = (k + 1) % segments
    faces = []
    for i in range(rings - 1):
        a, b = i * segments + k, (i + 1) * segments + k
        a1, b1 = i * segments + k1, (i + 1) * segments + k1
        faces += [np.column_stack([a, b, b1]), np.column_stack([a, b1, a1])]
    s_pole, e_pole = rings * segments, rings * segments + 1
    faces.append(np.column_stack([np.full(segments, s_pole), k, k1]))
    last = (rings - 1) * segments
    faces.append(np.column_stack([np.full(segments, e_pole), last + k1, last + k]))
    f = np.concatenate(faces).astype(np.int64)
    if signed_volume(vertices, f) < 0:
        f = f[:, ::-1]
    return vertices, np.ascontiguousarray(f)


def signed_volume(vertices: FloatArray, faces: IntArray) -> float:
    tri = vertices[faces]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6)


def union(parts: list[tuple[FloatArray, IntArray]]) -> tuple[FloatArray, IntArray]:
    """The union of closed, outward meshes, as one closed 2-manifold mesh (manifold3d)."""
    import manifold3d

    solids = []
    for vertices, faces in parts:
        mesh = manifold3d.Mesh64(
            vert_properties=np.ascontiguousarray(vertices, dtype=np.float64),
            tri_verts=np.ascontiguousarray(faces, dtype=np.uint64),
        )
        solid = manifold3d.Manifold(mesh)
        if solid.status() != manifold3d.Error.NoError:
            raise EngineError(
                f"a part of the composite is not a closed manifold ({solid.status().name})",
                stage="reconstruct",
                hint="Try --shape inflate.",
            )
        solids.append(solid)
    joined = manifold3d.Manifold.batch_boolean(solids, manifold3d.OpType.Add)
    out = joined.to_mesh64()
    vertices = np.asarray(out.vert_properties, dtype=np.float64)[:, :3]
    faces = np.asarray(out.tri_verts, dtype=np.int64)
    return np.ascontiguousarray(vertices), np.ascontiguousarray(faces)
