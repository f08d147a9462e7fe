"""glTF/GLB through ``load``: every map and factor meshforge writes reads back as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from meshes import box_asset
from meshforge.api import load
from meshforge.asset import Asset, Material, Mesh, RealSize, Texture
from meshforge.errors import InputError
from meshforge.export.registry import save
from meshforge.loading import SUPPORTED_SUFFIXES

from .assets import noise, pbr_box


def round_trip(asset: Asset, path: Path) -> Asset:
    save(asset, path)
    return load(path)


def edit_gltf(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_base_colour_alpha_is_kept(tmp_path: Path) -> None:
    asset = pbr_box(base_channels=4)  # RGBA is written as PNG, so exact without help
    back = round_trip(asset, tmp_path / "box.glb")
    texture = back.materials[0].base_color_texture
    assert texture is not None
    assert texture.image.shape == (8, 16, 4)
    assert np.array_equal(texture.image, asset.materials[0].base_color_texture.image)  # type: ignore[union-attr]


@pytest.mark.usefixtures("lossless")
def test_opaque_base_colour_stays_rgb(tmp_path: Path) -> None:
    asset = pbr_box(base_channels=3)
    back = round_trip(asset, tmp_path / "box.glb")
    texture = back.materials[0].base_color_texture
    assert texture is not None
    assert np.array_equal(texture.image, asset.materials[0].base_color_texture.image)  # type: ignore[union-attr]


@pytest.mark.usefixtures("lossless")
def test_normal_texture_pixels_survive_a_glb_round_trip(tmp_path: Path) -> None:
    asset = pbr_box()
    back = round_trip(asset, tmp_path / "box.glb")
    normal = back.materials[0].normal_texture
    assert normal is not None and normal.name == "normal"
    assert np.array_equal(normal.image, asset.materials[0].normal_texture.image)  # type: ignore[union-attr]


@pytest.mark.usefixtures("lossless")
def test_orm_channels_survive_a_glb_round_trip(tmp_path: Path) -> None:
    asset = pbr_box()
    back = round_trip(asset, tmp_path / "box.glb")
    orm = back.materials[0].occlusion_roughness_metallic_texture
    expected = asset.materials[0].occlusion_roughness_metallic_texture
    assert orm is not None and expected is not None
    assert np.array_equal(orm.image, expected.image)


def test_factors_alpha_mode_and_double_sided(tmp_path: Path) -> None:
    back = round_trip(pbr_box(), tmp_path / "box.glb")
    material = back.materials[0]
    assert material.name == "painted"
    assert material.base_color_factor == (0.2, 0.4, 0.6, 0.5)
    assert material.metallic_factor == 0.25
    assert material.roughness_factor == 0.5
    assert material.alpha_mode == "BLEND"
    assert material.double_sided is True


def test_mask_and_opaque_modes(tmp_path: Path) -> None:
    asset = pbr_box()
    asset.materials[0].alpha_mode = "MASK"
    assert round_trip(asset, tmp_path / "mask.glb").materials[0].alpha_mode == "MASK"
    plain = round_trip(box_asset(1, 1, 1), tmp_path / "plain.glb").materials[0]
    assert (plain.alpha_mode, plain.double_sided) == ("OPAQUE", False)


def test_alpha_cutoff_is_kept_and_defaults_to_one_half(tmp_path: Path) -> None:
    asset = pbr_box()
    asset.materials[0].alpha_mode = "MASK"
    assert round_trip(asset, tmp_path / "half.glb").materials[0].alpha_cutoff == 0.5
    asset.materials[0].alpha_cutoff = 0.3
    path = tmp_path / "cut.gltf"
    back = round_trip(asset, path).materials[0]
    assert back.alpha_cutoff == pytest.approx(0.3)
    document = json.loads(path.read_text())
    assert document["materials"][0]["alphaCutoff"] == pytest.approx(0.3)


def test_uvs_and_normals_are_kept(tmp_path: Path) -> None:
    asset = pbr_box()
    back = round_trip(asset, tmp_path / "box.glb")
    (mesh,) = back.meshes
    source = asset.meshes[0]
    assert np.array_equal(mesh.faces, source.faces)
    assert mesh.uv is not None and source.uv is not None and mesh.normals is not None
    np.testing.assert_allclose(mesh.uv, source.uv, atol=1e-7)
    np.testing.assert_allclose(mesh.normals, source.normals, atol=1e-6)  # type: ignore[arg-type]


def test_no_normals_when_the_file_has_none(tmp_path: Path) -> None:
    back = round_trip(box_asset(1, 1, 1, textured=True), tmp_path / "box.glb")
    assert back.meshes[0].normals is None


def test_the_size_meshforge_records_reads_back(tmp_path: Path) -> None:
    asset = box_asset(0.1, 0.2, 0.3)
    asset.size = RealSize(0.1, 0.2, 0.3, source="user")
    assert round_trip(asset, tmp_path / "box.glb").size == asset.size
    assert round_trip(box_asset(1, 1, 1), tmp_path / "plain.glb").size is None


def test_missing_factors_take_gltf_defaults(tmp_path: Path) -> None:
    asset = box_asset(1, 1, 1)
    (path, *_) = save(asset, tmp_path / "box.gltf")

    def drop(document: dict[str, Any]) -> None:
        pbr = document["materials"][0]["pbrMetallicRoughness"]
        del pbr["metallicFactor"], pbr["roughnessFactor"]

    edit_gltf(path, drop)
    material = load(path).materials[0]
    assert (material.metallic_factor, material.roughness_factor) == (1.0, 1.0)


@pytest.mark.usefixtures("lossless")
def test_separate_occlusion_and_metallic_roughness_textures_are_packed(tmp_path: Path) -> None:
    asset = pbr_box()
    mr = asset.materials[0].occlusion_roughness_metallic_texture
    assert mr is not None
    (path, *_) = save(asset, tmp_path / "box.gltf")
    occlusion = noise(2, 2, 3, 7)  # half the size of the metallic-roughness texture
    Image.fromarray(occlusion).save(tmp_path / "occlusion.png")

    def separate(document: dict[str, Any]) -> None:
        document["images"].append({"uri": "occlusion.png", "mimeType": "image/png"})
        document["textures"].append({"sampler": 0, "source": len(document["images"]) - 1})
        document["materials"][0]["occlusionTexture"] = {"index": len(document["textures"]) - 1}

    edit_gltf(path, separate)
    orm = load(path).materials[0].occlusion_roughness_metallic_texture
    assert orm is not None and orm.image.shape == (4, 4, 3)
    assert np.array_equal(orm.image[..., 1:], mr.image[..., 1:])
    upscaled = np.asarray(
        Image.fromarray(occlusion[..., 0]).resize((4, 4), Image.Resampling.BILINEAR)
    )
    assert np.array_equal(orm.image[..., 0], upscaled)


@pytest.mark.usefixtures("lossless")
@pytest.mark.parametrize("keep", ["occlusionTexture", "metallicRoughnessTexture"])
def test_one_of_the_two_textures_fills_the_other_channels_with_white(
    tmp_path: Path, keep: str
) -> None:
    asset = pbr_box()
    mr = asset.materials[0].occlusion_roughness_metallic_texture
    assert mr is not None
    (path, *_) = save(asset, tmp_path / "box.gltf")

    def only(document: dict[str, Any]) -> None:
        material = document["materials"][0]
        if keep == "occlusionTexture":
            del material["pbrMetallicRoughness"]["metallicRoughnessTexture"]
        else:
            del material["occlusionTexture"]

    edit_gltf(path, only)
    orm = load(path).materials[0].occlusion_roughness_metallic_texture
    assert orm is not None
    expected = mr.image.copy()
    if keep == "occlusionTexture":
        expected[..., 1:] = 255
    else:
        expected[..., 0] = 255
    assert np.array_equal(orm.image, expected)


def test_node_transforms_move_vertices_and_normals(tmp_path: Path) -> None:
    asset = pbr_box()
    (path, *_) = save(asset, tmp_path / "box.gltf")
    half = float(np.sqrt(0.5))

    def place(document: dict[str, Any]) -> None:
        # 90 degrees about +X, then a mirror in X: the faces must still point outwards.
        document["nodes"][0]["rotation"] = [half, 0.0, 0.0, half]
        document["nodes"][0]["scale"] = [-2.0, 1.0, 1.0]
        document["nodes"][0]["translation"] = [0.0, 1.0, 0.0]

    edit_gltf(path, place)
    (mesh,) = load(path).meshes
    source = asset.meshes[0]
    rotate = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    linear = rotate @ np.diag([-2.0, 1.0, 1.0])
    np.testing.assert_allclose(mesh.vertices, source.vertices @ linear.T + [0, 1, 0], atol=1e-6)
    expected = source.normals @ np.linalg.inv(linear)  # type: ignore[operator]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(mesh.normals, expected, atol=1e-6)  # type: ignore[arg-type]
    tri = mesh.vertices[mesh.faces]
    volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6
    assert volume == pytest.approx(2.0)


def test_meshes_sharing_a_material_share_one(tmp_path: Path) -> None:
    asset = pbr_box()
    second = Mesh(asset.meshes[0].vertices + 2.0, asset.meshes[0].faces, uv=asset.meshes[0].uv)
    asset.meshes.append(second)
    back = round_trip(asset, tmp_path / "two.glb")
    assert [m.material for m in back.meshes] == [0, 0]
    assert len(back.materials) == 1


def test_obj_colour_and_texture(tmp_path: Path) -> None:
    asset = box_asset(1, 1, 1, textured=True)
    asset.materials[0].base_color_factor = (0.25, 0.5, 0.75, 0.5)
    back = round_trip(asset, tmp_path / "box.obj").materials[0]
    assert back.base_color_factor == (0.25, 0.5, 0.75, 0.5)
    assert back.alpha_mode == "BLEND"
    assert back.base_color_texture is not None and back.base_color_texture.image.shape == (4, 4, 3)


def test_ply_uvs_without_a_texture_get_no_texture(tmp_path: Path) -> None:
    back = round_trip(pbr_box(), tmp_path / "box.ply")
    assert back.meshes[0].uv is not None and back.meshes[0].normals is not None
    assert back.materials[back.meshes[0].material].base_color_texture is None


def test_two_materials_on_one_image_both_get_it(tmp_path: Path) -> None:
    image = noise(4, 4, 4, 9)
    materials = [
        Material(name=n, base_color_texture=Texture(image), alpha_mode="BLEND") for n in "ab"
    ]
    box = pbr_box().meshes[0]
    meshes = [box, Mesh(box.vertices + 2.0, box.faces, uv=box.uv, material=1)]
    back = round_trip(Asset(meshes=meshes, materials=materials), tmp_path / "two.glb")
    for material in back.materials:
        assert material.base_color_texture is not None
        assert np.array_equal(material.base_color_texture.image, image)


def test_unknown_suffix_names_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "chair.fbx"
    path.write_bytes(b"Kaydara FBX Binary")
    with pytest.raises(InputError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith("load: cannot read chair.fbx: .fbx is not a mesh format")
    assert info.value.stage == "load"
    assert all(suffix in message for suffix in SUPPORTED_SUFFIXES)
    assert ".usdz" in message and ".glb" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nothing\.glb does not exist"):
        load(tmp_path / "nothing.glb")
