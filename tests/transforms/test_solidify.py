"""solidify: one closed solid from overlapping parts, a flat base, thin walls reported."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from meshes import box_asset
from meshforge.asset import Asset, Mesh
from meshforge.errors import TransformError
from meshforge.transforms.solidify import SolidifyOptions, drop_open_parts, solidify
from meshforge.validate.checks import mesh_facts


def as_trimesh(asset: Asset) -> trimesh.Trimesh:
    (mesh,) = asset.meshes
    return trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)


def test_two_overlapping_cubes_become_one_watertight_solid() -> None:
    a = box_asset(0.02, 0.02, 0.02)
    b = box_asset(0.02, 0.02, 0.02, offset=(0.01, 0.01, 0.0))
    asset = Asset(meshes=a.meshes + b.meshes, materials=a.materials).transform(solidify())
    solid = as_trimesh(asset)
    assert solid.is_watertight and solid.is_winding_consistent
    assert len(solid.split(only_watertight=False)) == 1
    union = 2 * 0.02**3 - 0.01 * 0.01 * 0.02  # two cubes less their overlap
    assert solid.volume == pytest.approx(union, rel=1e-9)
    report = asset.reports[-1]
    assert report.changes["parts"] == (2, 1)
    assert report.details["base_cut_mm"] == 0.0  # the cubes already stand flat
    assert report.details["thin_wall_fraction"] == 0.0 and report.warnings == []


def test_round_base_is_cut_flat() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.02)
    asset = Asset(meshes=[Mesh(sphere.vertices, sphere.faces)]).transform(solidify())
    solid = as_trimesh(asset)
    assert solid.is_watertight
    y = solid.vertices[:, 1]
    assert y.min() == pytest.approx(-0.02 + 0.001, abs=1e-9)
    at_min = np.abs(y - y.min()) < 1e-9
    assert at_min.sum() >= 10
    # The cut face is a flat disc: faces at min y, facing down, about pi * r^2 in area.
    down = np.all(np.abs(y[solid.faces] - y.min()) < 1e-9, axis=1)
    assert solid.face_normals[down][:, 1].tolist() == pytest.approx([-1.0] * int(down.sum()))
    disc = np.pi * (0.02**2 - 0.019**2)
    assert solid.area_faces[down].sum() == pytest.approx(disc, rel=0.1)
    assert asset.reports[-1].details["base_cut_mm"] == 1.0


def test_flatten_can_be_turned_off() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.02)
    asset = Asset(meshes=[Mesh(sphere.vertices, sphere.faces)])
    done = asset.transform(solidify(flatten_base=False))
    assert done.bounds()[0][1] == pytest.approx(-0.02)


def test_thin_plate_reports_thin_walls() -> None:
    asset = box_asset(0.05, 0.0005, 0.05).transform(solidify(min_wall_mm=1.0))
    report = asset.reports[-1]
    assert report.details["thin_wall_fraction"] > 0.95
    assert report.details["thinnest_wall_mm"] == pytest.approx(0.5, abs=1e-6)
    assert [w.code for w in report.warnings] == ["thin-walls"]


def test_a_flat_sheet_cannot_become_a_solid() -> None:
    # Repair closes the sheet's rim with a second sheet: closed, but around no volume.
    sheet = Mesh(
        vertices=np.array([[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]], dtype=float) * 0.1,
        faces=np.array([[0, 2, 1], [0, 3, 2]]),
    )
    with pytest.raises(TransformError, match="solidify: the closed surface encloses no volume"):
        Asset(meshes=[sheet]).transform(solidify())


def test_an_open_cup_is_closed_whatever_the_size_of_its_opening() -> None:
    # A 64-sided cup, 20 mm across and 20 mm high, open at the top: far past repair's default
    # hole size, closed anyway, since a print must be a solid.
    segments = 64
    theta = 2 * np.pi * np.arange(segments) / segments
    ring = np.column_stack([np.cos(theta), np.zeros(segments), np.sin(theta)]) * 0.01
    vertices = np.vstack([ring, ring + np.array([0, 0.02, 0]), [[0, 0, 0]]])
    i = np.arange(segments)
    j = (i + 1) % segments
    faces = np.vstack(
        [
            np.column_stack([i, j + segments, j]),
            np.column_stack([i, i + segments, j + segments]),
            np.column_stack([j, np.full(segments, 2 * segments), i]),
        ]
    )
    asset = Asset(meshes=[Mesh(vertices, faces)]).transform(solidify(flatten_base=False))
    solid = as_trimesh(asset)
    assert solid.is_watertight and solid.is_winding_consistent
    prism = 32 * np.sin(2 * np.pi / segments) * 0.01**2 * 0.02
    assert solid.volume == pytest.approx(prism, rel=1e-6)
    details = asset.reports[-1].details
    assert details["repair"]["details"]["largest_hole_filled"] == 64
    assert details["volume_m3"] == pytest.approx(prism, rel=1e-6)


def test_boxes_stacked_face_to_face_become_one_box() -> None:
    # The shared square is in both boxes, wound opposite ways: repair drops both sides (an
    # internal wall), so the two boxes are one closed surface, and the solid one 2:1:1 box.
    a = box_asset(0.02, 0.02, 0.02)
    b = box_asset(0.02, 0.02, 0.02, offset=(0.02, 0.0, 0.0))
    asset = Asset(meshes=a.meshes + b.meshes, materials=a.materials).transform(solidify())
    report = asset.reports[-1]
    assert report.details["repair"]["details"]["internal_faces_removed"] == 4
    assert report.details["volume_m3"] == pytest.approx(2 * 0.02**3, rel=1e-9)
    solid = as_trimesh(asset)
    assert solid.is_watertight and len(solid.faces) == 12
    assert solid.extents.tolist() == pytest.approx([0.04, 0.02, 0.02])
    facts = mesh_facts(asset)
    assert facts["watertight"] and facts["non_manifold_edges"] == 0


def test_tiny_open_parts_are_dropped_and_large_ones_refused() -> None:
    cube = box_asset(1.0, 1.0, 1.0).meshes[0]
    speck = np.array([[5, 0, 0], [5.01, 0, 0], [5, 0.01, 0]], dtype=float)
    vertices = np.vstack([cube.vertices, speck])
    faces = np.vstack([cube.faces, [[8, 9, 10]]])
    kept, dropped, share = drop_open_parts(vertices, faces)
    assert np.array_equal(kept, cube.faces) and dropped == 1
    assert share == pytest.approx(0.00005 / (6 + 0.00005))
    sheet = np.array([[5, 0, 0], [6, 0, 0], [5, 1, 0]], dtype=float)
    with pytest.raises(
        TransformError, match=r"solidify: 1 parts \(7.7% of the surface\) are still"
    ):
        drop_open_parts(np.vstack([cube.vertices, sheet]), faces)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        solidify(min_wall_mm=0.0)
    with pytest.raises(ValueError, match="Extra inputs"):
        SolidifyOptions(thickness=1.0)  # type: ignore[call-arg]
