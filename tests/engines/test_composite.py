"""The composite hypothesis on synthetic photos: a table's legs and a disc's stick become round
tubes of the legs' half-width, joined to the inflated body in one closed solid that covers the
mask; a disc has no thin part and is inflated; the option model knows the new shapes."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from meshforge.asset import Asset
from meshforge.engines.base import GenerationRequest, create_engine
from meshforge.engines.silhouette.composite import skeleton
from meshforge.engines.silhouette.options import SilhouetteOptions
from meshforge.errors import RecipeError
from meshforge.image.frame import frame_subject
from meshforge.render.raster import silhouette
from meshforge.transforms.base import StageReport
from meshforge.validate.checks import mesh_facts
from synthetic import disc_mask, iou, paint

Mask = NDArray[np.bool_]
LEG_HALF_WIDTH = 12.0  # photo pixels


def grid(size: int = 512) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    return cols, rows


def table_mask() -> Mask:
    """A table seen from the front: a top 90 pixels thick on two legs 24 pixels wide."""
    c, r = grid()
    top = (np.abs(c - 256) < 200) & (r > 80) & (r < 170)
    legs = (np.abs(c - 96) < LEG_HALF_WIDTH) | (np.abs(c - 416) < LEG_HALF_WIDTH)
    return np.asarray(top | (legs & (r >= 150) & (r < 420)))


def stick_mask() -> Mask:
    """A disc on a stick (a lollipop, a table-tennis bat): 20 pixels wide, 220 long."""
    c, r = grid()
    disc = (c - 256) ** 2 + (r - 180) ** 2 < 120**2
    return np.asarray(disc | ((np.abs(c - 256) < 10) & (r > 250) & (r < 470)))


def reconstruct(mask: Mask, **options: object) -> tuple[Asset, dict[str, object], float]:
    """The engine on the painted mask; also the framed scale (framed pixels per photo pixel)."""
    framed = frame_subject(paint(mask), mask.astype(np.float32))
    engine = create_engine("silhouette", {"shape": "composite", **options})
    report = StageReport("reconstruct")
    request = GenerationRequest(image=framed, photo_size=(mask.shape[1], mask.shape[0]))
    asset = engine.generate(request, report, lambda f, m: None)
    return asset, report.details, framed.scale


def assert_closed_manifold_outward(asset: Asset) -> None:
    facts = mesh_facts(asset)
    assert facts["watertight"] and facts["winding_consistent"]
    assert facts["non_manifold_edges"] == 0 and facts["degenerate_faces"] == 0
    assert facts["has_uv"] and facts["has_base_color_texture"] and facts["has_normals"]
    tri = asset.meshes[0].vertices[asset.meshes[0].faces]
    assert np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() > 0
    uv = asset.meshes[0].uv
    assert uv is not None and uv.min() >= 0.0 and uv.max() <= 1.0


def test_table_legs_become_two_tubes_of_the_legs_radius() -> None:
    mask = table_mask()
    asset, details, scale = reconstruct(mask)
    assert details["shape"] == "composite" and details["tubes"] == 2
    radii = details["tube_radii_px"]
    assert isinstance(radii, list)
    assert radii == pytest.approx([LEG_HALF_WIDTH * scale] * 2, rel=0.03)
    # Each leg is 270 pixels long, 20 of them inside the top: the tubes run most of that.
    length = details["tube_length_px"]
    assert isinstance(length, float)
    assert 2 * 200 * scale < length < 2 * 270 * scale
    threshold = details["thin_threshold_px"]
    assert isinstance(threshold, float) and LEG_HALF_WIDTH * scale < threshold < 45 * scale
    assert details["body_parts"] == 1
    assert_closed_manifold_outward(asset)
    assert asset.camera is not None
    assert iou(silhouette(asset, asset.camera), mask) >= 0.97


def test_tube_is_round_in_depth() -> None:
    # Seen from the side, a leg is as deep as it is wide: sample the middle of the left leg.
    asset, _, _ = reconstruct(table_mask(), fov_y_deg=2.0)
    v = asset.meshes[0].vertices
    low, high = v.min(axis=0), v.max(axis=0)
    span = high - low
    # The left leg: the left half, below the top (the lower 40 % of the height).
    leg = (v[:, 0] < low[0] + 0.5 * span[0]) & (v[:, 1] < low[1] + 0.4 * span[1])
    leg_width = np.ptp(v[leg, 0])
    leg_depth = np.ptp(v[leg, 2])
    assert leg_depth == pytest.approx(leg_width, rel=0.05)
    assert leg_width / span[0] == pytest.approx(24 / 400, rel=0.05)


def test_stick_is_found_and_joined() -> None:
    mask = stick_mask()
    asset, details, scale = reconstruct(mask, max_faces=8000)
    assert details["tubes"] == 1
    assert details["tube_radii_px"] == pytest.approx([10 * scale], rel=0.03)
    assert asset.face_count <= 8000
    assert_closed_manifold_outward(asset)
    assert asset.camera is not None
    assert iou(silhouette(asset, asset.camera), mask) >= 0.97


def test_a_disc_has_no_thin_part_and_is_inflated() -> None:
    asset, details, _ = reconstruct(disc_mask())
    assert "tubes" not in details
    note = details["composite"]
    assert isinstance(note, str) and "no thin part" in note and "plain inflate" in note
    assert asset.metadata["shape"] == "composite"
    plain, _, _ = reconstruct(disc_mask(), shape="inflate")
    np.testing.assert_allclose(asset.meshes[0].vertices, plain.meshes[0].vertices)


def test_skeleton_of_a_strip_is_its_centre_line() -> None:
    strip = np.zeros((40, 120), dtype=bool)
    strip[10:31, 10:110] = True  # 21 rows: the centre row is 20
    skel = skeleton(strip)
    rows, cols = np.nonzero(skel)
    middle = (cols > 25) & (cols < 95)
    assert np.all(rows[middle] == 20)
    assert np.all(strip[skel])


@pytest.mark.parametrize("shape", ["slab", "composite", "auto", "revolve", "box", "inflate"])
def test_shape_option_accepts_the_hypotheses(shape: str) -> None:
    assert SilhouetteOptions.model_validate({"shape": shape}).shape == shape
    assert create_engine("silhouette", {"shape": shape}).options.shape == shape  # type: ignore[attr-defined]


def test_unknown_shape_is_rejected() -> None:
    with pytest.raises(RecipeError, match="shape"):
        create_engine("silhouette", {"shape": "blob"})
    assert "'slab'" in (SilhouetteOptions.model_fields["shape"].description or "")
    assert "'composite'" in (SilhouetteOptions.model_fields["shape"].description or "")
