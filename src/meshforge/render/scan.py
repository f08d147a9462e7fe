"""Scan conversion: triangles in, the nearest triangle per raster sample out, with numpy only.

Every step works on all triangles of a chunk at once. A triangle is cut into the raster rows whose
sample centre (``row + 0.5``) it spans; each row into the exact run of columns whose centre lies
inside it; so a sample is produced only where it is covered, and no inside test is needed. Spans
are half-open on the right and bottom and every edge is evaluated from its lower end point, so two
triangles that share an edge never both claim a sample on it and never leave a gap.

Depth: ``1/z`` is affine in screen space, so it is evaluated from per-triangle plane coefficients.
The z-buffer is one ``np.maximum.at`` over a packed key, ``float32 bits of 1/z`` (monotonic for
positive floats) ``<< 32 | triangle``: the nearest sample wins, ties go to the later triangle.

Triangles with any vertex closer than the near plane are dropped rather than clipped: products
sit well inside the frustum of every camera this project uses.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Camera, Material

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MASK_CUTOFF = 0.5  # glTF's default alphaCutoff; Material has no field for it
MAX_BLEND_LAYERS = 4  # BLEND surfaces are depth-peeled; deeper layers are dropped
CHUNK_SAMPLES = 1 << 21  # bounds the memory of one chunk (~a few hundred MB worst case)


@dataclass(frozen=True)
class Primitive:
    """One triangle set to draw: world-space vertices, faces, optional per-vertex uv and normals."""

    vertices: FloatArray
    faces: IntArray
    uv: FloatArray | None
    normals: FloatArray | None
    material: Material


@dataclass
class Scene:
    """The kept triangles of all primitives, set up for one camera and raster size."""

    width: int
    height: int
    intrinsics: tuple[float, float, float, float]  # fx, fy, cx, cy in raster samples
    cam_vertices: FloatArray  # (V, 3) camera space: x right, y up, z towards the viewer
    cam_normals: NDArray[np.float32]  # (V, 3) camera space, zero where a primitive has none
    uv: FloatArray  # (V, 2) zero where a primitive has none
    faces: IntArray  # (T, 3) into the concatenated vertices
    prim: IntArray  # (T,) primitive of each triangle
    face_normals: FloatArray  # (T, 3) unit, camera space
    planes: FloatArray  # (T, 3, 3): row i = (a, b, c) of l_i / z_i, affine in screen x, y
    inv_z: FloatArray  # (T, 3): (a, b, c) of 1/z, the sum of the rows of ``planes``
    ys: FloatArray  # (T, 3) screen y of the vertices, sorted ascending
    xs: FloatArray  # (T, 3) the matching screen x
    slopes: FloatArray  # (T, 3) dx/dy of the edges a-b, b-c, a-c (0 where horizontal)
    materials: list[Material] = field(default_factory=list)
    has_normals: list[bool] = field(default_factory=list)
    textures: list[NDArray[np.uint8] | None] = field(default_factory=list)  # RGBA, per primitive


def _rgba(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    img = np.asarray(image, dtype=np.uint8)
    if img.ndim == 2:
        img = img[:, :, None]
    channels = img.shape[2]
    if channels == 4:
        return np.ascontiguousarray(img)
    out = np.full((*img.shape[:2], 4), 255, dtype=np.uint8)
    if channels >= 3:
        out[..., :3] = img[..., :3]
    else:  # grey or grey + alpha
        out[..., :3] = img[..., :1]
        if channels == 2:
            out[..., 3] = img[..., 1]
    return out


def build_scene(
    prims: list[Primitive], camera: Camera, supersample: int = 1, near: float = 0.05
) -> Scene:
    """Transform, project and set up every triangle that lies in front of the near plane."""
    world_to_camera = np.linalg.inv(np.asarray(camera.camera_to_world, dtype=np.float64))
    rot, trans = world_to_camera[:3, :3], world_to_camera[:3, 3]
    verts, nrms, uvs, faces, prim_ids = [], [], [], [], []
    materials: list[Material] = []
    has_normals: list[bool] = []
    textures: list[NDArray[np.uint8] | None] = []
    offset = 0
    for i, p in enumerate(prims):
        v = np.asarray(p.vertices, dtype=np.float64).reshape(-1, 3)
        f = np.asarray(p.faces, dtype=np.int64).reshape(-1, 3)
        if len(f) and (f.min() < 0 or f.max() >= len(v)):
            raise ValueError(f"render: primitive {i} has a face that refers to a missing vertex")
        for name, attr in (("uv", p.uv), ("normals", p.normals)):
            if attr is not None and len(attr) != len(v):
                raise ValueError(f"render: primitive {i} needs one row of {name} per vertex")
        verts.append(v @ rot.T + trans)
        has_n = p.normals is not None
        n = np.asarray(p.normals, dtype=np.float64).reshape(-1, 3) if has_n else np.zeros_like(v)
        nrms.append(n @ rot.T)  # pose assumed rigid: the rotation transforms normals too
        has_uv = p.uv is not None
        uv = np.asarray(p.uv, dtype=np.float64).reshape(-1, 2) if has_uv else np.zeros((len(v), 2))
        uvs.append(uv)
        faces.append(f + offset)
        prim_ids.append(np.full(len(f), i, dtype=np.int64))
        offset += len(v)
        tex = p.material.base_color_texture
        materials.append(p.material)
        has_normals.append(has_n)
        textures.append(_rgba(tex.image) if tex is not None and has_uv else None)
    cam = np.concatenate([np.zeros((0, 3)), *verts])
    tri = np.concatenate([np.zeros((0, 3), dtype=np.int64), *faces])
    tri_prim = np.concatenate([np.zeros(0, dtype=np.int64), *prim_ids])

    s = float(supersample)
    width, height = camera.width * supersample, camera.height * supersample
    depth = -cam[:, 2]
    safe = np.where(depth > near, depth, 1.0)
    sx = (camera.cx + camera.fx * cam[:, 0] / safe) * s
    sy = (camera.cy - camera.fy * cam[:, 1] / safe) * s
    x, y, z = sx[tri], sy[tri], depth[tri]
    area2 = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    keep = (
        (z > near).all(axis=1)
        & (np.abs(area2) > 1e-12)
        & (x.max(axis=1) > 0)
        & (x.min(axis=1) < width)
        & (y.max(axis=1) > 0)
        & (y.min(axis=1) < height)
    )
    tri, tri_prim, area2 = tri[keep], tri_prim[keep], area2[keep]
    x, y, z = x[keep], y[keep], z[keep]

    # Screen-space barycentrics l_i = (A_i x + B_i y + C_i) / area2, each divided by z_i so that
    # l_i / z_i (affine in screen space) gives perspective-correct weights after normalising.
    x0, x1, x2 = x.T
    y0, y1, y2 = y.T
    a = np.stack([y1 - y2, y2 - y0, y0 - y1], axis=1)
    b = np.stack([x2 - x1, x0 - x2, x1 - x0], axis=1)
    c = np.stack([x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0], axis=1)
    scale = 1.0 / (area2[:, None] * z)
    planes = np.stack([a * scale, b * scale, c * scale], axis=2)

    order = np.argsort(y, axis=1, kind="stable")
    ys, xs = np.take_along_axis(y, order, axis=1), np.take_along_axis(x, order, axis=1)
    dy = ys[:, [1, 2, 2]] - ys[:, [0, 1, 0]]
    dx = xs[:, [1, 2, 2]] - xs[:, [0, 1, 0]]
    slopes = np.divide(dx, dy, out=np.zeros_like(dx), where=dy > 0)

    corners = cam[tri]
    fn = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-300)
    return Scene(
        width=width,
        height=height,
        intrinsics=(camera.fx * s, camera.fy * s, camera.cx * s, camera.cy * s),
        cam_vertices=cam,
        cam_normals=np.concatenate([np.zeros((0, 3)), *nrms]).astype(np.float32),
        uv=np.concatenate([np.zeros((0, 2)), *uvs]),
        faces=tri,
        prim=tri_prim,
        face_normals=fn,
        planes=planes,
        inv_z=planes.sum(axis=1),
        ys=ys,
        xs=xs,
        slopes=slopes,
        materials=materials,
        has_normals=has_normals,
        textures=textures,
    )


def barycentrics(
    scene: Scene, tri: IntArray, x: NDArray[np.floating], y: NDArray[np.floating]
) -> FloatArray:
    """Perspective-correct barycentric weights (N, 3) of screen points inside triangles ``tri``."""
    p = scene.planes.take(tri, axis=0)
    q = p[:, :, 0] * x[:, None] + p[:, :, 1] * y[:, None] + p[:, :, 2]
    q = np.maximum(q, 0.0)  # samples on an edge can come out a hair negative
    return np.asarray(q / np.maximum(q.sum(axis=1, keepdims=True), 1e-300), dtype=np.float64)


@dataclass
class Fragments:
    """Per raster sample (row-major, ``height * width``): the visible triangle or -1."""

    opaque: IntArray
    blend_layers: list[IntArray]  # front to back; each maps samples to a BLEND triangle or -1


def _row_ranges(scene: Scene) -> tuple[IntArray, IntArray]:
    """First row and row count of every triangle: rows whose centre lies in [y_min, y_max)."""
    r0 = np.clip(np.ceil(scene.ys[:, 0] - 0.5), 0, scene.height).astype(np.int64)
    r1 = np.clip(np.ceil(scene.ys[:, 2] - 0.5), 0, scene.height).astype(np.int64)
    return r0, np.maximum(r1 - r0, 0)


def _chunk_samples(
    scene: Scene, tris: IntArray, r0: IntArray, nrows: IntArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Every covered sample of the triangles ``tris``: (triangle, sample index, 1/z)."""
    nr = nrows[tris]
    pair_tri = np.repeat(tris, nr)
    local_row = np.arange(len(pair_tri)) - np.repeat(np.cumsum(nr) - nr, nr)
    row = r0[pair_tri] + local_row
    yc = row + 0.5
    # ``take`` gathers rows several times faster than fancy indexing does.
    xs, ys = scene.xs.take(pair_tri, axis=0), scene.ys.take(pair_tri, axis=0)
    sl = scene.slopes.take(pair_tri, axis=0)
    x_long = xs[:, 0] + (yc - ys[:, 0]) * sl[:, 2]
    upper = yc < ys[:, 1]
    x_short = np.where(
        upper, xs[:, 0] + (yc - ys[:, 0]) * sl[:, 0], xs[:, 1] + (yc - ys[:, 1]) * sl[:, 1]
    )
    x_left, x_right = np.minimum(x_long, x_short), np.maximum(x_long, x_short)
    c0 = np.clip(np.ceil(x_left - 0.5), 0, scene.width).astype(np.int64)
    c1 = np.clip(np.ceil(x_right - 0.5), 0, scene.width).astype(np.int64)
    nc = np.maximum(c1 - c0, 0)

    # 1/z along the run: value at the first sample plus a constant step per column.
    iz_plane = scene.inv_z.take(pair_tri, axis=0)
    step = iz_plane[:, 0]
    start = step * (c0 + 0.5) + iz_plane[:, 1] * yc + iz_plane[:, 2]

    pair = np.repeat(np.arange(len(pair_tri)), nc)
    local = np.arange(len(pair)) - np.repeat(np.cumsum(nc) - nc, nc)
    sample = (row * scene.width + c0)[pair] + local
    inv_z = start[pair] + step[pair] * local
    return pair_tri[pair], sample, inv_z


def _alpha_test(scene: Scene, tri: IntArray, sample: IntArray) -> NDArray[np.bool_]:
    """Which samples of MASK triangles survive the alpha cut-off."""
    from meshforge.render.shading import base_color  # shading imports this module

    x = (sample % scene.width) + 0.5
    y = (sample // scene.width) + 0.5
    _, alpha = base_color(scene, tri, barycentrics(scene, tri, x, y))
    return np.asarray(alpha >= MASK_CUTOFF)


_OPAQUE, _MASK, _BLEND, _CUT = 0, 1, 2, 3
_KINDS = {"MASK": _MASK, "BLEND": _BLEND}


def _pack(tri: IntArray, inv_z: FloatArray) -> IntArray:
    bits = np.maximum(inv_z, 1e-30).astype(np.float32).view(np.int32).astype(np.int64)
    return np.asarray((bits << 32) | tri)


def _unpack(keys: IntArray) -> IntArray:
    return np.where(keys > 0, keys & 0xFFFFFFFF, -1)


def scan_convert(scene: Scene) -> Fragments:
    """Resolve visibility for every sample of the raster."""
    n_samples = scene.width * scene.height
    zbuf = np.zeros(n_samples, dtype=np.int64)
    if not len(scene.faces):
        return Fragments(_unpack(zbuf), [])
    r0, nrows = _row_ranges(scene)
    width_est = np.ceil(scene.xs.max(axis=1)) - np.floor(scene.xs.min(axis=1)) + 1
    cost = np.cumsum(nrows * np.minimum(width_est, scene.width))
    bounds = np.searchsorted(cost, np.arange(1, int(cost[-1]) // CHUNK_SAMPLES + 1) * CHUNK_SAMPLES)
    edges = np.unique(np.concatenate([[0], bounds, [len(r0)]]))
    kind = np.array([_KINDS.get(m.alpha_mode, _OPAQUE) for m in scene.materials])[scene.prim]
    blend_samples: list[IntArray] = []
    blend_keys: list[IntArray] = []
    for lo, hi in itertools.pairwise(edges):
        tri, sample, inv_z = _chunk_samples(scene, np.arange(lo, hi), r0, nrows)
        keys = _pack(tri, inv_z)
        k = kind[tri]
        if not k.any():  # the common case: everything opaque
            np.maximum.at(zbuf, sample, keys)
            continue
        masked = np.flatnonzero(k == _MASK)
        if len(masked):
            k[masked[~_alpha_test(scene, tri[masked], sample[masked])]] = _CUT
        solid = (k == _OPAQUE) | (k == _MASK)
        np.maximum.at(zbuf, sample[solid], keys[solid])
        blend = k == _BLEND
        blend_samples.append(sample[blend])
        blend_keys.append(keys[blend])
    layers: list[IntArray] = []
    if any(len(b) for b in blend_samples):
        sample, keys = np.concatenate(blend_samples), np.concatenate(blend_keys)
        front = (keys >> 32) > (zbuf[sample] >> 32)  # only what lies in front of opaque surfaces
        sample, keys = sample[front], keys[front]
        for _ in range(MAX_BLEND_LAYERS):
            if not len(sample):
                break
            layer = np.zeros(n_samples, dtype=np.int64)
            np.maximum.at(layer, sample, keys)
            layers.append(_unpack(layer))
            rest = keys != layer[sample]
            sample, keys = sample[rest], keys[rest]
    return Fragments(_unpack(zbuf), layers)
