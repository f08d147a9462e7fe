"""``unwrap``: a fresh UV atlas with xatlas (PyPI ``xatlas``), ready for :func:`bake`.

Meshes that share a material share one atlas (they will share one baked texture, so their charts
must not overlap); a mesh with its own material gets its own. xatlas cuts the surface into charts,
flattens them and packs them with ``padding`` texels between charts at about ``resolution``
texels on a side; the UVs are normalised to [0, 1] in glTF's v-down convention. Vertices are split
along the new seams only: every face keeps its corners' positions (and normals).

Textures mapped through the old UVs no longer fit, so they are dropped with a warning: bake them
onto the new atlas from the asset as it was before, ``asset.transform(decimate(...), unwrap(),
bake(source=original))``. Factors (base colour, metallic, roughness) are kept.
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


def unwrap(resolution: int = 1024, padding: int = 4) -> Transform:
    options = UnwrapOptions(resolution=resolution, padding=padding)
    return Transform(
        name="unwrap", function=lambda a, c: unwrap_asset(a, c, options), options=options
    )


def unwrap_asset(asset: Asset, ctx: Context, options: UnwrapOptions) -> Asset:
    groups: dict[int, list[int]] = {}
    for i, mesh in enumerate(asset.meshes):
        if len(mesh.faces):
            groups.setdefault(mesh.material, []).append(i)
    meshes = list(asset.meshes)
    atlases: list[dict[str, Any]] = []
    per_mesh: list[dict[str, Any]] = []
    for step, (material, members) in enumerate(sorted(groups.items())):
        ctx.progress(step / len(groups), f"unwrapping material {material}")
        new_meshes, facts = unwrap_meshes([asset.meshes[i] for i in members], options)
        mesh_charts = facts.pop("mesh_charts")
        atlases.append({"material": material, **facts})
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
    ctx.progress(1.0, "unwrapped")
    materials = [_without_textures(m) for m in asset.materials]
    dropped = sum(_texture_count(m) for m in asset.materials)
    if dropped:
        ctx.report.change("textures", dropped, 0)
        ctx.warn(
            "textures-dropped",
            f"{dropped} texture(s) were mapped through the old UVs and no longer fit; "
            "bake them onto the new atlas with bake(source=<the asset before unwrap>)",
        )
    ctx.report.note("charts", sum(a["charts"] for a in atlases))
    ctx.report.note("atlases", atlases)
    ctx.report.note("meshes", per_mesh)
    return dataclasses.replace(asset, meshes=meshes, materials=materials)


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
