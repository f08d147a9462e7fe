"""Ambient occlusion without a ray tracer: depth maps of a mesh from many directions.

``DepthMaps`` draws the mesh orthographically from directions spread evenly over the sphere
(``fibonacci_sphere``) with the renderer's scan converter; a surface point is open towards a
direction when no map sees anything in front of it by more than a bias (a constant plus a slope
term for grazing directions, in depth-map pixels). The open directions, cosine-weighted over the
normal's hemisphere, give the occlusion: 1 on a plane or a convex body, about 0.2 on a cup's
floor. ``bake`` writes it into the R channel of the ORM texture.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import FloatArray, IntArray, Material

AO_BIAS_PIXELS = 1.0  # constant depth bias, in depth-map pixels
AO_BIAS_SLOPE = 1.5  # plus this many pixels times tan(angle to the normal), for quantisation
AO_MIN_COS = 0.05  # caps the slope term at grazing directions (their cosine weight is tiny)
THREADS = 2  # depth maps and look-ups run in two threads: numpy releases the GIL in both
LOOKUP_CHUNK = 1 << 14  # points looked up at once: bounds the (points x directions) arrays


class DepthMaps:
    """Orthographic depth maps of the target from ``directions`` spread over the sphere: the
    visibility that ambient occlusion averages, without a ray tracer.

    Each map is the renderer's scan converter (``render/scan.py``) run on a Scene whose "1/z"
    plane is an affine height along the direction, so its z-buffer keeps the surface nearest to a
    viewer far away along ``+d``. A surface point is open towards ``d`` when no map sample in
    front of it is higher by more than a bias (one pixel plus a slope term for the depth change
    within a pixel)."""

    def __init__(self, vertices: FloatArray, faces: IntArray, count: int, resolution: int) -> None:
        self.directions = fibonacci_sphere(count)
        self.resolution = resolution
        self.centre = (vertices.min(axis=0) + vertices.max(axis=0)) / 2
        radius = float(np.linalg.norm(vertices - self.centre, axis=1).max(initial=0.0))
        self.radius = max(radius, 1e-9) * 1.01
        self.pixel = 2 * self.radius / resolution
        self.bases = [_basis(d) for d in self.directions]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(THREADS) as pool:
            maps = list(pool.map(lambda basis: self._render(vertices, faces, basis), self.bases))
        self.flat = np.concatenate(maps)  # every map, one after the other
        self.offsets = (np.arange(count) * resolution**2).astype(np.int32)

    def _screen(self, points: FloatArray, basis: FloatArray) -> FloatArray:
        """Screen x, y (depth-map pixels) and height along the direction (in radii, 1..3)."""
        local = (points - self.centre) @ basis.T / self.radius
        half = self.resolution / 2
        return np.column_stack(
            [(local[:, 0] + 1) * half, (1 - local[:, 1]) * half, local[:, 2] + 2]
        )

    def _render(
        self, vertices: FloatArray, faces: IntArray, basis: FloatArray
    ) -> NDArray[np.float32]:
        from meshforge.render.scan import scan_convert

        screen = self._screen(vertices, basis)
        x, y, height = (screen[faces, k] for k in range(3))
        size = self.resolution
        scene, _ = orthographic_scene(x, y, height, size)
        tri = scan_convert(scene).opaque
        depth = np.full(size * size, -np.inf, dtype=np.float32)
        hit = np.flatnonzero(tri >= 0)
        p = scene.inv_z[tri[hit]]
        depth[hit] = p[:, 0] * (hit % size + 0.5) + p[:, 1] * (hit // size + 0.5) + p[:, 2] - 2
        return depth

    def occlusion(self, points: FloatArray, normals: FloatArray) -> FloatArray:
        """Cosine-weighted fraction of the directions over each normal's hemisphere that are
        open (1 = unoccluded), per point: all directions at once, float32, in chunks spread
        over two threads (numpy releases the GIL in these loops)."""
        from concurrent.futures import ThreadPoolExecutor

        out = np.ones(len(points))
        step = LOOKUP_CHUNK
        with ThreadPoolExecutor(THREADS) as pool:
            for lo, value in pool.map(
                lambda lo: (lo, self._occlusion(points[lo : lo + step], normals[lo : lo + step])),
                range(0, len(points), step),
            ):
                out[lo : lo + len(value)] = value
        return out

    def _occlusion(self, points: FloatArray, normals: FloatArray) -> FloatArray:
        size, count = self.resolution, len(self.directions)
        half = np.float32(size / 2)
        axes = np.stack(self.bases).reshape(-1, 3).T.astype(np.float32)  # (3, 3 * count)
        local = (((points - self.centre) / self.radius).astype(np.float32) @ axes).reshape(
            len(points), count, 3
        )
        cos = normals.astype(np.float32) @ self.directions.T.astype(np.float32)
        col = np.clip((local[..., 0] + 1) * half, 0, size - 1)
        row = np.clip((1 - local[..., 1]) * half, 0, size - 1)
        index = (row.astype(np.int32) * size + col.astype(np.int32)) + self.offsets
        seen = self.flat[index]
        c = np.maximum(cos, AO_MIN_COS)
        tan = np.sqrt(np.maximum(1 - c * c, 0)) / c
        bias = np.float32(self.pixel / self.radius) * (AO_BIAS_PIXELS + AO_BIAS_SLOPE * tan)
        weight = np.maximum(cos, 0)
        open_ = np.where(seen > local[..., 2] + bias, 0, weight)
        total = weight.sum(axis=1)
        ao = np.divide(open_.sum(axis=1), total, out=np.ones_like(total), where=total > 0)
        return np.asarray(ao, dtype=np.float64)


def fibonacci_sphere(count: int) -> FloatArray:
    """``count`` nearly evenly spread unit directions (the golden-angle spiral)."""
    k = np.arange(count) + 0.5
    z = 1 - 2 * k / count
    r = np.sqrt(1 - z**2)
    phi = k * np.pi * (3 - np.sqrt(5))
    return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])


def _basis(d: FloatArray) -> FloatArray:
    """Rows: two screen axes orthogonal to ``d``, then ``d`` (towards the viewer)."""
    helper = np.array([0.0, 1.0, 0.0]) if abs(d[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    a = np.cross(helper, d)
    a /= np.linalg.norm(a)
    return np.stack([a, np.cross(d, a), d])


def orthographic_scene(
    x: FloatArray, y: FloatArray, height: FloatArray | None, size: int
) -> tuple[Any, IntArray]:
    """A ``render.scan`` scene of triangles given in pixels (T, 3 corners), for scan conversion
    on a square raster, and the triangles kept (those of non-zero area). ``height`` (T, 3), when
    given, is interpolated as the depth; else every triangle lies at depth 1 (a UV raster)."""
    from meshforge.render.scan import Scene

    area2 = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    keep = np.flatnonzero(np.abs(area2) > 1e-12)
    x, y, area2 = x[keep], y[keep], area2[keep]
    x0, x1, x2 = x.T
    y0, y1, y2 = y.T
    a = np.stack([y1 - y2, y2 - y0, y0 - y1], axis=1)
    b = np.stack([x2 - x1, x0 - x2, x1 - x0], axis=1)
    c = np.stack([x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0], axis=1)
    # Orthographic: the barycentric weights are affine on the raster.
    planes = np.stack([a, b, c], axis=2) / area2[:, None, None]
    inv_z = planes.sum(axis=1) if height is None else np.einsum("tij,ti->tj", planes, height[keep])
    order = np.argsort(y, axis=1, kind="stable")
    ys, xs = np.take_along_axis(y, order, axis=1), np.take_along_axis(x, order, axis=1)
    dy = ys[:, [1, 2, 2]] - ys[:, [0, 1, 0]]
    dx = xs[:, [1, 2, 2]] - xs[:, [0, 1, 0]]
    count = len(keep)
    scene = Scene(
        width=size,
        height=size,
        intrinsics=(1.0, 1.0, 0.0, 0.0),
        cam_vertices=np.zeros((0, 3)),
        cam_normals=np.zeros((0, 3), dtype=np.float32),
        uv=np.zeros((0, 2)),
        faces=np.zeros((count, 3), dtype=np.int64),
        prim=np.zeros(count, dtype=np.int64),
        face_normals=np.zeros((count, 3)),
        planes=planes,
        inv_z=inv_z,
        ys=ys,
        xs=xs,
        slopes=np.divide(dx, dy, out=np.zeros_like(dx), where=dy > 0),
        materials=[Material()],
        has_normals=[False],
        textures=[None],
    )
    return scene, keep
