"""``unwrap``: a fresh UV atlas with xatlas (PyPI ``xatlas``), ready for :func:`bake`.

Meshes that share a material share one atlas (they will share one baked texture, so their charts
must not overlap); a mesh with its own material gets its own. xatlas cuts the surface into charts,
flattens them and packs them with ``padding`` texels between charts at about ``resolution``
texels on a side; the UVs are normalised to [0, 1] in glTF's v-down convention. Vertices are split
along the new seams only: every face keeps its corners' positions (and normals).

Textures mapped through the old UVs no longer fit, so they are dropped with a warning: bake them
onto the new atlas from the asset as it was before, ``asset.transform(decimate(...), unwrap(),
bake(source=original))``. Factors (base colour, metallic, roughness) are kept.

With ``keep_existing`` (the default) a material whose meshes already have a usable layout (inside
[0, 1], at most ``max_overlap`` of the UV area overlapping: ``uv_layout.py``) keeps its UVs and
its textures: an artist's or a scanner's atlas, carried through ``decimate``, holds the texture at
its full resolution, which no re-bake into a fresh atlas matches. ``bake`` then adds only the
maps the material lacks. Charts that lie whole in another UV tile are first moved into [0, 1] by
whole tiles (lossless: textures repeat), so an atlas exported one tile off is kept.

What "usable" means depends on what is baked into the layout afterwards. A normal or ORM map
baked into overlapping (mirrored) charts mixes the two places, and no map can be baked into a
tiled layout; but a chain that bakes nothing into a material with a base-colour texture (display
profiles requiring only the base colour) can keep its layout as it is: ``keep_overlapping`` keeps
such a material's overlapping charts, ``keep_tiled`` its tiling (UVs outside [0, 1], for targets
that accept repeating textures). A material without a base-colour texture is baked into, so its
layout must be usable either way.

With ``merge_materials``, an asset whose meshes use several materials gets one atlas over all of
them and one material (the first's settings; BLEND or MASK if any was, double-sided if any
was), for platforms that take one material (Shopify); ``bake`` then fills it from every source
material, roughness and metallic included through the ORM map.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from pydantic import Field

from meshforge.asset import Asset, Material, Mesh
from meshforge.errors import DependencyError, TransformError
from meshforge.recipe import Options
from meshforge.transforms.base import Context, Transform
from meshforge.transforms.uv_layout import layout_facts, move_charts_into_unit_tile


class UnwrapOptions(Options):
    resolution: int = Field(
        default=1024,
        ge=64,
        le=16384,
        description="Texture side the charts are packed for, in texels; bake at the same size.",
    )
    padding: int = Field(
        default=4,
        ge=0,
        le=64,
        description="Texels between charts, so mip-maps and bilinear filtering stay in a chart.",
    )
    keep_existing: bool = Field(
        default=True,
        description="Keep a material's UVs and textures when its layout is already usable "
        "(inside [0, 1], overlaps within max_overlap); False always makes a fresh atlas.",
    )
    max_overlap: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="Fraction of the UV area that may overlap (mirrored or stacked charts) "
        "for a layout to be kept; baking into overlapping charts mixes their surfaces.",
    )
    keep_overlapping: bool = Field(
        default=False,
        description="With keep_existing, also keep overlapping charts (mirrored halves) of a "
        "material that has a base-colour texture: for chains whose bake adds no map to such a "
        "material (normal_map and ao off).",
    )
    keep_tiled: bool = Field(
        default=False,
        description="With keep_existing, also keep a tiling layout (UVs outside [0, 1] after "
        "whole-tile moves) of a material that has a base-colour texture: for targets that "
        "repeat textures, in chains whose bake adds no map to such a material.",
    )
    merge_materials: bool = Field(
        default=False,
        description="Give all meshes one atlas and one material (for one-material platforms); "
        "bake then fills it from every source material.",
    )


def unwrap(
    resolution: int = 1024,
    padding: int = 4,
    keep_existing: bool = True,
    max_overlap: float = 0.01,
    merge_materials: bool = False,
    keep_overlapping: bool = False,
    keep_tiled: bool = False,
) -> Transform:
    options = UnwrapOptions(
        resolution=resolution,
        padding=padding,
        keep_existing=keep_existing,
        max_overlap=max_overlap,
        merge_materials=merge_materials,
        keep_overlapping=keep_overlapping,
        keep_tiled=keep_tiled,
    )
    return Transform(
        name="unwrap", function=lambda a, c: unwrap_asset(a, c, options), options=options
    )


def unwrap_asset(asset: Asset, ctx: Context, options: UnwrapOptions) -> Asset:
    used = sorted({m.material for m in asset.meshes if len(m.faces)})
    if options.merge_materials and len(used) > 1:
        return _merged(asset, ctx, options, used)
    groups: dict[int, list[int]] = {}
    for i, mesh in enumerate(asset.meshes):
        if len(mesh.faces):
            groups.setdefault(mesh.material, []).append(i)
    meshes = list(asset.meshes)
    materials = list(asset.materials)
    atlases: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    per_mesh: list[dict[str, Any]] = []
    dropped = 0
    for step, (material, members) in enumerate(sorted(groups.items())):
        group = [asset.meshes[i] for i in members]
        if options.keep_existing:
            own = materials[material] if material < len(materials) else None
            moved, keep, reason = _existing(group, own, options)
            if keep is not None:
                for i, mesh in zip(members, moved, strict=True):
                    meshes[i] = mesh
                kept.append({"material": material, **keep})
                continue
        else:
            reason = "keep_existing is off"
        ctx.progress(step / len(groups), f"unwrapping material {material}")
        new_meshes, atlas = unwrap_meshes(group, options)
        mesh_charts = atlas.pop("mesh_charts")
        atlases.append({"material": material, "reason": reason, **atlas})
        for i, new, charts in zip(members, new_meshes, mesh_charts, strict=True):
            old = asset.meshes[i]
            per_mesh.append(
                {
                    "mesh": old.name,
                    "charts": charts,
                    "vertices": [len(old.vertices), len(new.vertices)],
                }
            )
            meshes[i] = new
        if material < len(materials):
            dropped += _texture_count(materials[material])
            materials[material] = _without_textures(materials[material])
    ctx.progress(1.0, "unwrapped")
    _report_dropped(ctx, dropped, "were mapped through the old UVs")
    ctx.report.note("charts", sum(a["charts"] for a in atlases))
    ctx.report.note("atlases", atlases)
    if kept:
        ctx.report.note("kept", kept)
    ctx.report.note("meshes", per_mesh)
    return dataclasses.replace(asset, meshes=meshes, materials=materials)


def _existing(
    group: list[Mesh], material: Material | None, options: UnwrapOptions
) -> tuple[list[Mesh], dict[str, Any] | None, str]:
    """The group with whole charts moved into the unit tile, what keeping it records (None: it
    is not kept) and, when not kept, why."""
    pairs = [move_charts_into_unit_tile(mesh) for mesh in group]
    moved = [mesh for mesh, _ in pairs]
    count = sum(n for _, n in pairs)
    textured = material is not None and material.base_color_texture is not None
    as_is = textured and options.keep_overlapping
    facts = layout_facts(moved, measure_overlap=not as_is)
    keep: dict[str, Any] | None = None
    if facts.inside and (as_is or facts.usable(options.max_overlap)):
        overlap = facts.overlap
        keep = {"overlap": None if overlap is None else round(overlap, 4)}
    elif facts.has_uv and not facts.inside and textured and options.keep_tiled:
        keep = {"tiled": True}
    if keep is not None and count:
        keep["moved_charts"] = count
    return moved, keep, facts.reason(options.max_overlap)


def _merged(asset: Asset, ctx: Context, options: UnwrapOptions, used: list[int]) -> Asset:
    """One atlas and one material for every mesh (``merge_materials``)."""
    members = [i for i, m in enumerate(asset.meshes) if len(m.faces)]
    ctx.progress(0.0, f"unwrapping {len(members)} meshes into one atlas")
    new_meshes, atlas = unwrap_meshes([asset.meshes[i] for i in members], options)
    atlas.pop("mesh_charts")
    sources = [asset.materials[i] for i in used if i < len(asset.materials)]
    modes = {m.alpha_mode for m in sources}
    merged = dataclasses.replace(
        _without_textures(sources[0] if sources else Material()),
        name="merged",
        alpha_mode="BLEND" if "BLEND" in modes else "MASK" if "MASK" in modes else "OPAQUE",
        double_sided=any(m.double_sided for m in sources),
    )
    meshes = [dataclasses.replace(m, material=0) for m in asset.meshes]
    for i, new in zip(members, new_meshes, strict=True):
        meshes[i] = dataclasses.replace(new, material=0)
    dropped = sum(_texture_count(m) for m in sources)
    ctx.progress(1.0, "unwrapped")
    ctx.report.change("materials", len(asset.materials), 1)
    _report_dropped(ctx, dropped, f"belonged to the {len(used)} materials merged into one")
    ctx.report.note("charts", atlas["charts"])
    ctx.report.note(
        "atlases", [{"material": 0, "reason": f"{len(used)} materials merged", **atlas}]
    )
    return dataclasses.replace(asset, meshes=meshes, materials=[merged])


def _report_dropped(ctx: Context, dropped: int, why: str) -> None:
    if dropped:
        ctx.report.change("textures", dropped, 0)
        ctx.warn(
            "textures-dropped",
            f"{dropped} texture(s) {why} and no longer fit; bake them onto the new atlas "
            "with bake(source=<the asset before unwrap>)",
        )


def unwrap_meshes(meshes: list[Mesh], options: UnwrapOptions) -> tuple[list[Mesh], dict[str, Any]]:
    """The meshes with UVs from one shared atlas, and the atlas's facts (size, charts, use)."""
    try:
        import xatlas
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise DependencyError(
            "the UV atlas backend is not installed", stage="unwrap", hint="pip install xatlas"
        ) from exc
    atlas = xatlas.Atlas()
    for mesh in meshes:
        atlas.add_mesh(
            np.ascontiguousarray(mesh.vertices, dtype=np.float32),
            np.ascontiguousarray(mesh.faces, dtype=np.uint32),
        )
    pack = xatlas.PackOptions()
    pack.resolution = options.resolution
    pack.padding = options.padding
    pack.bilinear = True
    atlas.generate(xatlas.ChartOptions(), pack)
    if atlas.atlas_count != 1:
        raise TransformError(
            f"xatlas packed the charts into {atlas.atlas_count} atlases, not one",
            stage="unwrap",
            hint="Raise resolution, or decimate first so the charts fit one texture.",
        )
    out: list[Mesh] = []
    for i, mesh in enumerate(meshes):
        mapping, indices, uv = atlas[i]
        keep = np.asarray(mapping, dtype=np.int64)
        normals = None if mesh.normals is None else mesh.normals[keep]
        out.append(
            dataclasses.replace(
                mesh,
                vertices=mesh.vertices[keep],
                faces=np.asarray(indices, dtype=np.int64),
                uv=np.asarray(uv, dtype=np.float64),
                normals=normals,
            )
        )
    facts = {
        "charts": int(atlas.chart_count),
        "size": [int(atlas.width), int(atlas.height)],
        "utilization": round(float(atlas.get_utilization(0)), 4),
        "mesh_charts": [int(atlas.get_mesh_chart_count(i)) for i in range(len(meshes))],
    }
    return out, facts


def _texture_count(material: Material) -> int:
    maps = (
        material.base_color_texture,
        material.normal_texture,
        material.occlusion_roughness_metallic_texture,
    )
    return sum(t is not None for t in maps)


def _without_textures(material: Material) -> Material:
    return dataclasses.replace(
        material,
        base_color_texture=None,
        normal_texture=None,
        occlusion_roughness_metallic_texture=None,
    )
