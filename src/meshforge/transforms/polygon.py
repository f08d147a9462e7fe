"""Triangulating one closed loop of 3D points (a hole's rim): ear clipping in the loop's best-fit
plane, with a simplicity test that says when that projection cannot be trusted.

``triangulate`` gives triangles as indices into the loop, each wound the way the loop runs, so
a patch over a loop that runs opposite to its neighbours' edges agrees with them. Ears are cut
best-shaped first (the most equilateral in 3D), which keeps long slivers for last; an ear whose
new diagonal is ``blocked`` (an edge the mesh already has, so a third face on it) is not cut.
When no ear can be cut, or the projected loop crosses itself, it returns None and the caller
falls back to a fan from the loop's centre (``centre``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import FloatArray, IntArray

BoolArray = NDArray[np.bool_]
# Orientation tests treat |cross| below this fraction of the squared extent as zero.
REL_EPS = 1e-12
# Segment pairs tested at once by the simplicity test (bounds its memory).
CHUNK = 1_000_000


def best_fit_plane(points: FloatArray) -> FloatArray:
    """Coordinates of ``points`` in their best-fit (least-squares) plane, turned so that the
    loop runs anticlockwise there."""
    centred = points - points.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    flat = np.column_stack([centred @ axes[0], centred @ axes[1]])
    if signed_area(flat) < 0:
        flat[:, 1] *= -1
    return np.asarray(flat, dtype=np.float64)


def signed_area(flat: FloatArray) -> float:
    """Shoelace area of a 2D polygon: positive when it runs anticlockwise."""
    x, y = flat[:, 0], flat[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2


def _eps(flat: FloatArray) -> float:
    extent = float(np.ptp(flat, axis=0).max()) if len(flat) else 0.0
    return REL_EPS * extent**2


def is_simple(flat: FloatArray) -> bool:
    """Whether a 2D polygon's edges meet only where consecutive edges share a corner (no
    crossing, touching or repeated corner)."""
    n = len(flat)
    if n < 4:
        return n == 3 and abs(signed_area(flat)) > _eps(flat)
    eps = _eps(flat)
    p, q = flat, np.roll(flat, -1, axis=0)
    rows = max(1, CHUNK // n)
    for first in range(0, n - 2, rows):
        i = np.arange(first, min(first + rows, n - 2))[:, None]
        j = np.arange(n)[None, :]
        # Each edge against the later edges that do not share a corner with it (the last edge
        # and the first share corner 0).
        pair = (j >= i + 2) & ~((i == 0) & (j == n - 1))
        a, b = np.broadcast_to(i, pair.shape)[pair], np.broadcast_to(j, pair.shape)[pair]
        if _segments_meet(p[a], q[a], p[b], q[b], eps).any():
            return False
    return True


def _orient(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    return np.asarray(
        (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    )


def _on_segment(a: FloatArray, b: FloatArray, c: FloatArray, tol: float) -> BoolArray:
    """Whether ``c`` (collinear with a-b) lies within the segment's box."""
    low, high = np.minimum(a, b) - tol, np.maximum(a, b) + tol
    return np.asarray(((c >= low) & (c <= high)).all(axis=1))


def _segments_meet(
    p1: FloatArray, q1: FloatArray, p2: FloatArray, q2: FloatArray, eps: float
) -> BoolArray:
    d1, d2 = _orient(p2, q2, p1), _orient(p2, q2, q1)
    d3, d4 = _orient(p1, q1, p2), _orient(p1, q1, q2)
    proper = (((d1 > eps) & (d2 < -eps)) | ((d1 < -eps) & (d2 > eps))) & (
        ((d3 > eps) & (d4 < -eps)) | ((d3 < -eps) & (d4 > eps))
    )
    tol = float(np.sqrt(eps))
    touch = (np.abs(d1) <= eps) & _on_segment(p2, q2, p1, tol)
    touch |= (np.abs(d2) <= eps) & _on_segment(p2, q2, q1, tol)
    touch |= (np.abs(d3) <= eps) & _on_segment(p1, q1, p2, tol)
    touch |= (np.abs(d4) <= eps) & _on_segment(p1, q1, q2, tol)
    return np.asarray(proper | touch)


def triangle_quality(a: Sequence[float], b: Sequence[float], c: Sequence[float]) -> float:
    """4 sqrt(3) area / (sum of squared sides): 1 for an equilateral triangle, 0 when flat.
    Plain floats: it is called once per candidate ear, on three points at a time."""
    u = (b[0] - a[0], b[1] - a[1], b[2] - a[2])
    v = (c[0] - a[0], c[1] - a[1], c[2] - a[2])
    w = (c[0] - b[0], c[1] - b[1], c[2] - b[2])
    cross = (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])
    area = math.sqrt(cross[0] ** 2 + cross[1] ** 2 + cross[2] ** 2) / 2
    sides = sum(x * x for x in u) + sum(x * x for x in v) + sum(x * x for x in w)
    return 4 * math.sqrt(3) * area / sides if sides > 0 else 0.0


def ear_clip(
    flat: FloatArray,
    points: FloatArray,
    blocked: Callable[[int, int], bool] | None = None,
) -> list[tuple[int, int, int]] | None:
    """Triangles covering a simple anticlockwise 2D polygon ``flat`` (``points``: the same
    corners in 3D, which rank the ears), or None when it gets stuck (every remaining ear's
    diagonal ``blocked``, or a polygon that is not simple)."""
    n = len(flat)
    if n < 3:
        return None
    if n == 3:
        return [(0, 1, 2)]
    eps = _eps(flat)
    corners = points.tolist()
    prev = np.roll(np.arange(n), 1)
    nxt = np.roll(np.arange(n), -1)
    alive = np.ones(n, dtype=bool)
    ear = np.zeros(n, dtype=bool)
    quality = np.full(n, -np.inf)

    plane = flat.tolist()

    def turn(i: int) -> float:
        a, b, c = plane[prev[i]], plane[i], plane[nxt[i]]
        return float((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]))

    reflex = np.array([turn(i) <= eps for i in range(n)])

    def evaluate(i: int) -> None:
        a, c = int(prev[i]), int(nxt[i])
        ear[i] = False
        if reflex[i] or (blocked is not None and blocked(a, c)):
            return
        others = np.flatnonzero(reflex & alive)
        others = others[(others != a) & (others != c)]
        if len(others):
            pa, pb, pc, p = flat[a], flat[i], flat[c], flat[others]
            inside = (_side(pa, pb, p) >= -eps) & (_side(pb, pc, p) >= -eps)
            if (inside & (_side(pc, pa, p) >= -eps)).any():
                return
        ear[i] = True
        quality[i] = triangle_quality(corners[a], corners[i], corners[c])

    for i in range(n):
        evaluate(i)
    triangles: list[tuple[int, int, int]] = []
    for _ in range(n - 3):
        candidates = alive & ear
        if not candidates.any():
            return None
        i = int(np.argmax(np.where(candidates, quality, -np.inf)))
        a, c = int(prev[i]), int(nxt[i])
        triangles.append((a, i, c))
        alive[i] = ear[i] = False
        nxt[a], prev[c] = c, a
        for j in (a, c):
            reflex[j] = turn(j) <= eps
            evaluate(j)
    j = int(np.flatnonzero(alive)[0])
    triangles.append((j, int(nxt[j]), int(nxt[nxt[j]])))
    return [_in_loop_order(t) for t in triangles]


def _side(s: FloatArray, t: FloatArray, p: FloatArray) -> FloatArray:
    return np.asarray((t[0] - s[0]) * (p[:, 1] - s[1]) - (t[1] - s[1]) * (p[:, 0] - s[0]))


def _in_loop_order(t: tuple[int, int, int]) -> tuple[int, int, int]:
    """The same triangle (same winding) starting at its lowest index."""
    k = t.index(min(t))
    return (t[k], t[(k + 1) % 3], t[(k + 2) % 3])


def triangulate(
    points: FloatArray, blocked: Callable[[int, int], bool] | None = None
) -> list[tuple[int, int, int]] | None:
    """Triangles over a closed 3D loop, wound as the loop runs, by ear clipping in its best-fit
    plane; None when that projection is not a simple polygon or no ear can be cut."""
    if len(points) == 3:
        return [(0, 1, 2)]
    flat = best_fit_plane(points)
    if not is_simple(flat):
        return None
    return ear_clip(flat, points, blocked)


def centre(points: FloatArray) -> FloatArray:
    """The centroid of a closed polyline (its edges' midpoints weighted by their length; the
    mean of the corners when every edge has zero length)."""
    following = np.roll(points, -1, axis=0)
    length = np.linalg.norm(following - points, axis=1)
    if length.sum() == 0:
        return np.asarray(points.mean(axis=0), dtype=np.float64)
    middle = (points + following) / 2
    return np.asarray((middle * length[:, None]).sum(axis=0) / length.sum(), dtype=np.float64)


def fan(count: int) -> IntArray:
    """Triangles (loop index, next loop index, ``count`` for the centre) of a centre fan."""
    i = np.arange(count)
    return np.column_stack([i, (i + 1) % count, np.full(count, count)]).astype(np.int64)
