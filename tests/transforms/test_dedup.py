"""dedup: repeated faces, unused vertices, identical meshes, materials and textures go."""

from __future__ import annotations

import numpy as np

from meshes import CUBE_FACES, CUBE_VERTICES, box_asset
from meshforge.asset import Asset, Material, Mesh, Texture
from meshforge.transforms import dedup
from meshforge.validate.checks import mesh_facts


def test_duplicate_faces_in_any_order_or_winding() -> None:
    faces = np.vstack([CUBE_FACES, CUBE_FACES[0], np.roll(CUBE_FACES[1], 1), CUBE_FACES[2, ::-1]])
    asset = Asset(meshes=[Mesh(vertices=CUBE_VERTICES, faces=faces)]).transform(dedup())
    assert np.array_equal(asset.meshes[0].faces, CUBE_FACES)
    report = asset.reports[-1]
    assert report.changes == {"faces": (15, 12)}
    assert report.details["duplicate_faces_removed"] == 3
    assert mesh_facts(asset)["watertight"] is True


def test_faces_over_seam_copies_are_duplicates() -> None:
    # Vertex 8 sits where vertex 0 does (a UV seam copy); face [8, 1, 3] repeats face [0, 1, 3].
    vertices = np.vstack([CUBE_VERTICES, CUBE_VERTICES[0]])
    faces = np.vstack([CUBE_FACES, [[8, 1, 3]]])
    asset = Asset(meshes=[Mesh(vertices=vertices, faces=faces)]).transform(dedup())
    assert len(asset.meshes[0].faces) == 12
    assert len(asset.meshes[0].vertices) == 8
    assert asset.reports[-1].details["unused_vertices_removed"] == 1


def test_unused_vertices_keep_uv() -> None:
    vertices = np.vstack([[[5.0, 5.0, 5.0]], CUBE_VERTICES])
    uv = np.vstack([[[0.9, 0.9]], CUBE_VERTICES[:, :2]])
    asset = Asset(meshes=[Mesh(vertices=vertices, faces=CUBE_FACES + 1, uv=uv)])
    result = asset.transform(dedup())
    mesh = result.meshes[0]
    assert np.array_equal(mesh.vertices, CUBE_VERTICES)
    assert np.array_equal(mesh.faces, CUBE_FACES)
    assert np.array_equal(mesh.uv, CUBE_VERTICES[:, :2])  # type: ignore[arg-type]
    assert result.reports[-1].changes == {"vertices": (9, 8)}


def test_identical_meshes_materials_and_textures() -> None:
    red = np.zeros((2, 2, 3), dtype=np.uint8)
    red[..., 0] = 255
    materials = [
        Material(name="a", base_color_texture=Texture(red.copy())),
        Material(name="b", base_color_texture=Texture(red.copy())),
        Material(name="c", base_color_texture=Texture(red.copy()), roughness_factor=0.2),
    ]
    meshes = [
        Mesh(vertices=CUBE_VERTICES, faces=CUBE_FACES, material=0),
        Mesh(vertices=CUBE_VERTICES, faces=CUBE_FACES, material=1),
        Mesh(vertices=CUBE_VERTICES + 2.0, faces=CUBE_FACES, material=2),
    ]
    result = Asset(meshes=meshes, materials=materials).transform(dedup())
    report = result.reports[-1]
    assert report.changes == {
        "meshes": (3, 2),
        "materials": (3, 2),
        "textures": (3, 1),
        "faces": (36, 24),
        "vertices": (24, 16),
    }
    assert report.details == {
        "duplicate_faces_removed": 0,
        "unused_vertices_removed": 0,
        "duplicate_meshes_removed": 1,
        "duplicate_materials_removed": 1,
        "duplicate_textures_removed": 2,
    }
    assert [m.name for m in result.materials] == ["a", "c"]
    assert [m.material for m in result.meshes] == [0, 1]
    assert result.materials[0].base_color_texture is result.materials[1].base_color_texture
    # The input keeps its own textures.
    assert materials[2].base_color_texture is not materials[0].base_color_texture


def test_clean_asset_is_unchanged() -> None:
    asset = box_asset(1.0, 2.0, 3.0, textured=True)
    result = asset.transform(dedup())
    assert result.reports[-1].changes == {}
    assert np.array_equal(result.meshes[0].faces, asset.meshes[0].faces)
    assert result.materials[0] is asset.materials[0]


def test_empty_asset_is_fine() -> None:
    result = Asset(meshes=[]).transform(dedup())
    assert result.meshes == []
    assert result.reports[-1].changes == {}


def test_unique_faces_with_ids_too_wide_to_pack() -> None:
    # Ids spread over 2**60 cannot be packed three to an int64 key; the mask stays the same.
    from meshforge.transforms.dedup import unique_face_mask

    faces = np.array([[0, 1, 2], [2, 0, 1], [1, 2, 3], [3, 2, 1], [0, 1, 3], [0, 2, 1]])
    wide = np.array([0, 2**60, 5, 2**61])
    expected = [True, False, True, False, True, False]
    assert unique_face_mask(faces, wide).tolist() == expected
    assert unique_face_mask(faces, np.arange(4)).tolist() == expected
