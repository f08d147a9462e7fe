"""resize: sides to the nearest power of two within limits, in linear light, normals kept unit."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from meshforge.asset import Asset, Material, Mesh, Texture
from meshforge.errors import InputError
from meshforge.transforms import resize
from meshforge.transforms.chain import build_chain
from meshforge.transforms.resize import ResizeFilter, ResizeOptions, resample_map


def textured(*materials: Material) -> Asset:
    """One triangle per material, each with the textures given."""
    meshes = [
        Mesh(vertices=np.eye(3), faces=[[0, 1, 2]], uv=np.eye(3)[:, :2], material=i)
        for i in range(len(materials))
    ]
    return Asset(meshes=meshes, materials=list(materials))


def flat(width: int, height: int, colour: tuple[int, ...]) -> Texture:
    image = np.empty((height, width, len(colour)), dtype=np.uint8)
    image[...] = colour
    return Texture(image, "flat")


def decode_normals(image: np.ndarray) -> np.ndarray:
    return image[..., :3].astype(np.float64) / 255 * 2 - 1


@pytest.mark.parametrize(
    ("side", "expected"),
    [(1, 1), (3, 4), (300, 256), (384, 512), (768, 1024), (1000, 1024), (1024, 1024)],
)
def test_each_side_goes_to_the_nearest_power_of_two_ties_up(side: int, expected: int) -> None:
    assert ResizeOptions(max_size=None).side(side) == expected


def test_without_power_of_two_sides_are_only_clamped() -> None:
    options = ResizeOptions(max_size=2048, min_size=100, power_of_two=False)
    assert options.target((1000, 3000)) == (1000, 2048)
    assert options.target((50, 300)) == (100, 300)


def test_300_by_1000_with_max_512_becomes_256_by_512() -> None:
    texture = flat(300, 1000, (10, 20, 30))
    asset = textured(Material(name="m", base_color_texture=texture)).transform(resize(max_size=512))
    out = asset.materials[0].base_color_texture
    assert out is not None and out.size == (256, 512) and out.image.shape == (512, 256, 3)
    assert out.name == "flat"
    report = asset.reports[-1]
    assert report.stage == "resize"
    assert report.details["textures"] == [
        {"material": "m", "map": "base_color", "size": [[300, 1000], [256, 512]]}
    ]
    assert report.changes["texels"] == (300_000, 131_072)
    assert report.warnings == []


def test_min_size_upscales_and_warns() -> None:
    texture = flat(1024, 1024, (90, 160, 40))
    asset = textured(Material(name="m", occlusion_roughness_metallic_texture=texture))
    out = asset.transform(resize(min_size=2048))
    orm = out.materials[0].occlusion_roughness_metallic_texture
    assert orm is not None and orm.size == (2048, 2048)
    assert np.all(orm.image == [90, 160, 40])
    warnings = out.reports[-1].warnings
    assert [w.code for w in warnings] == ["upscaled"]
    assert "orm of 'm' 1024x1024 -> 2048x2048" in warnings[0].message


def test_a_texture_within_the_rules_stays_the_same_object() -> None:
    texture = flat(512, 256, (1, 2, 3))
    material = Material(base_color_texture=texture)
    asset = textured(material)
    out = asset.transform(resize())
    assert out.materials[0] is material and out.materials[0].base_color_texture is texture
    assert out.reports[-1].details["textures"] == [] and out.reports[-1].changes == {}


def test_a_shared_texture_is_resized_once_and_stays_shared() -> None:
    texture = flat(300, 300, (50, 60, 70))
    a = Material(name="a", base_color_texture=texture)
    b = Material(name="b", base_color_texture=texture)
    out = textured(a, b).transform(resize())
    first, second = (m.base_color_texture for m in out.materials)
    assert first is second and first is not None and first.size == (256, 256)
    assert [row["material"] for row in out.reports[-1].details["textures"]] == ["a", "b"]
    assert out.reports[-1].changes["texels"] == (90_000, 65_536)


def test_the_input_asset_is_unchanged() -> None:
    texture = flat(300, 300, (50, 60, 70))
    material = Material(base_color_texture=texture)
    asset = textured(material)
    asset.transform(resize())
    assert asset.materials[0] is material and material.base_color_texture is texture
    assert texture.size == (300, 300)


@pytest.mark.parametrize(("size", "limit"), [(64, 32), (24, 32)])
def test_normal_maps_stay_unit_length(size: int, limit: int) -> None:
    rng = np.random.default_rng(7)
    xyz = rng.normal(size=(size, size, 3)) * [0.6, 0.6, 0.2] + [0.0, 0.0, 1.0]
    xyz /= np.linalg.norm(xyz, axis=-1, keepdims=True)
    image = np.rint((xyz + 1) / 2 * 255).astype(np.uint8)
    texture = Texture(image, "normal")
    out = textured(Material(normal_texture=texture)).transform(resize(max_size=limit))
    normal = out.materials[0].normal_texture
    assert normal is not None and normal.size == (32, 32)
    norms = np.linalg.norm(decode_normals(normal.image), axis=-1)
    assert np.abs(norms - 1).max() <= 2 / 255
    if size > limit:  # averaging noisy unit vectors shortens them: the renormalisation matters
        plain = resample_map(image, (32, 32), "orm")
        assert np.abs(np.linalg.norm(decode_normals(plain), axis=-1) - 1).max() > 0.05


@pytest.mark.parametrize("filter_", ["lanczos", "bilinear"])
@pytest.mark.parametrize(("width", "height"), [(100, 60), (7, 5)])
def test_a_flat_colour_keeps_its_colour_exactly(
    filter_: ResizeFilter, width: int, height: int
) -> None:
    colour = (200, 120, 37, 255)
    asset = textured(Material(base_color_texture=flat(width, height, colour)))
    out = asset.transform(resize(filter=filter_))
    texture = out.materials[0].base_color_texture
    assert texture is not None and texture.size == (ResizeOptions().target((width, height)))
    assert np.all(texture.image == colour)


@pytest.mark.parametrize("filter_", ["lanczos", "bilinear"])
def test_colour_is_resampled_in_linear_light(filter_: ResizeFilter) -> None:
    image = np.array([[[0, 0, 0], [255, 255, 255]]], dtype=np.uint8)
    asset = textured(Material(base_color_texture=Texture(image)))
    out = asset.transform(resize(max_size=1, filter=filter_))
    texture = out.materials[0].base_color_texture
    assert texture is not None and texture.image.tolist() == [[[188, 188, 188]]]


def test_alpha_and_orm_are_resampled_plainly() -> None:
    rgba = np.array([[[255, 255, 255, 0], [255, 255, 255, 255]]], dtype=np.uint8)
    assert resample_map(rgba, (1, 1), "base_color").tolist() == [[[255, 255, 255, 128]]]
    orm = np.array([[[0, 0, 0], [255, 255, 255]]], dtype=np.uint8)
    assert resample_map(orm, (1, 1), "orm").tolist() == [[[128, 128, 128]]]


def test_bad_options_are_errors() -> None:
    with pytest.raises(ValidationError, match=r"min_size \(1024\) must not exceed max_size"):
        resize(min_size=1024, max_size=512)
    with pytest.raises(ValidationError, match=r"max_size must be a power of two.*use 512 or 1024"):
        resize(max_size=1000)
    with pytest.raises(ValidationError, match="min_size must be a power of two"):
        ResizeOptions(min_size=300)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        resize(max_size=0)
    assert ResizeOptions(max_size=1000, power_of_two=False).max_size == 1000
    with pytest.raises(InputError, match="resize"):
        build_chain([("resize", {"max_size": 1000})])
    with pytest.raises(InputError, match="resize"):
        build_chain([("resize", {"size": 1024})])


def test_it_runs_in_a_chain() -> None:
    (step,) = build_chain([("resize", {"max_size": 1024})])
    assert step.name == "resize" and step.options_dict()["max_size"] == 1024
    asset = textured(Material(base_color_texture=flat(2048, 2048, (9, 9, 9))))
    out = asset.transform(step)
    texture = out.materials[0].base_color_texture
    assert texture is not None and texture.size == (1024, 1024)
