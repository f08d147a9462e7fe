"""pivot: the origin goes to the bottom centre of the bounding box."""

from __future__ import annotations

import pytest

from meshes import box_asset
from meshforge.transforms import pivot


def test_bottom_center() -> None:
    asset = box_asset(2.0, 4.0, 1.0, offset=(3.0, -1.0, 5.0)).transform(pivot())
    low, high = asset.bounds()
    assert low.tolist() == pytest.approx([-1.0, 0.0, -0.5])
    assert high.tolist() == pytest.approx([1.0, 4.0, 0.5])
    assert asset.reports[-1].changes["origin_offset_m"][1] == pytest.approx([-3.0, 3.0, -5.0])


def test_center() -> None:
    asset = box_asset(2.0, 4.0, 1.0, offset=(3.0, -1.0, 5.0)).transform(pivot("center"))
    low, high = asset.bounds()
    assert (low + high).tolist() == pytest.approx([0.0, 0.0, 0.0])


def test_origin_keeps_the_asset_where_it_is() -> None:
    original = box_asset(2.0, 4.0, 1.0, offset=(3.0, -1.0, 5.0))
    asset = original.transform(pivot("origin"))
    assert asset.bounds().tolist() == original.bounds().tolist()
    report = asset.reports[-1]
    assert report.changes == {} and report.details["bounds_m"] == [[2, -3, 4.5], [4, 1, 5.5]]


def test_unknown_position_is_an_error() -> None:
    with pytest.raises(ValueError, match="bottom-center"):
        pivot("top")  # type: ignore[arg-type]


def test_user_transform_goes_through_the_same_call() -> None:
    def flatten(asset, ctx):  # type: ignore[no-untyped-def]
        ctx.warn("flat", "made flat")
        mesh = asset.meshes[0]
        mesh = type(mesh)(vertices=mesh.vertices * [1, 0.5, 1], faces=mesh.faces)
        return type(asset)(meshes=[mesh], materials=asset.materials)

    asset = box_asset(2.0, 4.0, 1.0).transform(flatten, pivot())
    assert [r.stage for r in asset.reports] == ["flatten", "pivot"]
    assert asset.reports[0].warnings[0].code == "flat"
    assert asset.extents().tolist() == pytest.approx([2.0, 2.0, 1.0])
