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
scipy alone: no ray tracer is needed. Target faces that are source faces (same three corner
positions: ``decimate`` leaves many, ``unwrap`` moves none) need no search at all: their texels'
source points are their own (``same_source_faces``), which makes a bake after an unwrap without
decimation exact and about twice as fast.

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
map and ambient occlusion after ``decimate`` on an asset that had only a base colour texture. An
ORM map is baked where ``ao`` asks for occlusion, or, to carry the source's roughness and
metallic texture, into a material left without textures (a fresh atlas); a material that kept
its textures keeps its own factors. Nothing to bake costs nothing: the source is only prepared
when a map is projected. A layout with UVs outside [0, 1] (kept by ``unwrap(keep_tiled=True)``)
cannot be filled there: baking into it warns (``uv-outside``).

A source that looks the same everywhere (no texture, no vertex colours, one set of factors: a
geometry-only scan) gives the same maps without projecting a texel (``bake_uniform``).

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
from meshforge.render.shading import linear_to_srgb
from meshforge.transforms.bake_source import (
    Source,
    bilinear,
    on_same_faces,
    prepare_source,
    project,
    same_source_faces,
    sample_colour,
    sample_roughness_metallic,
    smooth_normals,
    unit,
)
from meshforge.transforms.base import Context, Transform

AO_TEXELS = 512  # side of the raster AO is computed on (then upsampled): it varies slowly
AO_MAP_SIZE = 256  # side of each depth map
# What a map holds outside every chart (past the dilation).
BACKGROUND: dict[str, tuple[int, ...]] = {
    "base_color": (0, 0, 0, 255),
    "normal": (128, 128, 255),
    "orm": (255, 255, 0),
}


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


def bake_asset(asset: Asset, ctx: Context, source: Asset, options: BakeOptions) -> Asset:
    from scipy.spatial import cKDTree

    if not source.face_count:
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
    source_orm = any(m.occlusion_roughness_metallic_texture for m in source.materials)
    wanted = {index: _wanted_maps(materials[index], options, source_orm) for index in groups}
    for index, meshes in groups.items():
        outside = _faces_outside_unit_tile(meshes) if wanted[index] else 0
        if outside:
            ctx.warn(
                "uv-outside",
                f"{outside} face(s) of material {index} ({materials[index].name}) have UVs "
                "outside [0, 1] (a tiling layout): the parts outside are not baked; run unwrap "
                "without keep_tiled for a layout the bake can fill",
            )
    # A source that shows one colour everywhere (no texture, no vertex colours, one set of
    # factors: a geometry-only scan) bakes to constant maps, with no projection at all.
    uniform = _uniform_look(source)
    flat = {"base_color"} | (set() if options.ao else {"orm"})
    constant = {i: uniform is not None and wanted[i] <= flat for i in groups}
    projected = [i for i in groups if wanted[i] and not constant[i]]
    # Preparing the source and the nearest-point search over it are the costly set-up: only
    # when a map is projected (keep_existing often leaves nothing to bake).
    src = prepare_source(source) if projected else None
    tree = cKDTree(src.vertices[src.faces].mean(axis=1)) if src is not None else None
    occluders = None
    if options.ao and any("orm" in wanted[i] for i in projected):
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
        if uniform is not None and constant[index]:
            maps, facts = bake_uniform(meshes, uniform, options, wanted[index])
        else:
            assert src is not None  # prepared whenever a map is projected
            maps, facts = bake_group(meshes, src, tree, options, wanted[index], occluders)
        materials[index] = _with_maps(old, maps)
        baked.append({"material": index, "maps": sorted(maps), "kept": kept, **facts})
    ctx.progress(1.0, "baked")
    ctx.report.change("textures", _texture_count(asset.materials), _texture_count(materials))
    ctx.report.note("source", {"faces": source.face_count, "vertices": source.vertex_count})
    ctx.report.note("baked", baked)
    return dataclasses.replace(asset, materials=materials)


def _uniform_look(source: Asset) -> dict[str, NDArray[np.uint8]] | None:
    """The base-colour (sRGB RGBA) and ORM (no occlusion) texel the whole source shows, when it
    shows one: no vertex colours, and every material its faces use has no texture and the same
    factors. None otherwise."""
    colors = source.metadata.get("vertex_colors")
    if isinstance(colors, list | tuple) and any(c is not None for c in colors):
        return None
    used = {m.material for m in source.meshes if len(m.faces)}
    if not used or max(used) >= len(source.materials):
        return None
    materials = [source.materials[i] for i in sorted(used)]
    if any(_present_maps(m) for m in materials):
        return None
    looks = {(m.base_color_factor, m.roughness_factor, m.metallic_factor) for m in materials}
    if len(looks) != 1:
        return None
    ((factor, roughness, metallic),) = looks
    linear = np.clip(np.asarray(factor, dtype=np.float64), 0.0, 1.0)
    colour = np.append(linear_to_srgb(linear[None, :3])[0], linear[3])
    return {
        "base_color": np.asarray(np.rint(colour * 255), dtype=np.uint8),
        "orm": np.asarray(np.rint(np.array([1.0, roughness, metallic]) * 255), dtype=np.uint8),
    }


def bake_uniform(
    meshes: list[Mesh],
    uniform: dict[str, NDArray[np.uint8]],
    options: BakeOptions,
    wanted: set[str],
) -> tuple[dict[str, NDArray[np.uint8]], dict[str, Any]]:
    """The ``wanted`` maps of a source that shows ``uniform`` everywhere: the same maps as
    :func:`bake_group` (its texel in every chart texel, dilated, background beyond) with no
    projection."""
    size = options.size
    uv = np.concatenate([m.uv for m in meshes if m.uv is not None])
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
    faces = np.concatenate([m.faces + o for m, o in zip(meshes, offsets, strict=False)])
    texel, _, _ = rasterise_uv(uv, faces, size)
    maps = {
        name: _fill(texel, np.tile(uniform[name], (len(texel), 1)), size, options.dilate, back)
        for name, back in BACKGROUND.items()
        if name in wanted
    }
    return maps, {"size": [size, size], "coverage": round(len(texel) / size**2, 4), "uniform": True}


def _present_maps(material: Material) -> set[str]:
    present = {
        "base_color": material.base_color_texture,
        "normal": material.normal_texture,
        "orm": material.occlusion_roughness_metallic_texture,
    }
    return {name for name, texture in present.items() if texture is not None}


def _wanted_maps(material: Material, options: BakeOptions, source_orm: bool) -> set[str]:
    """The maps to bake for one target material: ORM for occlusion, or to carry the source's
    roughness and metallic texture onto a material without textures of its own (a fresh atlas).
    A material that kept its textures is the source's own material, so its roughness and
    metallic are its factors (and its ORM texture, if it has one) already."""
    wanted = {"base_color"}
    if options.normal_map:
        wanted.add("normal")
    if options.ao or (source_orm and not _present_maps(material)):
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
    normals = np.concatenate([smooth_normals(m) for m in meshes])
    texel, tri, bary = rasterise_uv(uv, faces, size)
    points = np.einsum("ij,ijk->ik", bary, vertices[faces[tri]])
    normal = unit(np.einsum("ij,ijk->ik", bary, normals[faces[tri]]))
    match, turn = same_source_faces(vertices, faces, src)
    hit_face, hit_bary, distance = on_same_faces(tri, bary, match, turn)
    rest = np.flatnonzero(hit_face < 0)
    if len(rest):
        hit_face[rest], hit_bary[rest], distance[rest] = project(
            points[rest], normal[rest], src, tree
        )
    maps: dict[str, NDArray[np.uint8]] = {}
    if "base_color" in wanted:
        colour = sample_colour(src, hit_face, hit_bary)
        maps["base_color"] = _fill(texel, colour, size, options.dilate, BACKGROUND["base_color"])
    if "normal" in wanted:
        tangents, sign = vertex_tangents(vertices, faces, uv, normals)
        t = np.einsum("ij,ijk->ik", bary, tangents[faces[tri]])
        t = unit(t - normal * np.einsum("ij,ij->i", t, normal)[:, None])
        b = np.cross(normal, t) * sign[tri, None]
        src_normal = unit(np.einsum("ij,ijk->ik", hit_bary, src.normals[src.faces[hit_face]]))
        local = np.column_stack(
            [np.einsum("ij,ij->i", src_normal, axis) for axis in (t, b, normal)]
        )
        encoded = np.clip(np.rint((local * 0.5 + 0.5) * 255), 0, 255).astype(np.uint8)
        maps["normal"] = _fill(texel, encoded, size, options.dilate, BACKGROUND["normal"])
    ao_mean = None
    if "orm" in wanted:
        orm = np.empty((len(texel), 3))
        orm[:, 0] = 1.0
        if occluders is not None:
            orm[:, 0] = ao_texels(vertices, faces, uv, normals, texel, size, occluders)
            ao_mean = round(float(orm[:, 0].mean()), 4) if len(texel) else 1.0
        orm[:, 1:] = sample_roughness_metallic(src, hit_face, hit_bary)
        encoded = np.clip(np.rint(orm * 255), 0, 255).astype(np.uint8)
        maps["orm"] = _fill(texel, encoded, size, options.dilate, BACKGROUND["orm"])
    facts = {
        "size": [size, size],
        "coverage": round(len(texel) / size**2, 4),
        "distance_mean": float(distance.mean()) if len(distance) else 0.0,
        "distance_max": float(distance.max()) if len(distance) else 0.0,
        "same_faces": round(1.0 - len(rest) / len(texel), 4) if len(texel) else 1.0,
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
    normal = unit(np.einsum("ij,ijk->ik", bary, normals[faces[tri]]))
    value = np.rint(occluders.occlusion(points, normal) * 255).astype(np.uint8)[:, None]
    image = _fill(cells, value, small, max(2, small // 32), (255,))
    if small == size:
        return image.reshape(-1)[texel] / 255.0
    centres = np.column_stack([(texel % size) + 0.5, (texel // size) + 0.5]) / size
    return bilinear(image, centres)[:, 0] / 255.0


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
    return unit(sums), sign


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


def _faces_outside_unit_tile(meshes: list[Mesh]) -> int:
    """Faces with a UV corner outside [0, 1] (beyond float noise): a bake fills [0, 1] only."""
    from meshforge.transforms.uv_layout import INSIDE_TOLERANCE

    count = 0
    for mesh in meshes:
        if mesh.uv is None or not len(mesh.faces):
            continue
        out = np.any((mesh.uv < -INSIDE_TOLERANCE) | (mesh.uv > 1 + INSIDE_TOLERANCE), axis=1)
        count += int(np.any(np.asarray(out)[mesh.faces], axis=1).sum())
    return count


def _texture_count(materials: list[Material]) -> int:
    return sum(len(_present_maps(m)) for m in materials)
