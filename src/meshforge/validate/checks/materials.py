"""Material checks: the PBR maps each material carries, and how many materials there are."""

from __future__ import annotations

from meshforge.asset import Asset, Material, Texture
from meshforge.validate.checks.base import CheckResult, MapKind, MaterialInfo, verdict


def material_maps(material: Material) -> list[tuple[MapKind, Texture]]:
    """The maps a material has, as (kind, texture) pairs."""
    maps: list[tuple[MapKind, Texture | None]] = [
        ("base_color", material.base_color_texture),
        ("normal", material.normal_texture),
        ("orm", material.occlusion_roughness_metallic_texture),
    ]
    return [(kind, t) for kind, t in maps if t is not None]


def asset_materials(asset: Asset) -> list[MaterialInfo]:
    """The materials the meshes use, with their maps; a map on a mesh without UVs is broken."""
    used = sorted({m.material for m in asset.meshes})
    infos = []
    for index in used:
        if index >= len(asset.materials):
            infos.append(MaterialInfo(f"#{index}", (), (f"mesh material #{index} is missing",)))
            continue
        material = asset.materials[index]
        maps = tuple(kind for kind, _ in material_maps(material))
        no_uv = [m.name for m in asset.meshes if m.material == index and m.uv is None]
        broken = tuple(f"{material.name}: textured but mesh {n} has no UVs" for n in no_uv)
        infos.append(MaterialInfo(material.name, maps, broken if maps else ()))
    return infos


def check_pbr_maps(materials: list[MaterialInfo], required: tuple[MapKind, ...]) -> CheckResult:
    """Every material carries the required maps (as textures: a colour factor alone does not
    count) and every texture reference resolves."""
    missing = {m.name: [k for k in required if k not in m.maps] for m in materials}
    missing = {name: kinds for name, kinds in missing.items() if kinds}
    broken = [b for m in materials for b in m.broken]
    spec_gloss = [m.name for m in materials if m.spec_gloss]
    problems = []
    if missing:
        listed = "; ".join(f"{name} lacks {', '.join(kinds)}" for name, kinds in missing.items())
        problems.append(f"{listed}: run the bake transform to make them")
    if broken:
        problems.append("broken references: " + "; ".join(broken[:5]))
    if spec_gloss:
        problems.append(
            f"{', '.join(spec_gloss)} use specular-glossiness: convert to metallic-roughness"
        )
    return CheckResult(
        "pbr_maps",
        not problems,
        {"missing": missing, "broken": broken, "spec_gloss": spec_gloss},
        list(required),
        "; ".join(problems)
        or f"{len(materials)} metallic-roughness materials, each with "
        f"{', '.join(required) or 'the maps it uses'}",
    )


def check_material_count(materials: list[MaterialInfo], max_materials: int) -> CheckResult:
    """At most N materials: each one is a draw call, and some marketplaces accept only one."""
    count = len(materials)
    return verdict(
        "materials",
        count <= max_materials,
        count,
        max_materials,
        f"{count} materials",
        f"{count} materials, more than {max_materials}; merge them and bake one texture set "
        "(bake transform)",
    )
