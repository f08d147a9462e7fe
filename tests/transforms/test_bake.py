"""bake: base colour, tangent-space normals, vertex colours onto the target's atlas."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from meshes import checker_sphere
from meshforge.asset import Asset, Material, Mesh, Texture
from meshforge.errors import TransformError
from meshforge.render.raster import fit_camera, render
from meshforge.transforms import bake, decimate, unwrap
from meshforge.transforms.bake import rasterise_uv


def grid_plane(n: int, height: float = 0.0) -> Asset:
    """The unit square in z = 0 (seen from +z, CCW), ``n x n`` quads, u = x and v = 1 - y,
    with a Gaussian bump of ``height`` at the centre."""
    ys, xs = np.meshgrid(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1), indexing="ij")
    z = height * np.exp(-((xs - 0.5) ** 2 + (ys - 0.5) ** 2) / 0.02)
    vertices = np.column_stack([xs.ravel(), ys.ravel(), z.ravel()])
    i = (np.arange(n)[:, None] * (n + 1) + np.arange(n)[None, :]).ravel()
    faces = np.concatenate(
        [np.column_stack([i, i + 1, i + n + 2]), np.column_stack([i, i + n + 2, i + n + 1])]
    )
    uv = np.column_stack([vertices[:, 0], 1.0 - vertices[:, 1]])
    return Asset(meshes=[Mesh(vertices=vertices, faces=faces, uv=uv)], materials=[Material()])


def texel(image: np.ndarray, x: float, y: float) -> np.ndarray:
    """The texel of the flat plane's map at the surface point (x, y)."""
    size = image.shape[0]
    return image[int((1.0 - y) * size), int(x * size)].astype(int)


@pytest.fixture(scope="module")
def sphere() -> Asset:
    return checker_sphere()


@pytest.fixture(scope="module")
def baked(sphere: Asset) -> Asset:
    return sphere.transform(
        decimate(target_faces=2000),
        unwrap(resolution=512, keep_existing=False),
        bake(sphere, size=512),
    )


def test_base_colour_render_matches_the_source(sphere: Asset, baked: Asset) -> None:
    # Lit over white, facing the old UV seam. Measured PSNR 37.9 dB (36.9 dB at azimuth 0);
    # the decimated mesh with its carried UVs and the original texture gets 34.2 dB.
    camera = fit_camera(sphere.bounds(), azimuth_deg=160.0, elevation_deg=20.0, size=256)
    before = render(sphere, camera, background=(255, 255, 255)).astype(np.float64)
    after = render(baked, camera, background=(255, 255, 255)).astype(np.float64)
    mse = np.mean((before[..., :3] - after[..., :3]) ** 2)
    assert 10 * np.log10(255.0**2 / mse) >= 30.0


def test_reports_the_maps_and_coverage(sphere: Asset, baked: Asset) -> None:
    report = baked.reports[-1]
    assert report.stage == "bake"
    assert report.changes["textures"] == (0, 3)
    assert report.details["source"] == {"faces": 20480, "vertices": sphere.vertex_count}
    facts = report.details["baked"][0]
    assert facts["maps"] == ["base_color", "normal", "orm"] and facts["size"] == [512, 512]
    assert facts["ao_mean"] > 0.98  # a convex sphere occludes nothing
    assert 0.4 < facts["coverage"] < 0.8
    assert facts["distance_max"] < 0.01  # decimate's deviation from the dense sphere
    material = baked.materials[0]
    assert material.base_color_texture is not None and material.normal_texture is not None
    assert material.base_color_texture.size == (512, 512)
    assert material.base_color_factor == (1.0, 1.0, 1.0, 1.0)


def test_maps_that_still_fit_are_kept_and_only_missing_ones_baked(sphere: Asset) -> None:
    # decimate carries the UVs exactly, so the checker texture still fits: kept as it is.
    kept = sphere.transform(decimate(target_faces=2000), bake(sphere, size=256))
    facts = kept.reports[-1].details["baked"][0]
    assert facts["maps"] == ["normal", "orm"] and facts["kept"] == ["base_color"]
    material, original = kept.materials[0], sphere.materials[0]
    assert material.base_color_texture is original.base_color_texture
    assert material.base_color_factor == original.base_color_factor
    assert material.normal_texture is not None and material.normal_texture.size == (256, 256)
    rebaked = sphere.transform(
        decimate(target_faces=2000), bake(sphere, size=256, keep_existing=False)
    )
    facts = rebaked.reports[-1].details["baked"][0]
    assert facts["maps"] == ["base_color", "normal", "orm"] and facts["kept"] == []
    texture = rebaked.materials[0].base_color_texture
    assert texture is not None and texture.size == (256, 256)


def test_flat_plane_from_itself_bakes_a_flat_normal_map() -> None:
    plane = grid_plane(1)
    out = plane.transform(bake(plane, size=64, dilate=0))
    assert out.materials[0].normal_texture is not None
    image = out.materials[0].normal_texture.image.reshape(-1, 3).astype(int)
    assert out.reports[-1].details["baked"][0]["coverage"] == 1.0
    assert np.abs(image - [128, 128, 255]).max() <= 1


def test_bump_slopes_show_in_the_normal_map() -> None:
    dense, flat = grid_plane(100, height=0.05), grid_plane(1)
    out = flat.transform(bake(dense, size=64))
    assert out.materials[0].normal_texture is not None
    normal = out.materials[0].normal_texture.image
    # Left of the bump the surface rises to +x, so its normal leans to -x (red below 128); above
    # it (+y, up in the image) it falls, so the normal leans up (green above 128).
    assert texel(normal, 0.4, 0.5)[0] < 110 and texel(normal, 0.6, 0.5)[0] > 146
    assert texel(normal, 0.5, 0.6)[1] > 146 and texel(normal, 0.5, 0.4)[1] < 110
    assert abs(texel(normal, 0.4, 0.5)[1] - 128) <= 6 and abs(texel(normal, 0.5, 0.6)[0] - 128) <= 6
    assert np.abs(texel(normal, 0.05, 0.05) - [128, 128, 255]).max() <= 2  # flat far away


def test_vertex_colours_are_baked() -> None:
    source = grid_plane(20)
    x = source.meshes[0].vertices[:, 0]
    source.metadata["vertex_colors"] = [np.where((x < 0.5)[:, None], [255, 0, 0], [0, 0, 255])]
    out = grid_plane(1).transform(bake(source, size=32, normal_map=False))
    colour = out.materials[0].base_color_texture
    assert colour is not None and out.materials[0].normal_texture is None
    assert texel(colour.image, 0.2, 0.5).tolist() == [255, 0, 0, 255]
    assert texel(colour.image, 0.8, 0.5).tolist() == [0, 0, 255, 255]


def test_dilates_past_the_charts() -> None:
    half = grid_plane(1)
    mesh = half.meshes[0]
    assert mesh.uv is not None
    mesh.uv = mesh.uv * 0.5  # the plane covers only the top-left quarter of the map
    mesh_colour = Asset(meshes=[mesh], materials=[Material(base_color_factor=(0.0, 1.0, 0.0, 1.0))])
    out = half.transform(bake(mesh_colour, size=64, normal_map=False, dilate=4))
    image = out.materials[0].base_color_texture.image  # type: ignore[union-attr]
    assert image[10, 35].tolist() == [0, 255, 0, 255]  # 3 texels right of the chart: filled
    assert image[10, 40].tolist() == [0, 0, 0, 255]  # 8 texels right: background


def test_target_without_uvs_is_an_error() -> None:
    plane = grid_plane(1)
    bare = Asset(meshes=[Mesh(vertices=plane.meshes[0].vertices, faces=plane.meshes[0].faces)])
    with pytest.raises(TransformError, match="no UVs"):
        bare.transform(bake(plane))


def cup() -> Asset:
    """A 1 m open box with 0.1 m walls and floor (outward faces, flat normals), roughness 0.6
    and metallic 0.2."""
    import trimesh

    outer = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    inner = trimesh.creation.box(extents=(0.8, 1.0, 0.8))
    inner.apply_translation((0.0, 0.1, 0.0))
    solid = outer.difference(inner)
    corners = solid.vertices[solid.faces].reshape(-1, 3)
    mesh = Mesh(
        vertices=corners,
        faces=np.arange(len(corners)).reshape(-1, 3),
        normals=np.repeat(solid.face_normals, 3, axis=0),
    )
    return Asset(meshes=[mesh], materials=[Material(roughness_factor=0.6, metallic_factor=0.2)])


def test_flat_plane_is_unoccluded() -> None:
    plane = grid_plane(4)
    out = plane.transform(bake(plane, size=64, dilate=0))
    material = out.materials[0]
    assert material.occlusion_roughness_metallic_texture is not None
    orm = material.occlusion_roughness_metallic_texture.image
    assert orm[..., 0].min() >= 250  # AO >= 0.98: nothing in front of a plane (measured 1.0)
    assert out.reports[-1].details["baked"][0]["ao_mean"] >= 0.98


def test_cup_floor_is_darker_than_its_rim_and_sides() -> None:
    asset = cup()
    out = asset.transform(unwrap(resolution=256), bake(asset, size=256))
    mesh, material = out.meshes[0], out.materials[0]
    orm = material.occlusion_roughness_metallic_texture
    assert orm is not None and mesh.uv is not None and mesh.normals is not None
    texel, tri, bary = rasterise_uv(mesh.uv, mesh.faces, 256)
    points = np.einsum("ij,ijk->ik", bary, mesh.vertices[mesh.faces[tri]])
    normal = mesh.normals[mesh.faces[tri]].mean(axis=1)
    ao = orm.image.reshape(-1, 3)[texel, 0] / 255.0
    floor = (normal[:, 1] > 0.9) & (points[:, 1] < 0) & (np.abs(points[:, [0, 2]]) < 0.2).all(1)
    rim = (normal[:, 1] > 0.9) & (points[:, 1] > 0.49)
    side = (normal[:, 0] > 0.9) & (points[:, 0] > 0.49)
    # Measured: floor 0.19 (a 0.8 m opening 0.9 m up: about sin^2(24 deg) = 0.17), rim and
    # outer side 1.0.
    assert floor.sum() > 100 and ao[floor].mean() < 0.35
    assert ao[rim].mean() > 0.9 and ao[side].mean() > 0.9


def test_orm_carries_roughness_and_metallic() -> None:
    asset = cup()
    out = asset.transform(unwrap(resolution=128), bake(asset, size=128, ao_directions=16))
    material = out.materials[0]
    orm = material.occlusion_roughness_metallic_texture
    assert orm is not None
    assert (material.roughness_factor, material.metallic_factor) == (1.0, 1.0)
    texel, _, _ = rasterise_uv(out.meshes[0].uv, out.meshes[0].faces, 128)  # type: ignore[arg-type]
    covered = orm.image.reshape(-1, 3)[texel]
    assert set(covered[:, 1].tolist()) == {153} and set(covered[:, 2].tolist()) == {51}
    facts = out.reports[-1].details["baked"][0]
    assert facts["maps"] == ["base_color", "normal", "orm"]
    assert out.reports[-1].changes["textures"] == (0, 3)


def test_without_ao_there_is_no_orm() -> None:
    plane = grid_plane(1)
    out = plane.transform(bake(plane, size=32, ao=False))
    assert out.materials[0].occlusion_roughness_metallic_texture is None
    assert out.materials[0].roughness_factor == Material().roughness_factor


def test_a_uniform_source_bakes_the_same_maps_without_projecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    grey = Material(base_color_factor=(0.8, 0.4, 0.2, 0.5), roughness_factor=0.6)
    source = Asset(meshes=grid_plane(6).meshes, materials=[grey])
    target = grid_plane(1)
    target.meshes[0].uv = target.meshes[0].uv * 0.5  # a quarter of the map: dilation shows
    projected = target.transform(bake(source, size=64, ao=False, dilate=4))  # normal: projects
    bake_module = sys.modules["meshforge.transforms.bake"]

    def no_projection(*args: object) -> None:
        raise AssertionError("the source was prepared for projection")

    monkeypatch.setattr(bake_module, "prepare_source", no_projection)
    flat = target.transform(bake(source, size=64, normal_map=False, ao=False, dilate=4))
    material = flat.materials[0]
    colour, orm = material.base_color_texture, material.occlusion_roughness_metallic_texture
    assert colour is not None and orm is None  # no ORM asked for: no ao, no source ORM
    before = projected.materials[0].base_color_texture
    assert before is not None
    # The same maps up to rounding: the projection interpolates alpha 0.5 as 0.49999... (127).
    assert np.abs(colour.image.astype(int) - before.image).max() == 1
    assert np.array_equal(colour.image[..., :3], before.image[..., :3])
    # sRGB of linear (0.8, 0.4, 0.2) with alpha 0.5 in the chart; black past the dilation.
    assert colour.image[5, 5].tolist() == [231, 170, 124, 128]
    assert colour.image[40, 40].tolist() == [0, 0, 0, 255]
    facts = flat.reports[-1].details["baked"][0]
    assert facts["uniform"] is True and facts["coverage"] == 0.25


def test_nothing_to_bake_does_not_prepare_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    bake_module = sys.modules["meshforge.transforms.bake"]

    def no_projection(*args: object) -> None:
        raise AssertionError("the source was prepared for projection")

    monkeypatch.setattr(bake_module, "prepare_source", no_projection)
    sphere = checker_sphere(subdivisions=2)
    out = sphere.transform(bake(sphere, size=32, normal_map=False, ao=False))
    assert out.materials[0].base_color_texture is sphere.materials[0].base_color_texture
    assert out.reports[-1].details["baked"] == [{"material": 0, "maps": [], "kept": ["base_color"]}]


def orm_texture(roughness: int, metallic: int) -> Texture:
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    image[...] = (255, roughness, metallic)
    return Texture(image, "orm")


def test_source_orm_reaches_untextured_materials_only_and_without_ao_occlusion_is_one() -> None:
    plane = grid_plane(2)
    left = Mesh(plane.meshes[0].vertices, plane.meshes[0].faces, uv=plane.meshes[0].uv)
    right = Mesh(left.vertices + np.array([2.0, 0.0, 0.0]), left.faces, uv=left.uv, material=1)
    shiny = Material(
        "shiny",
        roughness_factor=1.0,
        metallic_factor=1.0,
        occlusion_roughness_metallic_texture=orm_texture(51, 204),
    )
    painted = Material("painted", base_color_texture=Texture(np.full((4, 4, 3), 90, np.uint8)))
    source = Asset(meshes=[left, right], materials=[shiny, painted])
    out = source.transform(bake(source, size=16, normal_map=False, ao=False, dilate=0))
    first, second = out.materials
    # "shiny" lacks a base colour (baked) and keeps its ORM; "painted" keeps its texture and
    # its roughness factor: it is the source's own material, nothing to carry.
    assert first.occlusion_roughness_metallic_texture is shiny.occlusion_roughness_metallic_texture
    assert second.occlusion_roughness_metallic_texture is None
    assert second.base_color_texture is painted.base_color_texture
    # A material left without textures (a fresh atlas) gets the source's ORM, occlusion 1.
    bare = Asset(meshes=[left], materials=[Material("bare")])
    carried = bare.transform(bake(source, size=16, normal_map=False, ao=False, dilate=0))
    orm = carried.materials[0].occlusion_roughness_metallic_texture
    assert orm is not None
    assert np.unique(orm.image.reshape(-1, 3), axis=0).tolist() == [[255, 51, 204]]


def test_baking_into_a_tiling_layout_warns() -> None:
    plane = grid_plane(2)
    mesh = plane.meshes[0]
    assert mesh.uv is not None
    tiled = Asset(meshes=[Mesh(mesh.vertices, mesh.faces, uv=mesh.uv * 2)], materials=[Material()])
    out = tiled.transform(bake(plane, size=16, normal_map=False, ao=False))
    warnings = out.reports[-1].warnings
    assert [w.code for w in warnings] == ["uv-outside"]
    # 8 faces; those with a corner past u or v = 1 (all but the two in the first quarter).
    assert warnings[0].message.startswith("6 face(s) of material 0 (material) have UVs outside")


def test_faces_the_source_shares_are_sampled_in_place_as_projection_would() -> None:
    source = checker_sphere(subdivisions=3)
    # The same surface with every other face's corners turned, and a fresh atlas.
    turned = source.meshes[0].faces.copy()
    turned[::2] = turned[::2][:, [1, 2, 0]]
    target = Asset(
        meshes=[Mesh(source.meshes[0].vertices, turned, uv=source.meshes[0].uv)],
        materials=[Material()],
    ).transform(unwrap(resolution=128, keep_existing=False))
    in_place = target.transform(bake(source, size=128, ao=False))
    facts = in_place.reports[-1].details["baked"][0]
    assert facts["same_faces"] == 1.0 and facts["distance_max"] == 0.0
    bake_module = sys.modules["meshforge.transforms.bake"]
    mp = pytest.MonkeyPatch()
    with mp.context() as patch:
        patch.setattr(
            bake_module,
            "same_source_faces",
            lambda v, f, s: (np.full(len(f), -1), np.zeros(len(f), dtype=np.int64)),
        )
        projected = target.transform(bake(source, size=128, ao=False))
    assert projected.reports[-1].details["baked"][0]["same_faces"] == 0.0
    for kind in ("base_color_texture", "normal_texture"):
        # Projection finds the same points (the source surface itself): the same maps.
        a = getattr(in_place.materials[0], kind).image
        assert np.array_equal(a, getattr(projected.materials[0], kind).image)
