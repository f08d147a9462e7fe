"""``bake``: the source asset's look, resampled onto the target's UV atlas.

Typical use: ``asset.transform(decimate(target_faces=30_000), unwrap(), bake(source=asset))``.
The source is passed explicitly (not carried in metadata) so that any earlier version of the asset,
usually the dense original, can be baked from, and the transform stays a plain function.

Every texel centre that a target triangle covers in UV space (found with the renderer's scan
converter, ``render/scan.py``) gives a surface point. That point is moved to the *nearest point* of
the source surface: candidates are the source triangles with the closest centroids (a KD-tree),
the exact closest point on each is computed and the nearest one facing the same way as the target
wins. Nearest-point projection, not a ray along the normal, because the targets come from
``decimate``, which keeps the surface within a small distance of the source, so the nearest point
never misses (a ray can, at silhouettes and in cracks) and needs no cage distance; the facing test
keeps thin walls from taking the colour of their other side. It is also fast with numpy and
scipy alone: no ray tracer is needed.

At the source point it samples:

* base colour: the source material's texture (bilinear, repeat) times its factor times the
  source's vertex colours, if any. Mesh has no vertex-colour field, so they are read from
  ``source.metadata["vertex_colors"]``: one ``(V, 3|4)`` array (sRGB, 0..1 or 0..255) or None per
  source mesh.
* with ``normal_map``, the source's interpolated normal written in the target's tangent space:
  tangents from the target's UVs (per-vertex sums of face tangents, orthogonalised against the
  normal, MikkTSpace-like), glTF's convention (+X along +u, +Y up in the image, i.e. towards -v).

With ``keep_existing`` (the default), maps the target's material already has are kept, not
re-baked: a material still holds textures only while its UVs are the ones they were made for
(``unwrap`` drops them when it makes a fresh atlas; ``decimate`` keeps UVs exactly), so they are
the source's own pixels at their own resolution. Only the missing maps are baked, e.g. a normal
map and ambient occlusion after ``decimate`` on an asset that had only a base colour texture.

Texels outside every chart are filled from the nearest chart texel up to ``dilate`` texels away,
so bilinear filtering and mip-maps do not pull in background. The baked maps replace the target
material's textures; the base colour factor becomes white since the bake already includes it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from meshforge.asset import Asset, FloatArray, IntArray, Material, Mesh, Texture
from meshforge.errors import TransformError
from meshforge.recipe import Options
from meshforge.render.occlusion import DepthMaps, orthographic_scene
from meshforge.render.shading import linear_to_srgb, srgb_to_linear
from meshforge.transforms.base import Context, Transform

CANDIDATES = 8  # source triangles tried per texel (those with the nearest centroids)
CHUNK = 1 << 17  # texels projected at once: bounds memory to a few hundred MB
AO_TEXELS = 512  # side of the raster AO is computed on (then upsampled): it varies slowly
AO_MAP_SIZE = 256  # side of each depth map


class BakeOptions(Options):
    size: int = Field(default=1024, ge=16, le=8192, description="Side of the baked maps, texels.")
    normal_map: bool = Field(
        default=True, description="Bake a tangent-space normal map from the source's normals."
    )
    ao: bool = Field(
        default=True,
        description="Bake ambient occlusion into an ORM map (R occlusion, G roughness, B "
        "metallic) from depth maps of the target; a few seconds at 30k faces.",
    )
    ao_directions: int = Field(
        default=32, ge=8, le=256, description="Directions over the sphere AO averages over."
    )
    keep_existing: bool = Field(
        default=True,
        description="Keep the maps the target's material already has (they fit its UVs) and "
        "bake only the missing ones; False re-bakes every map.",
    )
    dilate: int = Field(
        default=16,
        ge=0,
        le=1024,
        description="Texels past the chart borders filled from the nearest chart texel, so "
        "filtering and mip-maps do not bleed background.",
    )


def bake(
    source: Asset,
    size: int = 1024,
    normal_map: bool = True,
    ao: bool = True,
    ao_directions: int = 32,
    dilate: int = 16,
    keep_existing: bool = True,
) -> Transform:
    options = BakeOptions(
        size=size,
        normal_map=normal_map,
        ao=ao,
        ao_directions=ao_directions,
        dilate=dilate,
        keep_existing=keep_existing,
    )
    return Transform(
        name="bake", function=lambda a, c: bake_asset(a, c, source, options), options=options
    )


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


def bake_asset(asset: Asset, ctx: Context, source: Asset, options: BakeOptions) -> Asset:
    from scipy.spatial import cKDTree

    src = _prepare_source(source)
    if not len(src.faces):
        raise TransformError("the source asset has no faces", stage="bake")
    for mesh in asset.meshes:
        if len(mesh.faces) and mesh.uv is None:
            raise TransformError(
                f"mesh {mesh.name!r} has no UVs to bake onto", stage="bake", hint="Run unwrap()."
            )
    materials = list(asset.materials)
    groups: dict[int, list[Mesh]] = {}
    for mesh in asset.meshes:
        if len(mesh.faces):
            groups.setdefault(mesh.material, []).append(mesh)
    source_orm = any(m.occlusion_roughness_metallic_texture for m in src.materials)
    wanted = {index: _wanted_maps(materials[index], options, source_orm) for index in groups}
    # The nearest-point search over the source is the costly set-up: only when a map is baked.
    tree = cKDTree(src.vertices[src.faces].mean(axis=1)) if any(wanted.values()) else None
    occluders = None
    if any("orm" in maps for maps in wanted.values()):
        ctx.progress(0.0, "depth maps for ambient occlusion")
        meshes_all = [m for m in asset.meshes if len(m.faces)]
        offsets = np.cumsum([0] + [len(m.vertices) for m in meshes_all])
        occluders = DepthMaps(
            np.concatenate([m.vertices for m in meshes_all]),
            np.concatenate([m.faces + o for m, o in zip(meshes_all, offsets, strict=False)]),
            options.ao_directions,
            AO_MAP_SIZE,
        )
    baked: list[dict[str, Any]] = []
    for step, (index, meshes) in enumerate(sorted(groups.items())):
        old = materials[index]
        kept = sorted(_present_maps(old) - wanted[index]) if options.keep_existing else []
        if not wanted[index]:
            baked.append({"material": index, "maps": [], "kept": kept})
            continue
        ctx.progress(step / len(groups), f"baking material {index}")
        maps, facts = bake_group(meshes, src, tree, options, wanted[index], occluders)
        materials[index] = _with_maps(old, maps)
        baked.append({"material": index, "maps": sorted(maps), "kept": kept, **facts})
    ctx.progress(1.0, "baked")
    ctx.report.change("textures", _texture_count(asset.materials), _texture_count(materials))
    ctx.report.note("source", {"faces": source.face_count, "vertices": source.vertex_count})
    ctx.report.note("baked", baked)
    return dataclasses.replace(asset, materials=materials)


def _present_maps(material: Material) -> set[str]:
    present = {
        "base_color": material.base_color_texture,
        "normal": material.normal_texture,
        "orm": material.occlusion_roughness_metallic_texture,
    }
    return {name for name, texture in present.items() if texture is not None}


def _wanted_maps(material: Material, options: BakeOptions, source_orm: bool) -> set[str]:
    """The maps to bake for one target material (ORM for occlusion, or to carry the source's
    roughness and metallic texture)."""
    wanted = {"base_color"}
    if options.normal_map:
        wanted.add("normal")
    if options.ao or source_orm:
        wanted.add("orm")
    if options.keep_existing:
        wanted -= _present_maps(material)
    return wanted


def _with_maps(old: Material, maps: dict[str, NDArray[np.uint8]]) -> Material:
    """The material with the baked maps in place of its own."""
    changed: dict[str, Any] = {}
    if "base_color" in maps:
        # The bake already includes the factor.
        changed["base_color_factor"] = (1.0, 1.0, 1.0, 1.0)
        changed["base_color_texture"] = Texture(maps["base_color"], name=f"{old.name}_basecolor")
    if "normal" in maps:
        changed["normal_texture"] = Texture(maps["normal"], name=f"{old.name}_normal")
    if "orm" in maps:
        changed["occlusion_roughness_metallic_texture"] = Texture(
            maps["orm"], name=f"{old.name}_orm"
        )
        # glTF multiplies the texture's G (roughness) and B (metallic) by the factors: 1 lets
        # the baked values through unchanged.
        changed["metallic_factor"] = 1.0
        changed["roughness_factor"] = 1.0
    return dataclasses.replace(old, **changed)


def bake_group(
    meshes: list[Mesh],
    src: Source,
    tree: Any,
    options: BakeOptions,
    wanted: set[str],
    occluders: DepthMaps | None = None,
) -> tuple[dict[str, NDArray[np.uint8]], dict[str, Any]]:
    """The ``wanted`` maps of the meshes sharing one material (``orm`` only with occluders or
    a source ORM texture), and what the bake found (coverage, distances, mean occlusion)."""
    size = options.size
    vertices = np.concatenate([m.vertices for m in meshes])
    uv = np.concatenate([m.uv for m in meshes if m.uv is not None])
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
    faces = np.concatenate([m.faces + o for m, o in zip(meshes, offsets, strict=False)])
    normals = np.concatenate([_smooth_normals(m) for m in meshes])
    texel, tri, bary = rasterise_uv(uv, faces, size)
    points = np.einsum("ij,ijk->ik", bary, vertices[faces[tri]])
    normal = _unit(np.einsum("ij,ijk->ik", bary, normals[faces[tri]]))
    hit_face, hit_bary, distance = project(points, normal, src, tree)
    maps: dict[str, NDArray[np.uint8]] = {}
    if "base_color" in wanted:
        colour = sample_colour(src, hit_face, hit_bary)
        maps["base_color"] = _fill(texel, colour, size, options.dilate, (0, 0, 0, 255))
    if "normal" in wanted:
        tangents, sign = vertex_tangents(vertices, faces, uv, normals)
        t = np.einsum("ij,ijk->ik", bary, tangents[faces[tri]])
        t = _unit(t - normal * np.einsum("ij,ij->i", t, normal)[:, None])
        b = np.cross(normal, t) * sign[tri, None]
        src_normal = _unit(np.einsum("ij,ijk->ik", hit_bary, src.normals[src.faces[hit_face]]))
        local = np.column_stack(
            [np.einsum("ij,ij->i", src_normal, axis) for axis in (t, b, normal)]
        )
        encoded = np.clip(np.rint((local * 0.5 + 0.5) * 255), 0, 255).astype(np.uint8)
        maps["normal"] = _fill(texel, encoded, size, options.dilate, (128, 128, 255))
    ao_mean = None
    if "orm" in wanted:
        orm = np.empty((len(texel), 3))
        orm[:, 0] = 1.0
        if occluders is not None:
            orm[:, 0] = ao_texels(vertices, faces, uv, normals, texel, size, occluders)
            ao_mean = round(float(orm[:, 0].mean()), 4) if len(texel) else 1.0
        orm[:, 1:] = sample_roughness_metallic(src, hit_face, hit_bary)
        encoded = np.clip(np.rint(orm * 255), 0, 255).astype(np.uint8)
        maps["orm"] = _fill(texel, encoded, size, options.dilate, (255, 255, 0))
    facts = {
        "size": [size, size],
        "coverage": round(len(texel) / size**2, 4),
        "distance_mean": float(distance.mean()) if len(distance) else 0.0,
        "distance_max": float(distance.max()) if len(distance) else 0.0,
    }
    if ao_mean is not None:
        facts["ao_mean"] = ao_mean
    return maps, facts


def ao_texels(
    vertices: FloatArray,
    faces: IntArray,
    uv: FloatArray,
    normals: FloatArray,
    texel: IntArray,
    size: int,
    occluders: DepthMaps,
) -> FloatArray:
    """Ambient occlusion (0..1) at the given texels of a ``size`` map.

    Computed on an atlas raster of at most ``AO_TEXELS`` a side (occlusion varies slowly; at 1024
    px this is a quarter of the look-ups), dilated like the maps and sampled bilinearly back at
    the texel centres."""
    small = min(size, AO_TEXELS)
    cells, tri, bary = rasterise_uv(uv, faces, small)
    points = np.einsum("ij,ijk->ik", bary, vertices[faces[tri]])
    normal = _unit(np.einsum("ij,ijk->ik", bary, normals[faces[tri]]))
    value = np.rint(occluders.occlusion(points, normal) * 255).astype(np.uint8)[:, None]
    image = _fill(cells, value, small, max(2, small // 32), (255,))
    if small == size:
        return image.reshape(-1)[texel] / 255.0
    centres = np.column_stack([(texel % size) + 0.5, (texel // size) + 0.5]) / size
    return bilinear(image, centres)[:, 0] / 255.0


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


def rasterise_uv(
    uv: FloatArray, faces: IntArray, size: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Texels (row-major indices) whose centre a triangle covers in UV space, that triangle and
    the texel centre's barycentric weights in it (one triangle per texel)."""
    from meshforge.render.scan import barycentrics, scan_convert

    x, y = uv[faces, 0] * size, uv[faces, 1] * size
    scene, keep = orthographic_scene(x, y, None, size)
    frags = scan_convert(scene).opaque
    texel = np.flatnonzero(frags >= 0).astype(np.int64)
    local = frags[texel]
    bary = barycentrics(scene, local, (texel % size) + 0.5, (texel // size) + 0.5)
    return texel, keep[local], bary


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
    bary = closest_barycentric(tris, points)
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
    k = min(CANDIDATES, len(src.faces))
    face = np.empty(len(points), dtype=np.int64)
    bary = np.empty((len(points), 3))
    dist = np.empty(len(points))
    for lo in range(0, len(points), CHUNK):
        p, n = points[lo : lo + CHUNK], normals[lo : lo + CHUNK]
        _, cand = tree.query(p, k=k, workers=-1)
        cand = np.asarray(cand, dtype=np.int64).reshape(len(p), k)
        tris = src.vertices[src.faces[cand]]  # (n, k, 3, 3)
        w = closest_barycentric(tris.reshape(-1, 3, 3), np.repeat(p, k, axis=0)).reshape(-1, k, 3)
        nearest = np.einsum("nkj,nkjd->nkd", w, tris)
        d2 = np.sum((nearest - p[:, None, :]) ** 2, axis=2)
        facing = np.einsum("nkd,nd->nk", src.face_normals[cand], n) > 0
        best = np.argmin(np.where(facing, d2, d2 + 1e30), axis=1)
        rows = np.arange(len(p))
        face[lo : lo + CHUNK] = cand[rows, best]
        bary[lo : lo + CHUNK] = w[rows, best]
        dist[lo : lo + CHUNK] = np.sqrt(d2[rows, best])
    return face, bary, dist


def closest_barycentric(tris: FloatArray, p: FloatArray) -> FloatArray:
    """Barycentric weights (n, 3) of the closest point of each triangle to each point
    (Ericson, Real-Time Collision Detection 5.1.5, all regions at once)."""
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


def vertex_tangents(
    vertices: FloatArray, faces: IntArray, uv: FloatArray, normals: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-vertex tangents (along +u, orthogonal to the normal) and per-face handedness (+1 where
    ``cross(normal, tangent)`` points up the image, towards -v)."""
    p = vertices[faces]
    t = uv[faces]
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    du1, dv1 = t[:, 1, 0] - t[:, 0, 0], t[:, 1, 1] - t[:, 0, 1]
    du2, dv2 = t[:, 2, 0] - t[:, 0, 0], t[:, 2, 1] - t[:, 0, 1]
    det = du1 * dv2 - du2 * dv1
    r = np.divide(1.0, det, out=np.zeros_like(det), where=np.abs(det) > 1e-20)
    tangent = (e1 * dv2[:, None] - e2 * dv1[:, None]) * r[:, None]  # dP/du
    up = -(e2 * du1[:, None] - e1 * du2[:, None]) * r[:, None]  # -dP/dv: up in the image
    face_normal = np.cross(e1, e2)
    sign = np.where(np.einsum("ij,ij->i", np.cross(face_normal, tangent), up) < 0, -1.0, 1.0)
    sums = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(sums, faces[:, k], tangent)
    sums -= normals * np.einsum("ij,ij->i", sums, normals)[:, None]
    return _unit(sums), sign


def _smooth_normals(mesh: Mesh) -> FloatArray:
    if mesh.normals is not None:
        return _unit(mesh.normals)
    from meshforge.geometry import vertex_normals

    return vertex_normals(mesh.vertices, mesh.faces, join_positions=True)


def _prepare_source(source: Asset) -> Source:
    colors_meta = source.metadata.get("vertex_colors")
    verts, faces, uvs, normals, colors, mats, has_uv = [], [], [], [], [], [], []
    offset = 0
    for i, mesh in enumerate(source.meshes):
        n = len(mesh.vertices)
        verts.append(mesh.vertices)
        faces.append(mesh.faces + offset)
        uvs.append(mesh.uv if mesh.uv is not None else np.zeros((n, 2)))
        normals.append(_smooth_normals(mesh) if len(mesh.faces) else np.zeros((n, 3)))
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


def _fill(
    texel: IntArray, values: NDArray[np.uint8], size: int, dilate: int, background: tuple[int, ...]
) -> NDArray[np.uint8]:
    """A ``size x size`` map of ``values`` at ``texel``, extended ``dilate`` texels past the
    charts by copying the nearest chart texel; farther texels get ``background``."""
    channels = values.shape[1]
    image = np.empty((size * size, channels), dtype=np.uint8)
    image[:] = np.asarray(background[:channels], dtype=np.uint8)
    image[texel] = values
    if dilate and len(texel):
        from scipy.ndimage import distance_transform_edt

        empty = np.ones(size * size, dtype=bool)
        empty[texel] = False
        dist, (rows, cols) = distance_transform_edt(empty.reshape(size, size), return_indices=True)
        near = np.flatnonzero(empty & (dist.reshape(-1) <= dilate))
        image[near] = image[(rows.reshape(-1) * size + cols.reshape(-1))[near]]
    return image.reshape(size, size, channels)


def _texture_count(materials: list[Material]) -> int:
    return sum(len(_present_maps(m)) for m in materials)


def _unit(v: FloatArray) -> FloatArray:
    length = np.linalg.norm(v, axis=1, keepdims=True)
    unit: FloatArray = np.divide(v, length, out=np.zeros_like(v), where=length > 0)
    return unit
