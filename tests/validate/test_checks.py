"""Each check on tiny inline assets, with exact ids, measurements and messages."""

from __future__ import annotations

import dataclasses

import numpy as np

from meshes import CUBE_FACES, box_asset
from meshforge.asset import Asset, Material, Mesh, Texture
from meshforge.export.glb import to_glb
from meshforge.validate import checks as c
from meshforge.validate.checks import mesh_facts
from meshforge.validate.profiles import load_profile
from meshforge.validate.report import SCHEMA, validate_asset


def standing_box(textured: bool = True) -> Asset:
    """A 0.2 m textured cube standing on y = 0, centred: what the web profile wants."""
    return box_asset(0.2, 0.2, 0.2, offset=(0.0, 0.1, 0.0), textured=textured)


def with_hole(asset: Asset) -> Asset:
    mesh = asset.meshes[0]
    return dataclasses.replace(asset, meshes=[dataclasses.replace(mesh, faces=mesh.faces[1:])])


def test_closed_textured_cube_passes_web() -> None:
    report = validate_asset(standing_box(), load_profile("web"))
    assert report.passed, report.summary()
    assert {r.status for r in report.results} == {"PASS"}
    assert report.to_dict()["schema"] == SCHEMA


def test_a_hole_fails_watertight_with_what_to_do() -> None:
    result = c.check_watertight(with_hole(standing_box()))
    assert (result.id, result.passed, result.measured, result.limit) == ("watertight", False, 3, 0)
    assert result.message == (
        "3 boundary edges: the mesh has holes; run the repair transform to close them"
    )
    # Printing needs a closed solid; a viewer does not, so the display profiles only warn.
    report = validate_asset(with_hole(standing_box()), load_profile("print"))
    assert "watertight" in [r.id for r in report.failures]
    assert not report.passed
    web = validate_asset(with_hole(standing_box()), load_profile("web"))
    assert web.passed
    assert [r.id for r in web.results if not r.passed] == ["watertight"]
    assert next(r for r in web.results if r.id == "watertight").severity == "warning"


def test_manifold_winding_and_degenerate_faces() -> None:
    box = standing_box()
    assert c.check_manifold(box).passed and c.check_winding(box).passed
    mesh = box.meshes[0]
    flipped = dataclasses.replace(
        box, meshes=[dataclasses.replace(mesh, faces=mesh.faces[:, ::-1])]
    )
    inverted = c.check_winding(flipped)
    assert (inverted.passed, inverted.measured) == (False, "inverted")
    one_flipped = mesh.faces.copy()
    one_flipped[0] = one_flipped[0, ::-1]
    mixed = dataclasses.replace(box, meshes=[dataclasses.replace(mesh, faces=one_flipped)])
    assert c.check_winding(mixed).measured is False
    # Face 0-1-6 puts a third face on the edges 0-1 and 6-0; the degenerate face 2-2-3 runs
    # along the edge 2-3 twice: three non-manifold edges and one degenerate face.
    extra = np.vstack([mesh.faces, [[0, 1, 6], [2, 2, 3]]])
    bad = dataclasses.replace(box, meshes=[dataclasses.replace(mesh, faces=extra)])
    assert c.check_manifold(bad).measured == 3
    assert c.check_degenerate_faces(bad).measured == 1
    assert c.check_degenerate_faces(box).measured == 0
    # Edges with three faces are the manifold check's concern; every edge that exactly two
    # faces share is still used in opposite directions, so winding holds.
    assert c.check_winding(bad).passed
    assert c.opposed_pairs(extra[:-1]) and not c.opposed_pairs(one_flipped)


def test_uvs_outside_unit_square_fail() -> None:
    box = standing_box()
    mesh = box.meshes[0]
    assert mesh.uv is not None
    uv = mesh.uv.copy()
    uv[0] = (1.5, -0.25)
    result = c.check_uv_range(dataclasses.replace(box, meshes=[dataclasses.replace(mesh, uv=uv)]))
    assert (result.id, result.passed) == ("uv_range", False)
    assert result.measured == {"outside": 1, "min": -0.25, "max": 1.5}
    assert "run the unwrap transform" in result.message
    missing = c.check_uv_present(standing_box(textured=False))
    assert (missing.passed, missing.measured) == (False, ["mesh"])


def test_a_3000_px_texture_fails_power_of_two_and_max_size() -> None:
    box = standing_box()
    box.materials[0].base_color_texture = Texture(np.zeros((3000, 3000, 3), np.uint8), "albedo")
    textures = c.asset_textures(box)
    assert textures == [c.TextureInfo("albedo", 3000, 3000, ("base_color",))]
    pot = c.check_texture_power_of_two(textures)
    assert (pot.id, pot.passed, pot.measured) == (
        "texture_power_of_two",
        False,
        ["albedo 3000x3000"],
    )
    largest = c.check_texture_max_size(textures, 2048)
    assert (largest.id, largest.passed, largest.measured, largest.limit) == (
        "texture_max_size",
        False,
        3000,
        2048,
    )
    assert "bake(size=2048)" in largest.message
    report = validate_asset(box, load_profile("web"))
    assert {r.id for r in report.failures} == {"texture_power_of_two", "texture_max_size"}


def test_budgets_triangles_vertices_materials_file_size() -> None:
    box = standing_box()
    tri = c.check_triangles(box, 10)
    assert (tri.passed, tri.measured, tri.limit) == (False, 12, 10)
    assert tri.message == "12 triangles, more than 10; run decimate(target_faces=10)"
    assert c.check_triangles(box, 12).passed
    assert c.check_vertices(box, 8).passed and not c.check_vertices(box, 7).passed
    two = c.asset_materials(box) * 2
    assert not c.check_material_count(two, 1).passed
    size = c.check_file_size(15_000_001, 15)
    assert (size.passed, size.measured) == (False, 15.0)
    assert c.check_file_size(15_000_000, 15).passed


def test_pbr_maps_from_the_asset_and_from_a_glb() -> None:
    box = standing_box()
    missing = c.check_pbr_maps(c.asset_materials(box), ("base_color", "normal", "orm"))
    assert not missing.passed
    assert missing.measured["missing"] == {"box": ["normal", "orm"]}
    box.materials[0].normal_texture = Texture(np.zeros((4, 4, 3), np.uint8), "normal")
    box.materials[0].occlusion_roughness_metallic_texture = Texture(
        np.zeros((4, 4, 3), np.uint8), "orm"
    )
    assert c.check_pbr_maps(c.asset_materials(box), ("base_color", "normal", "orm")).passed
    gltf = _glb_json(box)
    assert c.gltf_materials(gltf) == [c.MaterialInfo("box", ("base_color", "normal", "orm"))]
    gltf["materials"][0]["normalTexture"]["index"] = 9
    broken = c.check_pbr_maps(c.gltf_materials(gltf), ("base_color", "normal", "orm"))
    assert broken.measured["broken"] == ["box.normalTexture -> texture 9 does not exist"]
    assert broken.measured["missing"] == {"box": ["normal"]}


def _glb_json(asset: Asset) -> dict:
    import json
    import struct

    data = to_glb(asset)
    length = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20 : 20 + length])


def test_real_size_pivot_and_up_axis() -> None:
    box = standing_box()
    assert c.check_real_size(box, 0.01, 10).passed
    tiny = c.check_real_size(box, 0.5, 10)
    assert (tiny.passed, tiny.measured) == (False, [0.2, 0.2, 0.2])
    assert c.check_pivot(box, "bottom-center").passed
    floating = box_asset(0.2, 0.2, 0.2, offset=(0.0, 0.5, 0.0))
    result = c.check_pivot(floating, "base-on-ground")
    assert (result.passed, result.measured) == (False, {"ground": 0.4})
    # A flat slab lying along Z with its base facing -Z: on its back for a Y-up viewer.
    lying = Asset(meshes=[Mesh(vertices=(CUBE_VERTICES_SLAB), faces=CUBE_FACES)])
    assert not c.check_up_axis(lying, "+y").passed
    assert c.check_up_axis(lying, "+z").passed
    assert c.check_up_axis(box, "+y").passed


CUBE_VERTICES_SLAB = np.array(
    [[x, y, z] for x in (0, 1.0) for y in (0, 0.5) for z in (0, 0.05)], dtype=float
)


def test_mesh_facts_unchanged() -> None:
    facts = mesh_facts(standing_box())
    assert facts["watertight"] and facts["winding_consistent"] and facts["faces"] == 12


def test_profile_levels_turn_failures_into_warnings() -> None:
    report = validate_asset(box_asset(0.2, 0.2, 0.2, textured=True), load_profile("web"))
    assert report.result("pivot").status == "WARN"
    assert report.passed
    assert "WARN  pivot" in report.summary()


def test_material_without_uvs_is_a_broken_reference() -> None:
    box = standing_box(textured=False)
    box.materials = [Material("m", base_color_texture=Texture(np.zeros((4, 4, 3), np.uint8)))]
    infos = c.asset_materials(box)
    assert infos[0].broken == ("m: textured but mesh mesh has no UVs",)
