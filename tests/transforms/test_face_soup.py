"""face_soup: every mesh's faces over shared positions, and back, with added vertices."""

from __future__ import annotations

import numpy as np
import pytest

from meshes import CUBE_FACES, CUBE_VERTICES
from meshforge.asset import Asset, Mesh
from meshforge.transforms.face_soup import FaceSoup


def _two_meshes() -> Asset:
    uv = CUBE_VERTICES[:, :2]
    normals = CUBE_VERTICES - 0.5
    return Asset(
        meshes=[
            Mesh(CUBE_VERTICES, CUBE_FACES[:6], uv=uv, normals=normals, material=0),
            Mesh(CUBE_VERTICES + 0.0, CUBE_FACES[6:], material=1, name="plain"),
        ]
    )


def test_round_trip_keeps_every_array() -> None:
    asset = _two_meshes()
    soup = FaceSoup.of(asset)
    assert soup.offsets.tolist() == [0, 8, 16]
    assert soup.mesh.tolist() == [0] * 6 + [1] * 6
    # One point per position across meshes: the second mesh's corners share the first's.
    assert np.array_equal(soup.pid[:8], soup.pid[8:])
    meshes, unused, flipped = soup.to_meshes()
    assert (unused, flipped) == (0, 0)
    for before, after in zip(asset.meshes, meshes, strict=True):
        assert np.array_equal(before.faces, after.faces)
        assert after.material == before.material and after.name == before.name
    assert meshes[0].uv is not None and np.array_equal(meshes[0].uv, CUBE_VERTICES[:, :2])
    assert meshes[1].uv is None and meshes[1].normals is None


def test_keep_and_flip_stay_in_step_with_the_index() -> None:
    soup = FaceSoup.of(_two_meshes())
    mask = np.ones(12, dtype=bool)
    mask[[0, 7]] = False
    assert soup.keep(mask) == 2
    assert soup.mesh.tolist() == [0] * 5 + [1] * 5
    assert soup.index.faces == 10
    soup.flip(np.arange(10) == 0)
    assert soup.flipped.tolist() == [True] + [False] * 9
    meshes, _, _ = soup.to_meshes()
    assert [len(m.faces) for m in meshes] == [5, 5]
    # Face 1 of the first mesh came back reversed.
    assert meshes[0].faces[0].tolist() == CUBE_FACES[1, ::-1].tolist()


def test_added_vertices_average_their_mesh_and_follow_its_own() -> None:
    soup = FaceSoup.of(_two_meshes())
    point = soup.new_point()
    assert point == int(soup.pid.max()) + 1 and soup.new_point() == point + 1
    like = np.array([0, 1, 2, 3, 8 + 7])  # four of mesh 0 and one of mesh 1
    centre = soup.add_vertex(0, np.array([0.0, 0.5, 0.5]), point, like)
    assert centre == 16
    soup.add(np.array([[0, 1, centre]]), np.array([0]))
    assert soup.vertices_added == 1
    assert soup.pid[centre] == point and soup.index.n > point
    meshes, _, _ = soup.to_meshes()
    first = meshes[0]
    assert len(first.vertices) == 9 and first.faces[-1].tolist() == [0, 1, 8]
    assert first.vertices[8] == pytest.approx([0.0, 0.5, 0.5])
    # Means over the mesh's own vertices in ``like`` (0-3), the normal made unit length.
    assert first.uv is not None and first.uv[8] == pytest.approx([0.0, 0.5])
    assert first.normals is not None and first.normals[8] == pytest.approx([-1.0, 0.0, 0.0])
