"""solidify: one closed solid from overlapping parts, a flat base, thin walls reported."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from meshes import box_asset
from meshforge.asset import Asset, Mesh
from meshforge.errors import TransformError
from meshforge.transforms.solidify import SolidifyOptions, solidify


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


def test_an_open_surface_cannot_become_a_solid() -> None:
    sheet = Mesh(
        vertices=np.array([[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]], dtype=float) * 0.1,
        faces=np.array([[0, 2, 1], [0, 3, 2]]),
    )
    with pytest.raises(TransformError, match="solidify: the surface is not a closed 2-manifold"):
        Asset(meshes=[sheet]).transform(solidify())


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        solidify(min_wall_mm=0.0)
    with pytest.raises(ValueError, match="Extra inputs"):
        SolidifyOptions(thickness=1.0)  # type: ignore[call-arg]
