"""The source side of ``bake``: the source's triangles merged into one set (:class:`Source`),
where each texel of the target lands on it, and what the source shows there.

Where a texel lands: on the same triangle when the target face is a source face
(:func:`same_source_faces`: ``decimate`` leaves many as they were, ``unwrap`` moves none), else
at the nearest point of the source (:func:`project`), preferring triangles that face the same
way. What it shows: base colour (texture x factor x vertex colours) and roughness/metallic
(factors x ORM texture), sampled bilinearly with glTF's default repeat wrapping.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Asset, FloatArray, IntArray, Material, Mesh
from meshforge.errors import TransformError
from meshforge.geometry import int_row_keys, row_ids
from meshforge.render.shading import linear_to_srgb, srgb_to_linear

CANDIDATES = 8  # source triangles tried per texel (those with the nearest centroids)
CHUNK = 1 << 17  # texels projected at once: bounds memory to a few hundred MB


@dataclasses.dataclass
class Source:
    """The source's triangles merged into one set, with what a projected point samples."""

    vertices: FloatArray
    faces: IntArray
    uv: FloatArray  # zeros where a mesh has none
    normals: FloatArray  # smooth, unit
    colors: NDArray[np.float32]  # (V, 4) linear RGBA, ones where there are none
    face_material: IntArray
    face_normals: FloatArray
    materials: list[Material]
    has_uv: NDArray[np.bool_]  # per face


def sample_roughness_metallic(src: Source, face: IntArray, bary: FloatArray) -> FloatArray:
    """Roughness and metallic (n, 2), 0..1, at the given source points: the material's factors
    times its ORM texture's G and B where it has one."""
    out = np.empty((len(face), 2))
    material = src.face_material[face]
    uv = np.einsum("ij,ijk->ik", bary, src.uv[src.faces[face]])
    for index, mat in enumerate(src.materials):
        rows = np.flatnonzero(material == index)
        out[rows] = (mat.roughness_factor, mat.metallic_factor)
        texture = mat.occlusion_roughness_metallic_texture
        if texture is not None:
            rows = rows[src.has_uv[face[rows]]]
            out[rows] *= bilinear(texture.image, uv[rows])[:, 1:3] / 255.0
    return out


def same_source_faces(
    vertices: FloatArray, faces: IntArray, src: Source
) -> tuple[IntArray, IntArray]:
    """For each target face, the source face with the same three corner positions in the same
    order (-1: none), and how far the source's corners are turned against it (target corner
    ``j`` is source corner ``(j + turn) % 3``).

    ``decimate`` leaves many faces as they were and ``unwrap`` keeps every face's corners, so
    the texels of those faces lie on the source's own triangles: their source point is known
    exactly, with no search (and none can land on the far side of a thin wall)."""
    ids, _ = row_ids(np.concatenate([src.vertices, vertices]))
    source_key, source_turn = _canonical(ids[: len(src.vertices)][src.faces])
    target_key, target_turn = _canonical(ids[len(src.vertices) :][faces])
    keys = int_row_keys(np.concatenate([source_key, target_key]))  # 1-D: sorts far faster
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    found = first[inverse.reshape(-1)[len(source_key) :]]
    match = np.where(found < len(source_key), found, -1)
    flat = (target_key[:, 0] == target_key[:, 1]) | (target_key[:, 1] == target_key[:, 2])
    match[flat] = -1
    turn = np.where(match >= 0, (source_turn[np.maximum(match, 0)] - target_turn) % 3, 0)
    return np.asarray(match, dtype=np.int64), np.asarray(turn, dtype=np.int64)


def _canonical(corners: IntArray) -> tuple[IntArray, IntArray]:
    """Each face's corner ids turned so the smallest comes first (the order kept), and the
    index of that corner."""
    first = np.argmin(corners, axis=1) if len(corners) else np.zeros(0, dtype=np.int64)
    order = (first[:, None] + np.arange(3)[None, :]) % 3
    return np.take_along_axis(corners, order, axis=1), first


def on_same_faces(
    tri: IntArray, bary: FloatArray, match: IntArray, turn: IntArray
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Source face, barycentric weights and distance (0) of the texels whose target face is a
    source face (``same_source_faces``); face -1 where it is not (to be projected)."""
    face = match[tri]
    weights = np.zeros((len(tri), 3))
    known = np.flatnonzero(face >= 0)
    columns = (np.arange(3)[None, :] + turn[tri[known]][:, None]) % 3
    weights[known[:, None], columns] = bary[known]
    return face, weights, np.zeros(len(tri))


def project(
    points: FloatArray, normals: FloatArray, src: Source, tree: Any
) -> tuple[IntArray, FloatArray, FloatArray]:
    """The nearest source point to each point, preferring triangles that face the same way:
    its face, barycentric weights and distance.

    Most points project into the interior of the triangle with the nearest centroid, facing the
    same way; on a surface that close that is the nearest point, so only the others (about a
    quarter on a dense sphere) try ``CANDIDATES`` triangles."""
    _, first = tree.query(points, k=1, workers=-1)
    face = np.asarray(first, dtype=np.int64).reshape(-1)
    tris = src.vertices[src.faces[face]]
    bary = np.asarray(closest_barycentric(tris, points), dtype=np.float64)
    nearest = np.einsum("nj,njd->nd", bary, tris)
    dist = np.linalg.norm(nearest - points, axis=1)
    facing = np.einsum("nd,nd->n", src.face_normals[face], normals) > 0
    redo = np.flatnonzero(~((bary.min(axis=1) > 1e-9) & facing))
    if len(redo) and len(src.faces) > 1:
        f, b, d = _project_candidates(points[redo], normals[redo], src, tree)
        face[redo], bary[redo], dist[redo] = f, b, d
    return face, bary, dist


def _project_candidates(
    points: FloatArray, normals: FloatArray, src: Source, tree: Any
) -> tuple[IntArray, FloatArray, FloatArray]:
    """The best of the ``CANDIDATES`` triangles with the nearest centroids, tried in two halves:
    a point whose best of the nearer half lies inside it, facing the same way, is settled there
    (as the first pass settles the nearest one), and only the rest try the farther half."""
    k = min(CANDIDATES, len(src.faces))
    face = np.empty(len(points), dtype=np.int64)
    bary = np.empty((len(points), 3))
    dist = np.empty(len(points))
    for lo in range(0, len(points), CHUNK):
        p, n = points[lo : lo + CHUNK], normals[lo : lo + CHUNK]
        _, cand = tree.query(p, k=k, workers=-1)
        cand = np.asarray(cand, dtype=np.int64).reshape(len(p), k)
        half = max(k // 2, 1)
        f, w, d2, score, settled = _best_of(p, n, cand[:, :half], src)
        rest = np.flatnonzero(~settled)
        if len(rest) and k > half:
            f2, w2, d22, score2, _ = _best_of(p[rest], n[rest], cand[rest, half:], src)
            better = score2 < score[rest]
            pick = rest[better]
            f[pick], w[pick], d2[pick] = f2[better], w2[better], d22[better]
        face[lo : lo + CHUNK], bary[lo : lo + CHUNK] = f, w
        dist[lo : lo + CHUNK] = np.sqrt(d2)
    return face, bary, dist


def _best_of(
    p: FloatArray, n: FloatArray, cand: IntArray, src: Source
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
    """Each point's nearest candidate, preferring those facing its way: face, weights, squared
    distance, that distance as ranked (plus 1e30 where no candidate faces its way), and whether
    the point lies inside that triangle and faces the same way."""
    k = cand.shape[1]
    # Compared in single precision, relative to each point (so the values stay small and exact
    # enough), which halves the memory traffic of the search.
    tris = (src.vertices[src.faces[cand]] - p[:, None, None, :]).astype(np.float32)
    origin = np.zeros((len(p) * k, 3), dtype=np.float32)
    w = closest_barycentric(tris.reshape(-1, 3, 3), origin).reshape(-1, k, 3)
    nearest = np.einsum("nkj,nkjd->nkd", w, tris)
    d2 = np.sum(nearest.astype(np.float64) ** 2, axis=2)
    facing = np.einsum("nkd,nd->nk", src.face_normals[cand], n) > 0
    best = np.argmin(np.where(facing, d2, d2 + 1e30), axis=1)
    rows = np.arange(len(p))
    raw = d2[rows, best]
    score = np.where(facing[rows, best], raw, raw + 1e30)
    weights = np.asarray(w[rows, best], dtype=np.float64)
    settled = facing[rows, best] & (weights.min(axis=1) > 1e-6)
    return cand[rows, best], weights, raw, score, settled


def closest_barycentric(
    tris: NDArray[np.floating[Any]], p: NDArray[np.floating[Any]]
) -> NDArray[np.floating[Any]]:
    """Barycentric weights (n, 3) of the closest point of each triangle to each point
    (Ericson, Real-Time Collision Detection 5.1.5, all regions at once), in the inputs'
    precision."""
    a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = np.einsum("ij,ij->i", ab, ap), np.einsum("ij,ij->i", ac, ap)
    bp, cp = p - b, p - c
    d3, d4 = np.einsum("ij,ij->i", ab, bp), np.einsum("ij,ij->i", ac, bp)
    d5, d6 = np.einsum("ij,ij->i", ab, cp), np.einsum("ij,ij->i", ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    denom = va + vb + vc
    safe = np.where(np.abs(denom) > 1e-300, denom, 1.0)
    out = np.column_stack([va, vb, vc]) / safe[:, None]  # inside the face
    out[np.abs(denom) <= 1e-300] = (1.0, 0.0, 0.0)

    def edge(mask: NDArray[np.bool_], t: FloatArray, i: int, j: int) -> None:
        tt = np.clip(t[mask], 0.0, 1.0)
        w = np.zeros((len(tt), 3))
        w[:, i], w[:, j] = 1.0 - tt, tt
        out[mask] = w

    def ratio(num: FloatArray, den: FloatArray) -> FloatArray:
        return np.divide(num, den, out=np.zeros_like(num), where=np.abs(den) > 1e-300)

    # Regions from the last checked to the first, so the first that applies wins.
    in_bc = (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)
    edge(in_bc, ratio(d4 - d3, (d4 - d3) + (d5 - d6)), 1, 2)
    in_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    edge(in_ac, ratio(d2, d2 - d6), 0, 2)
    out[(d6 >= 0) & (d5 <= d6)] = (0.0, 0.0, 1.0)
    in_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    edge(in_ab, ratio(d1, d1 - d3), 0, 1)
    out[(d3 >= 0) & (d4 <= d3)] = (0.0, 1.0, 0.0)
    out[(d1 <= 0) & (d2 <= 0)] = (1.0, 0.0, 0.0)
    return out


def sample_colour(src: Source, face: IntArray, bary: FloatArray) -> NDArray[np.uint8]:
    """sRGB RGBA (n, 4) of the source at the given points: texture x factor x vertex colour."""
    linear = np.einsum("ij,ijk->ik", bary, src.colors[src.faces[face]].astype(np.float64))
    material = src.face_material[face]
    uv = np.einsum("ij,ijk->ik", bary, src.uv[src.faces[face]])
    for index, mat in enumerate(src.materials):
        rows = np.flatnonzero(material == index)
        linear[rows] *= np.asarray(mat.base_color_factor, dtype=np.float64)
        if mat.base_color_texture is not None:
            rows = rows[src.has_uv[face[rows]]]
            texel = bilinear(mat.base_color_texture.image, uv[rows]) / 255.0
            linear[rows, :3] *= srgb_to_linear(texel[:, :3])
            linear[rows, 3] *= texel[:, 3]
    rgb = linear_to_srgb(np.clip(linear[:, :3], 0.0, 1.0))
    out = np.column_stack([rgb, np.clip(linear[:, 3], 0.0, 1.0)])
    return np.asarray(np.rint(out * 255), dtype=np.uint8)


def bilinear(image: NDArray[np.uint8], uv: FloatArray) -> FloatArray:
    """RGBA (n, 4) float samples, 0..255, with glTF's default repeat wrapping."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] < 3:
        img = np.concatenate([np.repeat(img[:, :, :1], 3, axis=2), img[:, :, 1:]], axis=2)
    if img.shape[2] == 3:
        img = np.concatenate([img, np.full((*img.shape[:2], 1), 255, np.uint8)], axis=2)
    h, w = img.shape[:2]
    x, y = uv[:, 0] * w - 0.5, uv[:, 1] * h - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    c0, r0 = x0.astype(np.int64) % w, y0.astype(np.int64) % h
    c1, r1 = (c0 + 1) % w, (r0 + 1) % h
    top = img[r0, c0] * (1 - fx) + img[r0, c1] * fx
    bottom = img[r1, c0] * (1 - fx) + img[r1, c1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, dtype=np.float64)


def smooth_normals(mesh: Mesh) -> FloatArray:
    if mesh.normals is not None:
        return unit(mesh.normals)
    from meshforge.geometry import vertex_normals

    return vertex_normals(mesh.vertices, mesh.faces, join_positions=True)


def prepare_source(source: Asset) -> Source:
    colors_meta = source.metadata.get("vertex_colors")
    verts, faces, uvs, normals, colors, mats, has_uv = [], [], [], [], [], [], []
    offset = 0
    for i, mesh in enumerate(source.meshes):
        n = len(mesh.vertices)
        verts.append(mesh.vertices)
        faces.append(mesh.faces + offset)
        uvs.append(mesh.uv if mesh.uv is not None else np.zeros((n, 2)))
        normals.append(smooth_normals(mesh) if len(mesh.faces) else np.zeros((n, 3)))
        vc = (
            colors_meta[i]
            if isinstance(colors_meta, list | tuple) and i < len(colors_meta)
            else None
        )
        colors.append(_linear_colors(vc, n, mesh.name))
        mats.append(np.full(len(mesh.faces), mesh.material, dtype=np.int64))
        has_uv.append(np.full(len(mesh.faces), mesh.uv is not None))
        offset += n
    v = np.concatenate([np.zeros((0, 3)), *verts])
    f = np.concatenate([np.zeros((0, 3), dtype=np.int64), *faces])
    tri = v[f]
    return Source(
        vertices=v,
        faces=f,
        uv=np.concatenate([np.zeros((0, 2)), *uvs]),
        normals=np.concatenate([np.zeros((0, 3)), *normals]),
        colors=np.concatenate([np.zeros((0, 4), dtype=np.float32), *colors]),
        face_material=np.concatenate([np.zeros(0, dtype=np.int64), *mats]),
        face_normals=np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]),
        materials=list(source.materials),
        has_uv=np.concatenate([np.zeros(0, dtype=bool), *has_uv]),
    )


def _linear_colors(colors: Any, count: int, name: str) -> NDArray[np.float32]:
    out = np.ones((count, 4), dtype=np.float32)
    if colors is None:
        return out
    c = np.asarray(colors, dtype=np.float64)
    if c.ndim != 2 or len(c) != count or c.shape[1] not in (3, 4):
        raise TransformError(
            f"vertex colours of mesh {name!r} must be one RGB(A) row per vertex, got {c.shape}",
            stage="bake",
        )
    if c.max(initial=0.0) > 1.0:
        c = c / 255.0
    out[:, :3] = srgb_to_linear(c[:, :3])
    if c.shape[1] == 4:
        out[:, 3] = c[:, 3]
    return out


def unit(v: FloatArray) -> FloatArray:
    length = np.linalg.norm(v, axis=1, keepdims=True)
    unit: FloatArray = np.divide(v, length, out=np.zeros_like(v), where=length > 0)
    return unit
