"""Each display profile's transforms make what its checks require: UVs in [0, 1] and the PBR maps
it asks for, on tiny inline meshes; and the check registry matches the profile's check ids."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from meshforge.asset import Asset, Material, Mesh, Texture
from meshforge.render.shading import linear_to_srgb
from meshforge.transforms.chain import transforms_for
from meshforge.validate.checks import CHECKS
from meshforge.validate.profiles import CHECK_IDS, Profile, load_profile
from meshforge.validate.report import validate_asset

GREY = (0.8, 0.5, 0.2, 1.0)


def test_the_registry_runs_every_check_a_profile_can_name_in_order() -> None:
    assert tuple(check.id for check in CHECKS) == CHECK_IDS


def bare_sphere() -> Asset:
    """A 0.2 m sphere with no UVs and no texture: one colour factor (a geometry-only scan)."""
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.1)
    mesh = Mesh(vertices=sphere.vertices, faces=sphere.faces, name="scan")
    return Asset(meshes=[mesh], materials=[Material(name="scan", base_color_factor=GREY)])


def run_profile(asset: Asset, name: str) -> Asset:
    return asset.transform(*transforms_for(load_profile(name)))


@pytest.mark.parametrize(
    ("name", "size"), [("web", 1024), ("amazon", 2048), ("apple-ar", 2048), ("shopify", 1024)]
)
def test_a_mesh_without_uvs_gets_uvs_and_the_required_maps(name: str, size: int) -> None:
    profile = load_profile(name)
    out = run_profile(bare_sphere(), name)
    (mesh,) = out.meshes
    assert mesh.uv is not None and mesh.uv.min() >= 0.0 and mesh.uv.max() <= 1.0
    assert len(mesh.faces) == 320
    (material,) = out.materials
    present = {
        "base_color": material.base_color_texture,
        "normal": material.normal_texture,
        "orm": material.occlusion_roughness_metallic_texture,
    }
    assert [k for k, t in present.items() if t is not None] == list(profile.required_maps)
    colour = material.base_color_texture
    assert colour is not None and colour.size == (size, size)
    # Every chart texel holds the scan's colour (sRGB of the linear factor); the factor is white.
    u, v = mesh.uv[mesh.faces].mean(axis=1).T
    texels = colour.image[(v * size).astype(int), (u * size).astype(int)]
    expected = np.rint(linear_to_srgb(np.array([GREY[:3]]))[0] * 255).tolist()
    assert np.unique(texels[:, :3], axis=0).tolist() == [expected]
    assert material.base_color_factor == (1.0, 1.0, 1.0, 1.0)
    report = validate_asset(out, profile)
    assert report.passed, report.summary()
    assert {"uv_present", "uv_range", "pbr_maps"} <= {r.id for r in report.results if r.passed}


def card(uv_scale: float, uv_offset: tuple[float, float]) -> Asset:
    """A 0.2 m square card (5 x 5 quads) facing +z, with UVs ``xy / 0.2 * scale + offset`` and
    an 8 px texture: red on its left half, blue on its right."""
    n = 5
    ys, xs = np.meshgrid(np.linspace(0, 0.2, n + 1), np.linspace(0, 0.2, n + 1), indexing="ij")
    vertices = np.column_stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)])
    i = (np.arange(n)[:, None] * (n + 1) + np.arange(n)[None, :]).ravel()
    faces = np.concatenate(
        [np.column_stack([i, i + 1, i + n + 2]), np.column_stack([i, i + n + 2, i + n + 1])]
    )
    uv = vertices[:, :2] / 0.2 * uv_scale + np.asarray(uv_offset)
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    image[:, :4] = (255, 0, 0)
    image[:, 4:] = (0, 0, 255)
    material = Material(name="card", base_color_texture=Texture(image, "halves"))
    mesh = Mesh(vertices=vertices, faces=faces, uv=uv, name="card")
    return Asset(meshes=[mesh], materials=[material])


@pytest.mark.parametrize("name", ["amazon", "apple-ar"])
def test_an_atlas_a_whole_tile_off_is_moved_back_and_kept(name: str) -> None:
    # DamagedHelmet's case: every UV in v = 1..2, one tile off; textures repeat, so moving the
    # chart down one tile shows the same texels, and the texture is kept (no re-bake).
    before = card(1.0, (0.0, 1.0))
    out = run_profile(before, name)
    unwrap_report = next(r for r in out.reports if r.stage == "unwrap")
    # Overlap is not measured: nothing is baked into a textured material on these profiles.
    assert unwrap_report.details["kept"] == [{"material": 0, "overlap": None, "moved_charts": 1}]
    uv, original = out.meshes[0].uv, before.meshes[0].uv
    assert uv is not None and original is not None
    assert np.allclose(uv, original - [0.0, 1.0], atol=1e-12)
    assert next(r for r in out.reports if r.stage == "bake").details["baked"][0]["maps"] == []
    report = validate_asset(out, load_profile(name))
    assert report.result("uv_range").passed and report.passed, report.summary()


def smaller(name: str, size: int) -> Profile:
    """The profile with its unwrap and bake at ``size`` px and no resize: the same decisions,
    a quicker bake (a card filling a 2048 px atlas takes half a minute to project)."""
    profile = load_profile(name)
    resized = {"unwrap": "resolution", "bake": "size"}
    specs = [
        s.model_copy(update={"options": {**s.options, resized[s.name]: size}})
        if s.name in resized
        else s
        for s in profile.transforms
        if s.name != "resize"
    ]
    return profile.model_copy(update={"transforms": tuple(specs)})


def test_a_tiling_texture_is_kept_on_the_web_and_rebaked_into_one_tile_for_amazon() -> None:
    # SheenChair's case: the texture repeats 3 times across the card (UVs 0..3).
    before = card(3.0, (0.0, 0.0))
    web = run_profile(before, "web")
    assert web.materials[0].base_color_texture is before.materials[0].base_color_texture
    assert web.meshes[0].uv is not None and web.meshes[0].uv.max() == pytest.approx(3.0)
    web_report = validate_asset(web, load_profile("web"))
    assert web_report.result("uv_range").status == "WARN" and web_report.passed

    amazon = before.transform(*transforms_for(smaller("amazon", 256)))
    mesh, material = amazon.meshes[0], amazon.materials[0]
    assert mesh.uv is not None and mesh.uv.min() >= 0.0 and mesh.uv.max() <= 1.0
    colour = material.base_color_texture
    assert colour is not None and colour.size == (256, 256)
    # Face centres well inside a red or a blue half-tile bake to exactly that colour (x from the
    # card's left edge: pivot moved the card to the bottom centre).
    x = mesh.vertices[mesh.faces].mean(axis=1)[:, 0] - mesh.vertices[:, 0].min()
    tile = (x / 0.2 * 3.0) % 1.0
    u, v = mesh.uv[mesh.faces].mean(axis=1).T
    texels = colour.image[(v * 256).astype(int), (u * 256).astype(int), :3].tolist()
    red = (tile > 0.15) & (tile < 0.35)
    blue = (tile > 0.65) & (tile < 0.85)
    assert red.sum() >= 4 and blue.sum() >= 4
    assert {tuple(t) for t, r in zip(texels, red, strict=True) if r} == {(255, 0, 0)}
    assert {tuple(t) for t, b in zip(texels, blue, strict=True) if b} == {(0, 0, 255)}
    # Only the size is short of Amazon's: the full-size chain is what the census runs.
    report = validate_asset(amazon, load_profile("amazon"))
    assert [r.id for r in report.failures] == ["texture_min_size"]
