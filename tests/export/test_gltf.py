"""glTF (.gltf + .bin + textures): the GLB's document, relative URIs, trimesh reads it back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from test_exporters import read_glb

from meshes import box_asset
from meshforge.export.registry import save
from meshforge.transforms import pivot


def test_gltf_files_and_relative_uris(tmp_path: Path) -> None:
    asset = box_asset(0.1, 0.2, 0.3, textured=True).transform(pivot())
    paths = save(asset, tmp_path / "box.gltf")
    assert [p.name for p in paths] == ["box.gltf", "box.bin", "box_image0.jpg"]
    assert all(p.is_file() for p in paths)
    doc = json.loads(paths[0].read_text())
    assert doc["buffers"] == [{"byteLength": paths[1].stat().st_size, "uri": "box.bin"}]
    assert doc["images"][0]["uri"] == "box_image0.jpg"
    assert doc["images"][0]["mimeType"] == "image/jpeg"
    assert "bufferView" not in doc["images"][0]
    assert paths[2].read_bytes()[:2] == b"\xff\xd8"
    # Same document as the GLB apart from where the buffer and the images live.
    (glb,) = save(asset, tmp_path / "box.glb")
    glb_doc, _ = read_glb(glb)
    for key in ("meshes", "nodes", "materials", "textures", "samplers"):
        assert doc[key] == glb_doc[key]


def test_gltf_reads_back_in_trimesh(tmp_path: Path) -> None:
    asset = box_asset(0.1, 0.2, 0.3, textured=True).transform(pivot())
    (path, *_) = save(asset, tmp_path / "box.gltf")
    scene = trimesh.load(path, process=False)
    (mesh,) = scene.geometry.values()
    assert np.allclose(mesh.vertices, asset.meshes[0].vertices, atol=1e-7)
    assert np.array_equal(mesh.faces, asset.meshes[0].faces)
    assert mesh.volume == pytest.approx(0.1 * 0.2 * 0.3)
    texture = np.asarray(mesh.visual.material.baseColorTexture.convert("RGB")).astype(int)
    assert texture.shape == (4, 4, 3)
    assert texture[0, 0, 0] > 200 and texture[0, 0, 1:].max() < 70


def test_gltf_uris_are_escaped(tmp_path: Path) -> None:
    paths = save(box_asset(1, 1, 1, textured=True), tmp_path / "my box.gltf")
    doc = json.loads(paths[0].read_text())
    assert doc["buffers"][0]["uri"] == "my%20box.bin"
    assert doc["images"][0]["uri"] == "my%20box_image0.jpg"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "my box.bin",
        "my box.gltf",
        "my box_image0.jpg",
    ]
