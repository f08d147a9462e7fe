"""Cans seen from above: the rim ellipses give the camera's elevation, and the body is built
upright between the rim planes with true proportions; a bottle and a level view keep the level
rings (``rims.py``, ``revolve.revolve_upright``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_box import cylinder

from meshforge.asset import Asset
from meshforge.engines.base import GenerationRequest, create_engine
from meshforge.engines.silhouette.rims import fit_rim
from meshforge.image.frame import frame_subject
from meshforge.render.camera import look_at_camera
from meshforge.render.raster import render, silhouette
from meshforge.transforms.base import StageReport
from meshforge.validate.checks import mesh_facts
from synthetic import bottle_mask, iou, paint


def can_photo(radius: float, height: float, fov: float, elevation: float) -> tuple[Asset, dict]:
    """The engine on a can rendered ``elevation`` degrees above, framed alike at any lens."""
    distance = 2.2 * math.tan(math.radians(20)) / math.tan(math.radians(fov / 2))
    camera = look_at_camera((0, 0, 0), distance, 0.0, elevation, fov, 512, 512)
    can = cylinder(radius, height)
    rgb = np.ascontiguousarray(render(can, camera, background=(255, 255, 255))[..., :3])
    alpha = render(can, camera)[..., 3].astype(np.float32) / 255
    framed = frame_subject(rgb, alpha)
    engine = create_engine("silhouette", {} if fov == 40.0 else {"fov_y_deg": fov})
    report = StageReport("reconstruct")
    request = GenerationRequest(image=framed, photo_size=(512, 512))
    asset = engine.generate(request, report, lambda f, m: None)
    asset.metadata["mask"] = alpha > 0.5
    return asset, report.details


@pytest.mark.parametrize("elevation", [10.0, 20.0])
@pytest.mark.parametrize("fov", [40.0, 5.0])
@pytest.mark.parametrize(("radius", "height"), [(0.5, 0.39), (0.3, 1.0)])
def test_can_from_above_is_upright_true_and_closed(
    radius: float, height: float, fov: float, elevation: float
) -> None:
    asset, details = can_photo(radius, height, fov, elevation)
    assert details["shape"] == "revolve"
    assert details["elevation_deg_estimated"] == pytest.approx(elevation, abs=3.0)
    assert "rim" in details["elevation_source"]
    width, tall, depth = asset.extents()
    assert tall / width == pytest.approx(height / (2 * radius), rel=0.05)
    assert depth / width == pytest.approx(1.0, rel=0.02)
    facts = mesh_facts(asset)
    assert facts["watertight"] and facts["winding_consistent"]
    assert facts["non_manifold_edges"] == 0 and facts["degenerate_faces"] == 0
    tri = asset.meshes[0].vertices[asset.meshes[0].faces]
    assert np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() > 0
    assert asset.face_count <= 20_000
    # Upright: the bottom ring is level in the world, so the asset stands on its base.
    v = asset.meshes[0].vertices
    base = v[:, 1] < v[:, 1].min() + 1e-6 * tall
    assert base.sum() > 8
    # The camera carries the estimate, and from it the silhouette is the mask.
    assert asset.camera is not None
    assert iou(silhouette(asset, asset.camera), asset.metadata["mask"]) >= 0.9


def test_bottle_and_level_can_keep_level_rings() -> None:
    mask = bottle_mask()
    framed = frame_subject(paint(mask), mask.astype(np.float32))
    report = StageReport("reconstruct")
    engine = create_engine("silhouette", {"shape": "revolve"})
    request = GenerationRequest(image=framed, photo_size=(512, 512))
    engine.generate(request, report, lambda f, m: None)
    assert "elevation_deg_estimated" not in report.details
    # A can seen level: straight ends, no rim ellipse.
    assert fit_rim(np.full(200, 50.0), 0.0, from_top=True) is None


def test_fit_rim_recovers_an_ellipse() -> None:
    t = np.arange(300) + 0.5
    a, b = 100.0, 17.0
    half = np.where(t < b, a * np.sqrt(np.clip(t * (2 * b - t), 0, None)) / b, a)
    rim = fit_rim(half, 10.0, from_top=True)
    assert rim is not None
    assert rim.a == pytest.approx(a, rel=0.02) and rim.b == pytest.approx(b, rel=0.05)
    assert rim.centre_row == pytest.approx(10.0 + b, abs=1.0)
    assert rim.view_deg == pytest.approx(math.degrees(math.asin(b / a)), abs=1.0)
