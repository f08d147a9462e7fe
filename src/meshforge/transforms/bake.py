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
) -> Transform:
    options = BakeOptions(
        size=size, normal_map=normal_map, ao=ao, ao_directions=ao_directions, dilate=dilate
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
    tree = cKDTree(src.vertices[src.faces].mean(axis=1))
    materials = list(asset.materials)
    groups: dict[int, list[Mesh]] = {}
    for mesh in asset.meshes:
        if len(mesh.faces):
            groups.setdefault(mesh.material, []).append(mesh)
    occluders = None
    if options.ao:
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
        ctx.progress(step / len(groups), f"baking material {index}")
        maps, facts = bake_group(meshes, src, tree, options, occluders)
        old = materials[index]
        orm = maps.get("orm")
        materials[index] = dataclasses.replace(
            old,
            base_color_factor=(1.0, 1.0, 1.0, 1.0),
            base_color_texture=Texture(maps["base_color"], name=f"{old.name}_basecolor"),
            normal_texture=(
                Texture(maps["normal"], name=f"{old.name}_normal") if "normal" in maps else None
            ),
            # glTF multiplies the texture's G (roughness) and B (metallic) by the factors: 1 lets
            # the baked values through unchanged.
            occlusion_roughness_metallic_texture=(
                Texture(orm, name=f"{old.name}_orm") if orm is not None else None
            ),
            metallic_factor=1.0 if orm is not None else old.metallic_factor,
            roughness_factor=1.0 if orm is not None else old.roughness_factor,
        )
        baked.append({"material": index, "maps": sorted(maps), **facts})
    ctx.progress(1.0, "baked")
    ctx.report.change("textures", _texture_count(asset.materials), _texture_count(materials))
    ctx.report.note("source", {"faces": source.face_count, "vertices": source.vertex_count})
    ctx.report.note("baked", baked)
    return dataclasses.replace(asset, materials=materials)


def bake_group(
    meshes: list[Mesh],
    src: Source,
    tree: Any,
    options: BakeOptions,
    occluders: DepthMaps | None = None,
) -> tuple[dict[str, NDArray[np.uint8]], dict[str, Any]]:
    """The maps of the meshes sharing one material, and what the bake found (coverage ...)."""
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
    colour = sample_colour(src, hit_face, hit_bary)
    maps["base_color"] = _fill(texel, colour, size, options.dilate, (0, 0, 0, 255))
    if options.normal_map:
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
    if occluders is not None or any(m.occlusion_roughness_metallic_texture for m in src.materials):
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


def srgb_to_linear(c: FloatArray) -> FloatArray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: FloatArray) -> FloatArray:
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)


AO_BIAS_PIXELS = 1.0  # constant depth bias, in depth-map pixels
AO_BIAS_SLOPE = 1.5  # plus this many pixels times tan(angle to the normal), for quantisation
AO_MIN_COS = 0.05  # caps the slope term at grazing directions (their cosine weight is tiny)
THREADS = 2  # depth maps and look-ups run in two threads: numpy releases the GIL in both


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
        step = CHUNK // 8
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
    from meshforge.transforms.decimate import vertex_normals

    return vertex_normals(mesh.vertices, mesh.faces)


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
    return sum(
        (m.base_color_texture is not None)
        + (m.normal_texture is not None)
        + (m.occlusion_roughness_metallic_texture is not None)
        for m in materials
    )


def _unit(v: FloatArray) -> FloatArray:
    length = np.linalg.norm(v, axis=1, keepdims=True)
    unit: FloatArray = np.divide(v, length, out=np.zeros_like(v), where=length > 0)
    return unit


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
