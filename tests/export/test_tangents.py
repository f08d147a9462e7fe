"""TANGENT on normal-mapped primitives: bake's tangent frame, and the Khronos validator's view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meshforge.asset import Asset, Material, Mesh, Texture
from meshforge.export.glb import build_document
from meshforge.export.registry import save
from meshforge.validate.gltf_validator import run_gltf_validator


def mapped_quad(normals: bool = True) -> Asset:
    """The unit square in z = 0 facing +z, u along +x, v = 1 - y (so +y is up the image)."""
    vertices = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
    flat = np.zeros((8, 8, 3), dtype=np.uint8) + np.array([128, 128, 255], dtype=np.uint8)
    mesh = Mesh(
        vertices=vertices,
        faces=[[0, 1, 2], [0, 2, 3]],
        uv=np.column_stack([vertices[:, 0], 1 - vertices[:, 1]]),
        normals=np.tile([0.0, 0.0, 1.0], (4, 1)) if normals else None,
    )
    return Asset(meshes=[mesh], materials=[Material(normal_texture=Texture(flat, "n"))])


def tangents(asset: Asset) -> np.ndarray:
    builder = build_document(asset)
    accessor = builder.gltf["accessors"][
        builder.gltf["meshes"][0]["primitives"][0]["attributes"]["TANGENT"]
    ]
    view = builder.gltf["bufferViews"][accessor["bufferView"]]
    assert (accessor["type"], accessor["componentType"]) == ("VEC4", 5126)
    data = bytes(builder.blob[view["byteOffset"] : view["byteOffset"] + view["byteLength"]])
    return np.frombuffer(data, dtype=np.float32).reshape(-1, 4)


@pytest.mark.parametrize("normals", [True, False])
def test_quad_tangent_is_plus_x_right_handed(normals: bool) -> None:
    # glTF: bitangent = cross(normal, tangent) * w = +z x +x = +y, up the image: w = +1.
    assert np.allclose(tangents(mapped_quad(normals)), [1, 0, 0, 1], atol=1e-6)


def test_mirrored_uvs_flip_the_handedness() -> None:
    asset = mapped_quad()
    asset.meshes[0].uv = np.column_stack([asset.meshes[0].uv[:, 0], 1 - asset.meshes[0].uv[:, 1]])
    assert np.allclose(tangents(asset), [1, 0, 0, -1], atol=1e-6)


def test_no_tangent_without_a_normal_map() -> None:
    asset = mapped_quad()
    asset.materials[0].normal_texture = None
    assert "TANGENT" not in build_document(asset).gltf["meshes"][0]["primitives"][0]["attributes"]


def test_validator_accepts_the_tangents(tmp_path: Path) -> None:
    (path,) = save(mapped_quad(normals=False), tmp_path / "quad.glb")
    result = run_gltf_validator(path)
    assert result.ran, result
    codes = [issue.code for issue in result.issues]
    assert result.num_errors == 0, codes
    assert "MESH_PRIMITIVE_GENERATED_TANGENT_SPACE" not in codes


def test_zero_and_unnormalised_normals_are_written_as_unit_vectors() -> None:
    from meshforge.export.glb import unit_normals

    normals = np.array([[0.0, 0.0, 0.0], [0.0, 3.0, 4.0], [np.nan, 0.0, 0.0]])
    np.testing.assert_allclose(unit_normals(normals), [[0, 1, 0], [0, 0.6, 0.8], [0, 1, 0]])
