"""orient: named source axes become +Y up and +Z front; auto reads the flattest large base."""

from __future__ import annotations

import numpy as np
import pytest

from meshes import box_asset
from meshforge.asset import RealSize
from meshforge.transforms.orient import OrientOptions, orient


def test_z_up_box_becomes_y_up() -> None:
    asset = box_asset(2.0, 3.0, 4.0, offset=(0.0, 0.0, 2.0)).transform(orient(up="+z"))
    assert asset.extents().tolist() == pytest.approx([2.0, 4.0, 3.0])
    # (x, y, z) -> (x, z, -y): the top (z = 4) is now y = 4, the old -y side faces +z.
    low, high = asset.bounds()
    assert low.tolist() == pytest.approx([-1.0, 0.0, -1.5])
    assert high.tolist() == pytest.approx([1.0, 4.0, 1.5])
    report = asset.reports[-1]
    assert report.details["rotation"] == [[1, 0, 0], [0, 0, 1], [0, -1, 0]]
    assert report.changes["up_axis"] == ("+z", "+y")
    assert report.changes["front_axis"] == ("-y", "+z")


def test_given_front_turns_about_up() -> None:
    asset = box_asset(2.0, 3.0, 4.0).transform(orient(up="+y", front="+x"))
    assert asset.extents().tolist() == pytest.approx([4.0, 3.0, 2.0])
    rotation = np.array(asset.reports[-1].details["rotation"])
    assert rotation @ [1, 0, 0] == pytest.approx([0, 0, 1])
    assert rotation @ [0, 1, 0] == pytest.approx([0, 1, 0])


def test_default_orientation_changes_nothing() -> None:
    original = box_asset(2.0, 3.0, 4.0)
    asset = original.transform(orient())
    assert np.array_equal(asset.meshes[0].vertices, original.meshes[0].vertices)
    assert asset.reports[-1].changes == {}


def test_rotation_keeps_winding_normals_camera_and_size() -> None:
    original = box_asset(2.0, 3.0, 4.0, with_camera=True)
    original.meshes[0].normals = np.tile([0.0, 0.0, 1.0], (8, 1))
    original.size = RealSize(2.0, 3.0, 4.0, source="user")
    asset = original.transform(orient(up="+z"))
    mesh = asset.meshes[0]
    assert mesh.normals is not None and mesh.normals[0] == pytest.approx([0.0, 1.0, 0.0])
    tri = mesh.vertices[mesh.faces]
    signed = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6
    assert signed == pytest.approx(24.0)  # still outward: a rotation never mirrors
    assert asset.size is not None
    assert (asset.size.width, asset.size.height, asset.size.depth) == (2.0, 4.0, 3.0)
    assert original.camera is not None and asset.camera is not None
    corner = original.meshes[0].vertices[:1]
    before = original.camera.project(corner)
    after = asset.camera.project(mesh.vertices[:1])
    assert after[0] == pytest.approx(before[0])


def test_auto_finds_a_z_up_plate() -> None:
    # A plate lying in x-y (Z up): its large base faces -z.
    asset = box_asset(2.0, 3.0, 0.5).transform(orient(up="auto"))
    assert asset.extents().tolist() == pytest.approx([2.0, 0.5, 3.0])
    details = asset.reports[-1].details
    assert details["up"] == "+z" and details["base_area"]["-z"] == pytest.approx(6.0)


def test_auto_keeps_y_up_when_no_base_is_clearly_larger() -> None:
    asset = box_asset(2.0, 2.0, 2.0).transform(orient(up="auto"))
    assert asset.reports[-1].details["up"] == "+y" and asset.reports[-1].changes == {}


def test_up_and_front_must_differ() -> None:
    with pytest.raises(ValueError, match="different axes"):
        OrientOptions(up="+z", front="-z")
    with pytest.raises(ValueError, match="auto"):
        orient(up="up")  # type: ignore[arg-type]
