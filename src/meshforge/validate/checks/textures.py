"""Texture checks: power-of-two sides, and the largest and smallest side a target accepts."""

from __future__ import annotations

from meshforge.asset import Asset, Texture
from meshforge.validate.checks.base import CheckResult, MapKind, TextureInfo, verdict
from meshforge.validate.checks.materials import material_maps


def asset_textures(asset: Asset) -> list[TextureInfo]:
    """The asset's textures, each once, with the maps that use it."""
    found: dict[int, tuple[Texture, list[MapKind]]] = {}
    for material in asset.materials:
        for kind, texture in material_maps(material):
            found.setdefault(id(texture), (texture, []))[1].append(kind)
    return [
        TextureInfo(t.name, t.size[0], t.size[1], tuple(dict.fromkeys(kinds)))
        for t, kinds in found.values()
    ]


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _describe(textures: list[TextureInfo]) -> list[str]:
    return [f"{t.name} {t.width}x{t.height}" for t in textures]


def check_texture_power_of_two(textures: list[TextureInfo]) -> CheckResult:
    """Power-of-two sides: needed for mipmaps on older GPUs and by several marketplaces."""
    bad = [t for t in textures if not (_is_power_of_two(t.width) and _is_power_of_two(t.height))]
    return verdict(
        "texture_power_of_two",
        not bad,
        _describe(bad),
        "power of two",
        f"all {len(textures)} textures have power-of-two sides",
        f"{len(bad)} textures are not power-of-two ({', '.join(_describe(bad)[:5])}); "
        "re-bake at a power of two, e.g. bake(size=2048)",
    )


def check_texture_max_size(textures: list[TextureInfo], max_size: int) -> CheckResult:
    """No texture side above the budget: large maps cost memory and download time."""
    largest = max((max(t.width, t.height) for t in textures), default=0)
    bad = [t for t in textures if max(t.width, t.height) > max_size]
    return verdict(
        "texture_max_size",
        not bad,
        largest,
        max_size,
        f"largest texture side {largest} px",
        f"{len(bad)} textures exceed {max_size} px ({', '.join(_describe(bad)[:5])}); "
        f"re-bake at bake(size={max_size}) or smaller",
    )


def check_texture_min_size(textures: list[TextureInfo], min_size: int) -> CheckResult:
    """No texture side below the minimum a marketplace asks for (blurry close-ups)."""
    smallest = min((min(t.width, t.height) for t in textures), default=0)
    bad = [t for t in textures if min(t.width, t.height) < min_size]
    return verdict(
        "texture_min_size",
        not bad,
        smallest,
        min_size,
        f"smallest texture side {smallest} px",
        f"{len(bad)} textures are below {min_size} px ({', '.join(_describe(bad)[:5])}); "
        f"re-bake at bake(size={min_size})",
    )
