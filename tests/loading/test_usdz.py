"""USD and USDZ through ``load``: meshforge's own USDZ reads back whole; other stages are brought
into metres, +Y up, with their UsdPreviewSurface maps packed the glTF way."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from meshes import box_asset
from meshforge.api import load
from meshforge.asset import RealSize
from meshforge.errors import DependencyError, InputError
from meshforge.export.registry import save

from .assets import noise, pbr_box


@pytest.mark.usefixtures("lossless")
def test_usdz_round_trip_keeps_geometry_maps_and_factors(tmp_path: Path) -> None:
    asset = pbr_box()
    asset.size = RealSize(1.0, 1.0, 1.0, source="user")
    save(asset, tmp_path / "box.usdz")
    back = load(tmp_path / "box.usdz")
    (mesh,) = back.meshes
    source = asset.meshes[0]
    assert len(mesh.vertices) == len(source.vertices) == 8
    assert np.array_equal(mesh.faces, source.faces)
    np.testing.assert_allclose(mesh.vertices, source.vertices, atol=1e-6)  # metres, +Y up
    assert mesh.uv is not None and source.uv is not None
    np.testing.assert_allclose(mesh.uv, source.uv, atol=1e-6)
    np.testing.assert_allclose(mesh.normals, source.normals, atol=1e-6)  # type: ignore[arg-type]
    material, expected = back.materials[mesh.material], asset.materials[0]
    for key in ("base_color_texture", "normal_texture", "occlusion_roughness_metallic_texture"):
        got, want = getattr(material, key), getattr(expected, key)
        assert got is not None and np.array_equal(got.image, want.image), key
    assert material.base_color_texture.image.shape == (8, 16, 4)  # type: ignore[union-attr]
    assert material.base_color_factor == (0.2, 0.4, 0.6, 0.5)
    assert (material.metallic_factor, material.roughness_factor) == (0.25, 0.5)
    assert (material.alpha_mode, material.double_sided) == ("BLEND", True)
    assert back.size == asset.size
    assert back.provenance.engine_version == "usdz"


def test_usdz_round_trip_with_the_default_jpeg_textures(tmp_path: Path) -> None:
    asset = box_asset(0.1, 0.2, 0.3, textured=True)
    save(asset, tmp_path / "box.usdz")
    back = load(tmp_path / "box.usdz")
    np.testing.assert_allclose(back.bounds(), asset.bounds(), atol=1e-7)
    texture = back.materials[0].base_color_texture
    assert texture is not None and texture.image.shape == (4, 4, 3)
    material = back.materials[0]
    assert (material.metallic_factor, material.roughness_factor) == (0.0, 0.8)
    assert (material.alpha_mode, material.occlusion_roughness_metallic_texture) == ("OPAQUE", None)


def test_usdz_mask_and_constant_colour(tmp_path: Path) -> None:
    asset = box_asset(1, 1, 1)
    asset.materials[0].base_color_factor = (0.5, 0.25, 0.125, 0.75)
    asset.materials[0].alpha_mode = "MASK"
    asset.materials[0].alpha_cutoff = 0.25
    save(asset, tmp_path / "box.usdz")
    material = load(tmp_path / "box.usdz").materials[0]
    assert material.base_color_texture is None
    assert material.base_color_factor == (0.5, 0.25, 0.125, 0.75)
    assert material.alpha_mode == "MASK"
    assert material.alpha_cutoff == 0.25


def _stage(path: Path, up: str, meters_per_unit: float) -> Any:
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, up)
    UsdGeom.SetStageMetersPerUnit(stage, meters_per_unit)
    stage.SetDefaultPrim(UsdGeom.Xform.Define(stage, "/World").GetPrim())
    return stage


def test_z_up_centimetre_stage_reads_as_y_up_metres(tmp_path: Path) -> None:
    from pxr import Gf, Sdf, UsdGeom, Vt

    stage = _stage(tmp_path / "shelf.usda", UsdGeom.Tokens.z, 0.01)
    UsdGeom.Xform.Define(stage, "/World/Shelf").AddTranslateOp().Set(Gf.Vec3d(0, 0, 10))
    mesh = UsdGeom.Mesh.Define(stage, "/World/Shelf/Board")
    points = np.array([[0, 0, 0], [100, 0, 0], [100, 50, 0], [0, 50, 0], [0, 0, 20]], float)
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(points.astype(np.float32)))
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray([4, 3]))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray([0, 1, 2, 3, 1, 0, 4]))
    # Per corner: points 0 and 1 have other coordinates in the triangle than in the quad.
    st = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.75, 0], [0.5, 0], [0.5, 0.5]], float)
    primvar = UsdGeom.PrimvarsAPI(mesh).CreatePrimvar(
        "st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.faceVarying
    )
    primvar.Set(Vt.Vec2fArray.FromNumpy(st.astype(np.float32)))
    stage.GetRootLayer().Save()

    (loaded,) = load(tmp_path / "shelf.usda").meshes
    assert len(loaded.faces) == 3  # the quad as a fan of two triangles
    assert len(loaded.vertices) == 7  # 4 quad corners + 3 triangle corners with their own st
    corners = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6]])  # fan order, in face-corner indices
    point_of = np.array([0, 1, 2, 3, 1, 0, 4])[corners]
    world = (points + np.array([0.0, 0.0, 10.0])) * 0.01
    expected = np.column_stack([world[:, 0], world[:, 2], -world[:, 1]])  # (x, z, -y)
    np.testing.assert_allclose(loaded.vertices[loaded.faces], expected[point_of], atol=1e-7)
    assert loaded.uv is not None
    flipped = np.column_stack([st[:, 0], 1.0 - st[:, 1]])
    np.testing.assert_allclose(loaded.uv[loaded.faces], flipped[corners], atol=1e-7)
    a, b, c = loaded.vertices[loaded.faces[0]]
    normal = np.cross(b - a, c - a)
    np.testing.assert_allclose(normal / np.linalg.norm(normal), [0, 1, 0], atol=1e-9)  # +Z is +Y


def _texture(stage: Any, material: Any, name: str, file: str, scale: Any = None) -> Any:
    from pxr import Sdf, UsdShade

    shader = UsdShade.Shader.Define(stage, material.GetPath().AppendChild(name))
    shader.CreateIdAttr("UsdUVTexture")
    shader.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(file)
    if scale is not None:
        shader.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(scale)
    return shader


def _triangle(stage: Any, path: str) -> Any:
    from pxr import Sdf, UsdGeom, Vt

    mesh = UsdGeom.Mesh.Define(stage, path)
    mesh.CreatePointsAttr(Vt.Vec3fArray([(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)]))
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray([3, 3]))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray([0, 1, 2, 1, 3, 2]))
    UsdGeom.PrimvarsAPI(mesh).CreatePrimvar(
        "st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex
    ).Set(Vt.Vec2fArray([(0, 0), (1, 0), (0, 1), (1, 1)]))
    return mesh


def test_separate_preview_surface_maps_are_packed(tmp_path: Path) -> None:
    from pxr import Gf, Sdf, UsdGeom, UsdShade

    mask, rough, occlusion = noise(4, 4, 3, 11), noise(8, 8, 3, 12), noise(4, 4, 3, 13)
    for name, image in (("mask", mask), ("rough", rough), ("ao", occlusion)):
        Image.fromarray(image).save(tmp_path / f"{name}.png")
    stage = _stage(tmp_path / "lamp.usda", UsdGeom.Tokens.y, 1.0)
    mesh = _triangle(stage, "/World/Lamp")
    material = UsdShade.Material.Define(stage, "/World/Looks/Brass")
    surface = UsdShade.Shader.Define(stage, "/World/Looks/Brass/Surface")
    surface.CreateIdAttr("UsdPreviewSurface")
    material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
    colour = Gf.Vec3f(0.5, 0.25, 0.125)
    surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).Set(colour)
    surface.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(0.75)
    surface.CreateInput("opacityThreshold", Sdf.ValueTypeNames.Float).Set(0.25)
    sources = {
        "opacity": _texture(stage, material, "Mask", "./mask.png").CreateOutput(
            "r", Sdf.ValueTypeNames.Float
        ),
        "roughness": _texture(
            stage, material, "Rough", "./rough.png", Gf.Vec4f(1, 0.5, 1, 1)
        ).CreateOutput("g", Sdf.ValueTypeNames.Float),
        "occlusion": _texture(stage, material, "AO", "./ao.png").CreateOutput(
            "r", Sdf.ValueTypeNames.Float
        ),
    }
    for name, output in sources.items():
        surface.CreateInput(name, Sdf.ValueTypeNames.Float).ConnectToSource(output)
    UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim()).Bind(material)
    stage.GetRootLayer().Save()

    back = load(tmp_path / "lamp.usda")
    loaded = back.materials[back.meshes[0].material]
    assert loaded.name == "Brass"
    assert loaded.base_color_factor == (0.5, 0.25, 0.125, 1.0)
    assert loaded.alpha_mode == "MASK"
    base = loaded.base_color_texture
    assert base is not None and base.image.shape == (4, 4, 4)
    assert (base.image[..., :3] == 255).all()
    assert np.array_equal(base.image[..., 3], mask[..., 0])
    assert (loaded.roughness_factor, loaded.metallic_factor) == (0.5, 0.75)
    orm = loaded.occlusion_roughness_metallic_texture
    assert orm is not None and orm.image.shape == (8, 8, 3)
    up = np.asarray(Image.fromarray(occlusion[..., 0]).resize((8, 8), Image.Resampling.BILINEAR))
    assert np.array_equal(orm.image[..., 0], up)
    assert np.array_equal(orm.image[..., 1], rough[..., 1])
    assert (orm.image[..., 2] == 255).all()
    assert loaded.normal_texture is None


def test_geom_subsets_with_their_own_materials_become_meshes(tmp_path: Path) -> None:
    from pxr import Gf, Sdf, UsdGeom, UsdShade, Vt

    stage = _stage(tmp_path / "two.usda", UsdGeom.Tokens.y, 1.0)
    mesh = _triangle(stage, "/World/Tile")
    binding = UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim())
    for face, (name, colour) in enumerate((("Red", (1, 0, 0)), ("Blue", (0, 0, 1)))):
        material = UsdShade.Material.Define(stage, f"/World/Looks/{name}")
        surface = UsdShade.Shader.Define(stage, f"/World/Looks/{name}/Surface")
        surface.CreateIdAttr("UsdPreviewSurface")
        surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).Set(Gf.Vec3f(*colour))
        material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
        subset = binding.CreateMaterialBindSubset(name, Vt.IntArray([face]))
        UsdShade.MaterialBindingAPI.Apply(subset.GetPrim()).Bind(material)
    stage.GetRootLayer().Save()

    back = load(tmp_path / "two.usda")
    assert [len(m.faces) for m in back.meshes] == [1, 1]
    colours = [back.materials[m.material].base_color_factor for m in back.meshes]
    assert colours == [(1.0, 0.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0)]
    assert [len(m.vertices) for m in back.meshes] == [3, 3]


def test_a_missing_texture_is_a_clear_error(tmp_path: Path) -> None:
    from pxr import Sdf, UsdGeom, UsdShade

    stage = _stage(tmp_path / "lost.usda", UsdGeom.Tokens.y, 1.0)
    mesh = _triangle(stage, "/World/Lost")
    material = UsdShade.Material.Define(stage, "/World/Looks/Lost")
    surface = UsdShade.Shader.Define(stage, "/World/Looks/Lost/Surface")
    surface.CreateIdAttr("UsdPreviewSurface")
    material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
    texture = _texture(stage, material, "Colour", "./nowhere.png")
    surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(
        texture.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
    )
    UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim()).Bind(material)
    stage.GetRootLayer().Save()
    with pytest.raises(InputError, match=r"lost\.usda: the texture file \./nowhere\.png cannot"):
        load(tmp_path / "lost.usda")


def test_without_usd_core_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(box_asset(1, 1, 1), tmp_path / "box.usdz")
    monkeypatch.setitem(sys.modules, "pxr", None)
    with pytest.raises(DependencyError) as info:
        load(tmp_path / "box.usdz")
    assert info.value.hint == "pip install 'meshforge[usdz]'"
    assert info.value.stage == "load"


def test_an_unreadable_usd_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "broken.usda").write_text("#usda 1.0\n(\n  this is not usd\n")
    with pytest.raises(InputError, match=r"load: cannot read .*broken\.usda"):
        load(tmp_path / "broken.usda")
