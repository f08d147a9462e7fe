"""weld: coincident vertices merge; UV seams and hard edges stay unless asked."""

from __future__ import annotations

import numpy as np
import pytest

from meshes import CUBE_FACES, CUBE_VERTICES
from meshforge.asset import Asset, Mesh
from meshforge.transforms import weld
from meshforge.validate.checks import mesh_facts


def _soup(uv_seam: bool = False) -> Asset:
    """The unit cube with one vertex per face corner (36), as many exporters write it."""
    vertices = CUBE_VERTICES[CUBE_FACES.reshape(-1)]
    uv = vertices[:, :2].copy()
    if uv_seam:
        # The z = 1 side gets its own island: its four corners are on a seam.
        on_top = np.repeat(np.all(CUBE_VERTICES[CUBE_FACES][:, :, 2] == 1, axis=1), 3)
        uv[on_top, 0] += 2.0
    return Asset(meshes=[Mesh(vertices=vertices, faces=np.arange(36).reshape(-1, 3), uv=uv)])


def test_face_corner_cube_welds_to_eight_vertices() -> None:
    asset = _soup().transform(weld())
    mesh = asset.meshes[0]
    assert len(mesh.vertices) == 8
    assert len(mesh.faces) == 12
    assert mesh_facts(asset)["watertight"] is True
    report = asset.reports[-1]
    assert report.changes == {"vertices": (36, 8)}
    assert report.details == {
        "vertices_merged": 28,
        "seam_vertices_kept": 0,
        "collapsed_faces_removed": 0,
    }


def test_uv_seam_is_kept() -> None:
    asset = _soup(uv_seam=True).transform(weld())
    mesh = asset.meshes[0]
    assert len(mesh.vertices) == 12
    assert mesh.uv is not None
    # Every face corner still samples the texture where it did.
    before = _soup(uv_seam=True).meshes[0]
    assert np.array_equal(mesh.uv[mesh.faces], before.uv[before.faces])  # type: ignore[index]
    assert asset.reports[-1].details["seam_vertices_kept"] == 4
    assert mesh_facts(asset)["watertight"] is True


def test_uv_seam_merged_when_asked() -> None:
    asset = _soup(uv_seam=True).transform(weld(keep_seams=False))
    assert len(asset.meshes[0].vertices) == 8
    assert asset.reports[-1].changes == {"vertices": (36, 8)}


def test_normals_count_as_a_seam() -> None:
    soup = _soup().meshes[0]
    normals = np.repeat(
        np.cross(*np.swapaxes(np.diff(soup.vertices[soup.faces], axis=1), 0, 1)), 3, 0
    )
    asset = Asset(meshes=[Mesh(soup.vertices, soup.faces, normals=normals)]).transform(weld())
    # Each corner touches three flat sides: 8 corners x 3 normals.
    assert len(asset.meshes[0].vertices) == 24


def test_tolerance() -> None:
    vertices = CUBE_VERTICES[CUBE_FACES.reshape(-1)].copy()
    vertices[0] += 4e-7
    vertices[1] += 1e-3
    asset = Asset(meshes=[Mesh(vertices=vertices, faces=np.arange(36).reshape(-1, 3))])
    assert len(asset.transform(weld()).meshes[0].vertices) == 9
    assert len(asset.transform(weld(tolerance=0.0)).meshes[0].vertices) == 10
    assert len(asset.transform(weld(tolerance=0.01)).meshes[0].vertices) == 8


def test_collapsed_faces_and_nan_vertices() -> None:
    vertices = np.vstack([CUBE_VERTICES, [[0.0, 0.0, 1e-8]], [[np.nan, 0.0, 0.0]] * 2])
    faces = np.vstack([CUBE_FACES, [[0, 8, 2]], [[9, 10, 3]]])
    asset = Asset(meshes=[Mesh(vertices=vertices, faces=faces)]).transform(weld())
    mesh = asset.meshes[0]
    # The 1e-8 vertex joins corner 0 and its face collapses; NaN vertices never merge.
    assert len(mesh.vertices) == 10
    assert len(mesh.faces) == 13
    assert asset.reports[-1].details["collapsed_faces_removed"] == 1


def test_clean_mesh_is_unchanged_and_input_untouched() -> None:
    asset = Asset(meshes=[Mesh(vertices=CUBE_VERTICES, faces=CUBE_FACES)])
    result = asset.transform(weld())
    assert np.array_equal(result.meshes[0].vertices, CUBE_VERTICES)
    assert np.array_equal(result.meshes[0].faces, CUBE_FACES)
    assert result.reports[-1].changes == {}
    soup = _soup()
    soup.transform(weld())
    assert len(soup.meshes[0].vertices) == 36


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        weld(tolerance=-1.0)


def test_kept_vertices_come_in_order_of_first_appearance() -> None:
    # Corners 0, 3 and 5 share a point and a UV, corner 1 shares the point but not the UV.
    vertices = np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0]], float)
    uv = np.array([[0, 0], [0.5, 0], [1, 0], [0, 0], [0, 1], [0, 0]], float)
    faces = np.array([[0, 2, 4], [1, 2, 4], [3, 4, 2], [5, 2, 4]])
    asset = Asset(meshes=[Mesh(vertices=vertices, faces=faces, uv=uv)]).transform(weld())
    mesh = asset.meshes[0]
    assert np.array_equal(mesh.vertices, vertices[[0, 1, 2, 4]])
    assert np.array_equal(mesh.uv, uv[[0, 1, 2, 4]])  # type: ignore[arg-type]
    assert np.array_equal(mesh.faces, [[0, 2, 3], [1, 2, 3], [0, 3, 2], [0, 2, 3]])
    assert asset.reports[-1].details == {
        "vertices_merged": 2,
        "seam_vertices_kept": 1,
        "collapsed_faces_removed": 0,
    }


def test_nan_attributes_never_match() -> None:
    # Four corners at one point: two with one UV merge, two with a NaN UV stay apart.
    vertices = np.array([[0, 0, 0]] * 4 + [[1, 0, 0], [0, 1, 0]], float)
    uv = np.array([[0, 0], [np.nan, 0], [0, 0], [np.nan, 0], [1, 0], [0, 1]], float)
    faces = np.array([[0, 4, 5], [1, 4, 5], [2, 4, 5], [3, 4, 5]])
    asset = Asset(meshes=[Mesh(vertices=vertices, faces=faces, uv=uv)]).transform(weld())
    mesh = asset.meshes[0]
    assert np.array_equal(mesh.faces, [[0, 3, 4], [1, 3, 4], [0, 3, 4], [2, 3, 4]])
    assert asset.reports[-1].details["seam_vertices_kept"] == 2
