"""Every exporter on a tiny textured box: structure, units, axes, and trimesh reads it back."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import trimesh

from meshes import box_asset
from meshforge.errors import ExportError
from meshforge.export.registry import exporters, save
from meshforge.transforms import pivot


def read_glb(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, total) == (b"glTF", 2, len(data))
    json_len, json_type = struct.unpack_from("<I4s", data, 12)
    assert json_type == b"JSON" and json_len % 4 == 0
    document = json.loads(data[20 : 20 + json_len])
    bin_len, bin_type = struct.unpack_from("<I4s", data, 20 + json_len)
    assert bin_type == b"BIN\x00"
    return document, data[28 + json_len : 28 + json_len + bin_len]


def test_glb_structure(tmp_path: Path) -> None:
    asset = box_asset(0.1, 0.2, 0.3, textured=True).transform(pivot())
    (path,) = save(asset, tmp_path / "box.glb")
    doc, blob = read_glb(path)
    assert doc["asset"]["version"] == "2.0"
    assert len(doc["meshes"]) == 1 and len(doc["meshes"][0]["primitives"]) == 1
    primitive = doc["meshes"][0]["primitives"][0]
    assert set(primitive["attributes"]) == {"POSITION", "TEXCOORD_0"}
    position = doc["accessors"][primitive["attributes"]["POSITION"]]
    assert position["count"] == 8 and position["type"] == "VEC3"
    assert position["min"] == pytest.approx([-0.05, 0.0, -0.15])
    assert position["max"] == pytest.approx([0.05, 0.2, 0.15])
    assert doc["accessors"][primitive["indices"]]["count"] == 36
    pbr = doc["materials"][primitive["material"]]["pbrMetallicRoughness"]
    assert pbr["metallicFactor"] == 0.0 and pbr["roughnessFactor"] == 0.8
    image = doc["images"][doc["textures"][pbr["baseColorTexture"]["index"]]["source"]]
    assert image["mimeType"] == "image/jpeg"
    assert doc["buffers"][0]["byteLength"] == len(blob)


def test_glb_reads_back_in_trimesh(tmp_path: Path) -> None:
    asset = box_asset(0.1, 0.2, 0.3, textured=True).transform(pivot())
    (path,) = save(asset, tmp_path / "box.glb")
    scene = trimesh.load(path)
    (mesh,) = scene.geometry.values()
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume == pytest.approx(0.1 * 0.2 * 0.3)
    assert np.allclose(mesh.bounds, [[-0.05, 0, -0.15], [0.05, 0.2, 0.15]], atol=1e-7)
    # trimesh flips v on import; the texel at glTF uv (0, 0) is the image's top-left (red).
    texture = np.asarray(mesh.visual.material.baseColorTexture.convert("RGB")).astype(int)
    assert texture.shape == (4, 4, 3)
    assert texture[0, 0, 0] > 200 and texture[0, 0, 1:].max() < 70
    assert texture[3, 3].max() < 70


def test_obj_with_material_and_texture(tmp_path: Path) -> None:
    asset = box_asset(0.1, 0.2, 0.3, textured=True)
    paths = save(asset, tmp_path / "box.obj")
    assert [p.name for p in paths] == ["box.obj", "box.mtl", "box_m0_basecolor.jpg"]
    assert "map_Kd box_m0_basecolor.jpg" in (tmp_path / "box.mtl").read_text()
    mesh = trimesh.load(paths[0], force="mesh")
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(0.006, rel=1e-5)


def test_stl_is_millimetres_z_up(tmp_path: Path) -> None:
    asset = box_asset(0.1, 0.2, 0.3).transform(pivot())
    (path,) = save(asset, tmp_path / "box.stl")
    assert path.stat().st_size == 84 + 50 * 12
    mesh = trimesh.load(path)
    assert np.allclose(mesh.bounds, [[-50, -150, 0], [50, 150, 200]], atol=1e-3)
    assert mesh.is_watertight and mesh.volume == pytest.approx(100 * 200 * 300, rel=1e-5)


def test_ply_round_trip(tmp_path: Path) -> None:
    asset = box_asset(0.1, 0.2, 0.3, textured=True)
    (path,) = save(asset, tmp_path / "box.ply")
    mesh = trimesh.load(path, process=False)
    assert np.allclose(mesh.vertices, asset.meshes[0].vertices, atol=1e-7)
    assert np.array_equal(mesh.faces, asset.meshes[0].faces)


def test_unknown_format_and_empty_asset(tmp_path: Path) -> None:
    asset = box_asset(1, 1, 1)
    with pytest.raises(ExportError, match="export: unknown format 'fbx'"):
        save(asset, tmp_path / "x.fbx")
    asset.meshes[0].faces = np.zeros((0, 3), dtype=np.int64)
    with pytest.raises(ExportError, match="no faces"):
        save(asset, tmp_path / "x.glb")
    assert not list(tmp_path.iterdir())


def test_registry_lists_every_format() -> None:
    assert set(exporters()) == {"glb", "gltf", "obj", "stl", "3mf", "ply", "usdz"}


@pytest.mark.parametrize("name", sorted(exporters()))
def test_failed_write_keeps_the_existing_files(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if name == "usdz":
        pytest.importorskip("pxr")
    asset = box_asset(0.1, 0.2, 0.3, textured=True)
    save(asset, tmp_path / f"box.{name}")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def disk_full(self: Path, data: bytes) -> int:
        with self.open("wb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(ExportError, match="No space left on device"):
        save(box_asset(1, 1, 1, textured=True), tmp_path / f"box.{name}")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_the_recipe_offers_every_registered_format() -> None:
    from meshforge.export.registry import exporters
    from meshforge.recipe import EXPORT_FORMATS

    assert sorted(EXPORT_FORMATS) == sorted(exporters())


def test_stl_reads_back_in_metres_y_up(tmp_path: Path) -> None:
    from meshforge.api import load

    asset = box_asset(0.1, 0.2, 0.3).transform(pivot())
    save(asset, tmp_path / "box.stl")
    back = load(tmp_path / "box.stl")
    np.testing.assert_allclose(back.bounds(), asset.bounds(), atol=1e-6)
    # A rotation, not a reflection: the faces still point outwards.
    tri = back.meshes[0].vertices[back.meshes[0].faces]
    volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6
    assert volume == pytest.approx(float(np.prod(asset.extents())), rel=1e-5)
