"""Inflation: a planar triangulation of the outline lifted into a closed front and back surface.

The outline's vertices are shared by both surfaces, so the result is closed and 2-manifold by
construction. Each interior point rises by ``sqrt(d (2 rho - d))`` where ``d`` is its distance to
the outline and ``rho`` the local half-width (the radius of the largest inscribed disc that
covers the point): a round cross-section, exact for spheres and for cylinders seen side-on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from meshforge.engines.silhouette.outline import Outline
from meshforge.errors import EngineError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class PlanarMesh:
    """A triangulation of the outline: 2-D points, triangles, and which points lie on it."""

    points: FloatArray
    triangles: IntArray
    on_outline: NDArray[np.bool_]


def triangulate_outline(outline: Outline, max_area: float) -> PlanarMesh:
    """Constrained quality triangulation, with no edge joining two outline points across the
    interior (such a chord would be shared by four faces once the back is added)."""
    import triangle

    loops = outline.loops
    vertices = np.concatenate(loops)
    segments, start = [], 0
    for loop in loops:
        n = len(loop)
        idx = np.arange(start, start + n)
        segments.append(np.column_stack([idx, np.roll(idx, -1)]))
        start += n
    data: dict[str, FloatArray | IntArray] = {
        "vertices": vertices,
        "segments": np.concatenate(segments),
    }
    if outline.holes:
        data["holes"] = np.array([_point_inside(h) for h in outline.holes])
    extra = np.zeros((0, 2))
    for _ in range(8):
        if len(extra):
            data["vertices"] = np.vstack([vertices, extra])
        result = triangle.triangulate(data, f"pq28a{max_area:.6f}")
        points = np.asarray(result["vertices"], dtype=np.float64)
        tris = np.asarray(result["triangles"], dtype=np.int64)
        on_outline = _outline_points(tris, len(points))
        chords = _chords(tris, on_outline)
        if not len(chords):
            return PlanarMesh(points=points, triangles=tris, on_outline=on_outline)
        extra = np.vstack([extra, points[chords].mean(axis=1)])
    raise EngineError(
        "could not triangulate the outline without chords",
        stage="reconstruct",
        hint="Try a larger --max-faces or a cleaner mask.",
    )


def cross2d(u: FloatArray, v: FloatArray) -> FloatArray:
    """The z component of the cross product of 2-D vectors, row by row."""
    return np.asarray(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0], dtype=np.float64)


def _edge_counts(tris: IntArray) -> tuple[IntArray, IntArray]:
    """Undirected edges (as ``(a, b)`` rows with a < b) and how many triangles use each."""
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    e.sort(axis=1)
    n = int(tris.max()) + 1
    keys, counts = np.unique(e[:, 0] * n + e[:, 1], return_counts=True)
    return np.column_stack([keys // n, keys % n]), counts


def _outline_points(tris: IntArray, count: int) -> NDArray[np.bool_]:
    edges, counts = _edge_counts(tris)
    flags = np.zeros(count, dtype=bool)
    flags[edges[counts == 1].ravel()] = True
    return flags


def _chords(tris: IntArray, on_outline: NDArray[np.bool_]) -> IntArray:
    edges, counts = _edge_counts(tris)
    inner = edges[counts == 2]
    return np.asarray(inner[on_outline[inner[:, 0]] & on_outline[inner[:, 1]]], dtype=np.int64)


def _point_inside(loop: FloatArray) -> FloatArray:
    """A point strictly inside a simple polygon: the centroid of its largest triangle."""
    import triangle

    n = len(loop)
    seg = np.column_stack([np.arange(n), np.roll(np.arange(n), -1)])
    tri = triangle.triangulate({"vertices": loop, "segments": seg}, "p")
    pts, faces = tri["vertices"], tri["triangles"]
    a, b, c = pts[faces[:, 0]], pts[faces[:, 1]], pts[faces[:, 2]]
    area = np.abs(cross2d(b - a, c - a))
    return np.asarray((a + b + c)[int(np.argmax(area))] / 3, dtype=np.float64)


def half_width_maps(
    mask: NDArray[np.uint8], levels: int = 40
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Distance to the outline, and the local half-width ``rho`` for every pixel.

    ``rho(p)`` is the radius of the largest disc inside the mask that contains ``p`` (the "local
    thickness"): ``p`` is within ``r`` of the set where the distance is at least ``r``. That is
    exact for discs and strips, and unlike a skeleton it has no spurs from a jagged outline.
    """
    import cv2

    dist = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE).astype(np.float32)
    top = float(dist.max())
    rho = np.minimum(dist, 1.0).astype(np.float32)
    if top <= 1.0:
        return dist, np.maximum(rho, dist)
    for r in np.geomspace(1.0, top, levels):
        core = (dist < r).astype(np.uint8)  # zero where the distance is at least r
        reach = cv2.distanceTransform(core, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        rho[(reach <= r) & (mask > 0)] = r
    # Smooth the level steps, weighting by the mask so the outside's zeros do not leak in.
    inside = (mask > 0).astype(np.float32)
    weight = np.maximum(cv2.GaussianBlur(inside, (0, 0), 1.5), 1e-6)
    smooth = cv2.GaussianBlur(rho * inside, (0, 0), 1.5) / weight
    return dist, np.maximum(smooth, dist).astype(np.float32)


def sample(image: NDArray[np.float32], points: FloatArray) -> FloatArray:
    """Bilinear lookup at (column, row) points with pixel centres at +0.5."""
    h, w = image.shape
    x = np.clip(points[:, 0] - 0.5, 0, w - 1)
    y = np.clip(points[:, 1] - 0.5, 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = x - x0, y - y0
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, dtype=np.float64)


def inflation_heights(
    planar: PlanarMesh, dist: NDArray[np.float32], rho: NDArray[np.float32], min_height: float
) -> FloatArray:
    """Height above the outline's plane (pixels) at every planar point; zero on the outline."""
    d = sample(dist, planar.points)
    r = np.maximum(sample(rho, planar.points), d)
    height = np.sqrt(np.maximum(d * (2 * r - d), 0.0))
    height = np.maximum(height, min_height)
    height[planar.on_outline] = 0.0
    return height


def closed_surface(planar: PlanarMesh) -> tuple[IntArray, IntArray]:
    """Index maps for the closed mesh: front vertices are the planar points; back vertices
    duplicate the interior ones. Returns (back_index_of_point, faces)."""
    n = len(planar.points)
    back = np.arange(n)
    interior = np.flatnonzero(~planar.on_outline)
    back[interior] = n + np.arange(len(interior))
    # Orient the front so its normals face the camera: the planar triangles are counter-clockwise
    # in (column, row), which is clockwise seen by a camera with +Y up, so flip them.
    tris = planar.triangles
    a, b, c = planar.points[tris[:, 0]], planar.points[tris[:, 1]], planar.points[tris[:, 2]]
    ccw = cross2d(b - a, c - a) > 0
    front = np.where(ccw[:, None], tris[:, [0, 2, 1]], tris)
    back_faces = back[front[:, [0, 2, 1]]]
    return back, np.concatenate([front, back_faces])
