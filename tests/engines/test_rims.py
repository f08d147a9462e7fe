"""Cans seen from above: the rim ellipses give the camera's elevation, and the body is built
upright between the rim planes with true proportions; a bottle and a level view keep the level
rings (``rims.py``, ``revolve.revolve_upright``). Both rims together also measure an oval can's
depth/width aspect; a long lens or a single rim cannot, and keeps it round."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from test_box import cylinder

from meshforge.asset import Asset
from meshforge.engines.base import GenerationRequest, create_engine
from meshforge.engines.silhouette.rims import estimate_elevation, fit_rim
from meshforge.engines.silhouette.symmetry import RowProfile
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


def assert_closed_outward_within_budget(asset: Asset) -> None:
    facts = mesh_facts(asset)
    assert facts["watertight"] and facts["winding_consistent"]
    assert facts["non_manifold_edges"] == 0 and facts["degenerate_faces"] == 0
    tri = asset.meshes[0].vertices[asset.meshes[0].faces]
    assert np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() > 0
    assert asset.face_count <= 20_000


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
    assert_closed_outward_within_budget(asset)
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


def elliptic_can_photo(
    aspect: float, elevation: float, fov: float = 40.0, radius: float = 0.3, height: float = 0.8
) -> tuple[Asset, dict[str, Any]]:
    """The engine (``revolve``) on a can ``aspect`` times as deep as wide, seen from above."""
    distance = 2.2 * math.tan(math.radians(20)) / math.tan(math.radians(fov / 2))
    camera = look_at_camera((0, 0, 0), distance, 0.0, elevation, fov, 512, 512)
    can = cylinder(radius, height)
    can.meshes[0].vertices[:, 2] *= aspect  # depth: +Z faces the camera at azimuth 0
    rgb = np.ascontiguousarray(render(can, camera, background=(255, 255, 255))[..., :3])
    alpha = render(can, camera)[..., 3].astype(np.float32) / 255
    options: dict[str, object] = {"shape": "revolve"}
    if fov != 40.0:
        options["fov_y_deg"] = fov
    engine = create_engine("silhouette", options)
    report = StageReport("reconstruct")
    request = GenerationRequest(image=frame_subject(rgb, alpha), photo_size=(512, 512))
    asset = engine.generate(request, report, lambda f, m: None)
    asset.metadata["mask"] = alpha > 0.5
    return asset, report.details


@pytest.mark.parametrize("aspect", [0.6, 1.0, 1.4])
def test_two_rims_measure_elevation_and_aspect(aspect: float) -> None:
    # 40 degree lens, 2.2 away, 15 degrees above: the rims' centre rays are 20 degrees apart.
    asset, details = elliptic_can_photo(aspect, 15.0)
    assert details["elevation_deg_estimated"] == pytest.approx(15.0, abs=1.0)
    assert details["cross_section_aspect"] == pytest.approx(aspect, rel=0.03)
    assert details["cross_section_aspect_measured"] == pytest.approx(aspect, rel=0.03)
    # Two standard deviations, mostly the 10 % allowed each ratio for real rims' bevels.
    uncertainty = details["cross_section_aspect_uncertainty"]
    assert 0.1 < uncertainty < 0.4 and (aspect == 1.0) == (abs(aspect - 1.0) < uncertainty)
    source = details["cross_section_aspect_source"]
    assert source.startswith("round within" if aspect == 1.0 else "measured")
    # True proportions (scale is set later in the pipeline): depth and height against width.
    width, tall, depth = asset.extents()
    assert depth / width == pytest.approx(aspect, rel=0.03)
    assert tall / width == pytest.approx(0.8 / 0.6, rel=0.03)
    assert_closed_outward_within_budget(asset)
    assert asset.camera is not None
    assert iou(silhouette(asset, asset.camera), asset.metadata["mask"]) >= 0.9


def test_long_lens_cannot_tell_the_aspect_and_keeps_round() -> None:
    # At 5 degrees both rims are seen at nearly one angle: k and the view angle trade off.
    _, details = elliptic_can_photo(0.6, 15.0, fov=5.0)
    assert details["cross_section_aspect"] == 1.0
    assert "ill-conditioned" in details["cross_section_aspect_source"]
    assert details["cross_section_aspect_uncertainty"] > 0.2


def test_one_rim_keeps_round_and_says_so() -> None:
    # A flat top (no ellipse) over a body whose bottom is a rim ellipse, b/a = 0.35.
    t = np.arange(300) + 0.5
    a, b = 100.0, 35.0
    bottom = np.where(t < b, a * np.sqrt(np.clip(t * (2 * b - t), 0, None)) / b, a)
    half = bottom[::-1].copy()
    profile = RowProfile(top=100, left=256 - half, right=256 + half, runs=np.ones(300, np.int64))
    fit = estimate_elevation(profile, focal=700.0, centre_row=256.0)
    assert fit is not None and fit.top is None and fit.bottom is not None
    assert fit.aspect == 1.0 and fit.aspect_measured is None
    assert "only one rim" in fit.aspect_how
    # The round reading of the bottom rim: its ray descends by asin(b / a) below the axis' tilt.
    theta = math.degrees(math.atan((256.0 - fit.bottom.centre_row) / 700.0))
    assert fit.elevation_deg == pytest.approx(theta + math.degrees(math.asin(b / a)), abs=0.5)


def test_fit_rim_reports_the_error_of_b() -> None:
    t = np.arange(300) + 0.5
    a, b, apex = 100.0, 17.0, 0.3  # the apex 0.3 rows below the outline's first row's top
    u = t - apex
    half = np.where(u < b, a * np.sqrt(np.clip(u * (2 * b - u), 0, None)) / b, a)
    rim = fit_rim(half, 10.0, from_top=True)
    assert rim is not None
    assert rim.b == pytest.approx(b, abs=0.05)
    assert rim.centre_row == pytest.approx(10.0 + apex + b, abs=0.05)
    # A clean fit leaves the end row's quantisation as b's error; the ratio adds 10 % for bevels.
    assert rim.b_sigma == pytest.approx(0.5, abs=0.01)
    assert rim.ratio_sigma == pytest.approx(math.hypot(0.5 / a, 0.1 * b / a), rel=0.02)
