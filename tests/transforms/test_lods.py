"""lods: a chain of decimated levels beside the full-detail asset, glTF MSFT_lod style."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from pydantic import ValidationError

from meshforge.asset import Asset, Mesh
from meshforge.transforms import lods
from meshforge.transforms.lods import LodLevel


@pytest.fixture(scope="module")
def sphere() -> Asset:
    """A 20,480-face unit icosphere with a planar UV map."""
    mesh = trimesh.creation.icosphere(subdivisions=5)
    vertices = np.asarray(mesh.vertices)
    uv = (vertices[:, :2] + 1.0) / 2.0
    return Asset(meshes=[Mesh(vertices=vertices, faces=mesh.faces, uv=uv, normals=vertices)])


@pytest.fixture(scope="module")
def levelled(sphere: Asset) -> Asset:
    return sphere.transform(lods())


def test_levels_follow_the_ratios(levelled: Asset) -> None:
    levels = levelled.metadata["lods"]
    assert [lv.level for lv in levels] == [0, 1, 2, 3]
    assert [lv.ratio for lv in levels] == [1.0, 0.5, 0.25, 0.125]
    for lv in levels:
        assert isinstance(lv, LodLevel)
        assert lv.faces == sum(len(m.faces) for m in lv.meshes)
        assert abs(lv.faces - lv.ratio * 20480) <= 0.05 * lv.ratio * 20480
        assert all(m.uv is not None for m in lv.meshes)
    faces = [lv.faces for lv in levels]
    assert faces == sorted(faces, reverse=True) and len(set(faces)) == 4


def test_the_asset_itself_is_level_zero(sphere: Asset, levelled: Asset) -> None:
    assert levelled.face_count == 20480
    assert levelled.meshes is levelled.metadata["lods"][0].meshes
    assert "lods" not in sphere.metadata


def test_report_lists_every_level(levelled: Asset) -> None:
    report = levelled.reports[-1]
    assert report.stage == "lods"
    levels = levelled.metadata["lods"]
    assert report.details["levels"] == [
        {"level": lv.level, "ratio": lv.ratio, "faces": lv.faces, "vertices": lv.vertices}
        for lv in levels
    ]
    assert report.changes == {f"lod{i}_faces": (20480, levels[i].faces) for i in (1, 2, 3)}
    assert report.warnings == []


def test_a_first_ratio_below_one_decimates_the_asset(sphere: Asset) -> None:
    result = sphere.transform(lods(ratios=(0.5, 0.1)))
    assert abs(result.face_count - 10240) <= 512
    assert result.reports[-1].changes["faces"] == (20480, result.face_count)


@pytest.mark.parametrize("ratios", [(), (1.0, 1.0), (0.5, 0.8), (1.0, 0.0), (1.5, 0.5)])
def test_invalid_ratios_raise(ratios: tuple[float, ...]) -> None:
    with pytest.raises(ValidationError):
        lods(ratios=ratios)
