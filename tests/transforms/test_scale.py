"""scale: one known dimension sets the size; without one the default is used and flagged."""

from __future__ import annotations

import numpy as np
import pytest

from meshes import box_asset
from meshforge.transforms import scale
from meshforge.transforms.scale import ScaleOptions


def test_height_sets_every_axis_in_proportion() -> None:
    asset = box_asset(2.0, 4.0, 1.0).transform(scale(height=0.5))
    assert asset.extents().tolist() == pytest.approx([0.25, 0.5, 0.125])
    assert asset.size is not None and asset.size.source == "user"
    assert (asset.size.width, asset.size.height, asset.size.depth) == pytest.approx(
        (0.25, 0.5, 0.125)
    )
    report = asset.reports[-1]
    assert report.stage == "scale" and report.changes["height_m"] == (4.0, 0.5)
    assert report.warnings == []


@pytest.mark.parametrize(("axis", "index"), [("width", 0), ("depth", 2)])
def test_width_or_depth(axis: str, index: int) -> None:
    asset = box_asset(2.0, 4.0, 1.0).transform(scale(**{axis: 0.1}))
    assert asset.extents()[index] == pytest.approx(0.1)


def test_no_size_uses_the_default_and_says_so() -> None:
    asset = box_asset(2.0, 4.0, 1.0).transform(scale())
    assert asset.extents()[1] == pytest.approx(0.25)
    assert asset.size is not None and asset.size.source == "default"
    assert [w.code for w in asset.reports[-1].warnings] == ["default-size"]


def test_scale_keeps_the_input_asset_unchanged() -> None:
    original = box_asset(2.0, 4.0, 1.0)
    before = original.meshes[0].vertices.copy()
    original.transform(scale(height=10.0))
    assert np.array_equal(original.meshes[0].vertices, before)


def test_scale_moves_the_camera_with_the_mesh() -> None:
    asset = box_asset(2.0, 2.0, 2.0, with_camera=True)
    assert asset.camera is not None
    corner = asset.meshes[0].vertices[:1]
    before = asset.camera.project(corner)
    scaled = asset.transform(scale(height=0.5))
    assert scaled.camera is not None
    after = scaled.camera.project(scaled.meshes[0].vertices[:1])
    assert after[0, :2] == pytest.approx(before[0, :2])


def test_only_one_dimension_may_be_given() -> None:
    with pytest.raises(ValueError, match="only one of height, width, depth or box"):
        ScaleOptions(height=1.0, width=2.0)
    with pytest.raises(ValueError, match="greater than 0"):
        scale(height=-1.0)


def test_box_fits_inside_keeping_proportions() -> None:
    asset = box_asset(2.0, 4.0, 1.0).transform(scale(box=(0.5, 0.5, 0.5)))
    assert asset.extents().tolist() == pytest.approx([0.25, 0.5, 0.125])
    report = asset.reports[-1]
    assert report.changes["height_m"] == (4.0, 0.5)
    assert report.details["box_m"] == [0.5, 0.5, 0.5] and report.warnings == []
    assert asset.size is not None and asset.size.source == "user"


def test_box_limited_by_width() -> None:
    asset = box_asset(2.0, 4.0, 1.0).transform(scale(box=(0.1, 1.0, 1.0)))
    assert asset.extents().tolist() == pytest.approx([0.1, 0.2, 0.05])
    assert asset.reports[-1].changes["width_m"] == (2.0, 0.1)


def test_box_excludes_other_sizes() -> None:
    with pytest.raises(ValueError, match="only one of"):
        ScaleOptions(height=1.0, box=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="greater than 0"):
        scale(box=(1.0, 0.0, 1.0))
