"""The checks a profile runs, one module per theme, and the registry that runs them.

    base.py        CheckResult, TextureInfo, MaterialInfo, MapKind
    geometry.py    watertight, manifold, winding, degenerate faces (and mesh_facts, edge_facts)
    uv.py          uv_present, uv_range
    textures.py    texture_power_of_two, texture_max_size, texture_min_size
    materials.py   pbr_maps, materials
    budgets.py     triangles, vertices, file_size, file_format
    placement.py   real_size, pivot, up_axis
    gltf_facts.py  the materials and textures as a glTF file stores them
    registry.py    every check by id, in report order (run_checks)

Each check is a plain function that returns one CheckResult and never raises on a bad asset.
Every public name is importable from here: ``from meshforge.validate.checks import mesh_facts``.
"""

from __future__ import annotations

from meshforge.validate.checks.base import (
    MAP_KINDS,
    CheckResult,
    MapKind,
    MaterialInfo,
    Severity,
    TextureInfo,
    verdict,
)
from meshforge.validate.checks.budgets import (
    check_file_format,
    check_file_size,
    check_triangles,
    check_vertices,
)
from meshforge.validate.checks.geometry import (
    check_degenerate_faces,
    check_manifold,
    check_watertight,
    check_winding,
    edge_facts,
    mesh_facts,
    opposed_pairs,
)
from meshforge.validate.checks.gltf_facts import gltf_materials, gltf_textures, read_gltf
from meshforge.validate.checks.materials import (
    asset_materials,
    check_material_count,
    check_pbr_maps,
    material_maps,
)
from meshforge.validate.checks.placement import check_pivot, check_real_size, check_up_axis
from meshforge.validate.checks.registry import CHECKS, Check, Subject, run_checks
from meshforge.validate.checks.textures import (
    asset_textures,
    check_texture_max_size,
    check_texture_min_size,
    check_texture_power_of_two,
)
from meshforge.validate.checks.uv import UV_TOLERANCE, check_uv_present, check_uv_range

__all__ = [
    "CHECKS",
    "MAP_KINDS",
    "UV_TOLERANCE",
    "Check",
    "CheckResult",
    "MapKind",
    "MaterialInfo",
    "Severity",
    "Subject",
    "TextureInfo",
    "asset_materials",
    "asset_textures",
    "check_degenerate_faces",
    "check_file_format",
    "check_file_size",
    "check_manifold",
    "check_material_count",
    "check_pbr_maps",
    "check_pivot",
    "check_real_size",
    "check_texture_max_size",
    "check_texture_min_size",
    "check_texture_power_of_two",
    "check_triangles",
    "check_up_axis",
    "check_uv_present",
    "check_uv_range",
    "check_vertices",
    "check_watertight",
    "check_winding",
    "edge_facts",
    "gltf_materials",
    "gltf_textures",
    "material_maps",
    "mesh_facts",
    "opposed_pairs",
    "read_gltf",
    "run_checks",
    "verdict",
]
