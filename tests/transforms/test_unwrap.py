"""unwrap: one non-overlapping xatlas atlas per material, geometry unchanged, textures dropped."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import trimesh
from pydantic import ValidationError

from meshes import CUBE_FACES, CUBE_VERTICES
from meshforge.asset import Asset, Material, Mesh, Texture
from meshforge.transforms import unwrap
from meshforge.transforms.unwrap import UnwrapOptions
from meshforge.transforms.uv_layout import move_charts_into_unit_tile


def cube() -> Asset:
    return Asset(meshes=[Mesh(vertices=CUBE_VERTICES, faces=CUBE_FACES, name="cube")])


def sphere() -> Asset:
    s = trimesh.creation.icosphere(subdivisions=3)
    mesh = Mesh(vertices=s.vertices, faces=s.faces, uv=np.zeros((len(s.vertices), 2)))
    texture = Texture(np.zeros((4, 4, 3), dtype=np.uint8))
    return Asset(meshes=[mesh], materials=[Material(base_color_texture=texture)])


def texel_cover(uv: np.ndarray, faces: np.ndarray, size: int) -> np.ndarray:
    """How many triangles strictly contain each texel centre."""
    count = np.zeros((size, size), dtype=np.int64)
    for tri in uv[faces] * size:
        lo, hi = np.floor(tri.min(axis=0)).astype(int), np.ceil(tri.max(axis=0)).astype(int)
        cols, rows = np.meshgrid(np.arange(lo[0], hi[0]), np.arange(lo[1], hi[1]))
        p = np.column_stack([cols.ravel() + 0.5, rows.ravel() + 0.5])
        a, b, c = tri
        m = np.column_stack([b - a, c - a])
        w = np.linalg.solve(m, (p - a).T).T
        inside = (w[:, 0] > 1e-9) & (w[:, 1] > 1e-9) & (w.sum(axis=1) < 1 - 1e-9)
        count[rows.ravel()[inside], cols.ravel()[inside]] += 1
    return count


@pytest.mark.parametrize("make", [cube, sphere])
def test_atlas_covers_every_face_without_overlap(make: object) -> None:
    before = make()  # type: ignore[operator]
    after = before.transform(unwrap(resolution=256, padding=2))
    old, new = before.meshes[0], after.meshes[0]
    assert new.uv is not None and len(new.uv) == len(new.vertices)
    assert new.uv.min() >= 0.0 and new.uv.max() <= 1.0
    assert len(new.faces) == len(old.faces)
    # Every face keeps its corners' positions exactly; vertices are only split along seams.
    assert np.array_equal(new.vertices[new.faces], old.vertices[old.faces])
    assert len(new.vertices) >= len(old.vertices)
    t = new.uv[new.faces]
    e1, e2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    areas = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    assert np.all(areas > 0)  # no face collapsed to a point or a line in UV space
    cover = texel_cover(new.uv, new.faces, 256)
    assert cover.max() == 1  # no texel in two triangles: the charts do not overlap
    assert cover.sum() > 0.3 * 256 * 256


def test_reports_charts_atlas_and_vertices() -> None:
    before = cube()
    after = before.transform(unwrap(resolution=256))
    report = after.reports[-1]
    atlas = report.details["atlases"][0]
    assert report.stage == "unwrap"
    assert report.details["charts"] == atlas["charts"] >= 1
    assert atlas["material"] == 0 and 0.2 < atlas["utilization"] <= 1.0
    assert report.changes["vertices"] == (8, after.vertex_count)
    assert report.details["meshes"] == [
        {"mesh": "cube", "charts": atlas["charts"], "vertices": [8, after.vertex_count]}
    ]
    assert report.warnings == []


def test_drops_textures_mapped_by_the_old_uvs_and_says_so() -> None:
    after = sphere().transform(unwrap(resolution=256))
    assert after.materials[0].base_color_texture is None
    report = after.reports[-1]
    assert report.changes["textures"] == (1, 0)
    assert [w.code for w in report.warnings] == ["textures-dropped"]


def test_meshes_sharing_a_material_share_one_atlas() -> None:
    shifted = Mesh(vertices=CUBE_VERTICES + 2.0, faces=CUBE_FACES, name="b")
    asset = Asset(meshes=[cube().meshes[0], shifted])
    after = asset.transform(unwrap(resolution=256))
    assert len(after.reports[-1].details["atlases"]) == 1
    first, second = after.meshes
    assert first.uv is not None and second.uv is not None
    uv = np.concatenate([first.uv, second.uv])
    faces = np.concatenate([first.faces, second.faces + len(first.uv)])
    assert texel_cover(uv, faces, 256).max() == 1


def test_options_are_validated() -> None:
    assert UnwrapOptions().resolution == 1024 and UnwrapOptions().padding == 4
    with pytest.raises(ValidationError):
        unwrap(resolution=8)
    with pytest.raises(ValidationError):
        UnwrapOptions(margin=2)  # type: ignore[call-arg]


def two_squares(uv_offset: tuple[float, float], textured: bool = True) -> Asset:
    """Two separate unit squares in one mesh; the second's UVs are the first's, moved."""
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
    vertices = np.vstack([square, square + np.array([3.0, 0.0, 0.0])])
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    first = square[:, :2] * 0.5
    uv = np.vstack([first, first + uv_offset])
    texture = Texture(np.full((8, 8, 3), 200, dtype=np.uint8)) if textured else None
    mesh = Mesh(vertices=vertices, faces=faces, uv=uv)
    return Asset(meshes=[mesh], materials=[Material(base_color_texture=texture)])


def test_a_usable_layout_and_its_texture_are_kept() -> None:
    before = two_squares((0.5, 0.5))
    after = before.transform(unwrap())
    assert after.meshes[0] is before.meshes[0]
    assert after.materials[0].base_color_texture is before.materials[0].base_color_texture
    report = after.reports[-1]
    assert report.details["kept"] == [{"material": 0, "overlap": 0.0}]
    assert report.details["atlases"] == [] and report.warnings == []


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        ((0.0, 0.0), "50.0% of the UV area overlaps"),  # both squares on one place
        # A whole tile off: moved back, where it lands on the first square.
        ((1.0, 0.0), "50.0% of the UV area overlaps"),
        ((0.75, 0.0), "UVs outside [0, 1] (tiling)"),  # across the border u = 1: true tiling
    ],
)
def test_overlapping_or_tiling_layouts_get_a_fresh_atlas(
    offset: tuple[float, float], reason: str
) -> None:
    after = two_squares(offset).transform(unwrap(resolution=256))
    report = after.reports[-1]
    assert [a["reason"] for a in report.details["atlases"]] == [reason]
    assert after.materials[0].base_color_texture is None
    assert [w.code for w in report.warnings] == ["textures-dropped"]


def test_keep_existing_off_always_unwraps() -> None:
    after = two_squares((0.5, 0.5)).transform(unwrap(resolution=256, keep_existing=False))
    assert after.reports[-1].details["atlases"][0]["reason"] == "keep_existing is off"
    assert after.materials[0].base_color_texture is None


def test_merge_materials_gives_one_atlas_and_one_material() -> None:
    a = trimesh.creation.box()
    b = trimesh.creation.box()
    b.apply_translation((3, 0, 0))
    red = Material(name="red", base_color_factor=(1, 0, 0, 1), roughness_factor=0.3)
    glass = Material(name="glass", alpha_mode="BLEND", double_sided=True)
    asset = Asset(
        meshes=[Mesh(a.vertices, a.faces, material=0), Mesh(b.vertices, b.faces, material=1)],
        materials=[red, glass],
    )
    after = asset.transform(unwrap(resolution=256, merge_materials=True))
    assert [m.material for m in after.meshes] == [0, 0]
    assert len(after.materials) == 1
    merged = after.materials[0]
    assert (merged.name, merged.alpha_mode, merged.double_sided) == ("merged", "BLEND", True)
    assert merged.roughness_factor == 0.3  # the first material's settings
    uv = np.vstack([m.uv[m.faces].reshape(-1, 2) for m in after.meshes if m.uv is not None])
    offsets = [0, len(after.meshes[0].vertices)]
    all_uv = np.vstack([m.uv for m in after.meshes if m.uv is not None])
    all_faces = np.vstack([m.faces + o for m, o in zip(after.meshes, offsets, strict=True)])
    assert texel_cover(all_uv, all_faces, 256).max() == 1  # one atlas: no chart overlaps
    assert uv.min() >= 0 and uv.max() <= 1
    assert after.reports[-1].changes["materials"] == (2, 1)


def test_charts_a_whole_tile_off_are_moved_back_and_kept() -> None:
    # The second square's UVs lie in u 1.5..2, v -0.5..0: one tile right and one down.
    before = two_squares((1.5, -0.5))
    after = before.transform(unwrap())
    uv = after.meshes[0].uv
    assert uv is not None
    assert np.array_equal(uv, two_squares((0.5, 0.5)).meshes[0].uv)  # moved by exactly (-1, 1)
    assert after.materials[0].base_color_texture is before.materials[0].base_color_texture
    report = after.reports[-1]
    assert report.details["kept"] == [{"material": 0, "overlap": 0.0, "moved_charts": 1}]
    assert report.details["atlases"] == [] and report.warnings == []


def test_move_charts_leaves_charts_across_a_tile_border() -> None:
    mesh = two_squares((0.75, 0.0)).meshes[0]  # the second chart spans u 0.75..1.25
    same, moved = move_charts_into_unit_tile(mesh)
    assert (same is mesh, moved) == (True, 0)
    no_uv = dataclasses.replace(mesh, uv=None)
    assert move_charts_into_unit_tile(no_uv) == (no_uv, 0)
    shifted = dataclasses.replace(mesh, uv=mesh.uv + np.array([3.0, -2.0]))  # all 3 right, 2 down
    back, moved = move_charts_into_unit_tile(shifted)
    assert moved == 1  # the first; the second still spans a border (u 3.75..4.25)
    assert back.uv is not None
    assert np.array_equal(back.uv[:4], mesh.uv[:4])
    assert np.array_equal(back.uv[4:], shifted.uv[4:])


def test_keep_overlapping_keeps_a_textured_material_only() -> None:
    textured = two_squares((0.0, 0.0)).transform(unwrap(keep_overlapping=True))
    assert textured.reports[-1].details["kept"] == [{"material": 0, "overlap": None}]
    assert textured.materials[0].base_color_texture is not None
    # Without a texture the material will be baked into: overlapping charts would mix.
    plain = two_squares((0.0, 0.0), textured=False)
    after = plain.transform(unwrap(resolution=256, keep_overlapping=True))
    assert [a["reason"] for a in after.reports[-1].details["atlases"]] == [
        "50.0% of the UV area overlaps"
    ]
    uv = after.meshes[0].uv
    assert uv is not None and texel_cover(uv, after.meshes[0].faces, 256).max() == 1


def test_keep_tiled_keeps_a_textured_tiling_layout_as_it_is() -> None:
    before = two_squares((0.75, 0.0))
    after = before.transform(unwrap(keep_tiled=True))
    assert after.meshes[0] is before.meshes[0]
    assert after.materials[0].base_color_texture is before.materials[0].base_color_texture
    assert after.reports[-1].details["kept"] == [{"material": 0, "tiled": True}]
    plain = two_squares((0.75, 0.0), textured=False).transform(unwrap(keep_tiled=True))
    assert [a["reason"] for a in plain.reports[-1].details["atlases"]] == [
        "UVs outside [0, 1] (tiling)"
    ]
    # keep_tiled does not keep a layout that is inside [0, 1] but overlaps.
    overlapping = two_squares((0.0, 0.0)).transform(unwrap(keep_tiled=True))
    assert "kept" not in overlapping.reports[-1].details
