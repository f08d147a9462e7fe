"""The bad meshes users bring, through every transform: empty, a million faces, a huge texture.

Each transform either does the right thing or stops with a MeshforgeError that names its stage
and says what to do; none crashes with a bare Python error.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import trimesh

import meshforge.transforms as t
from meshforge.asset import Asset, Material, Mesh, Texture
from meshforge.errors import TransformError
from meshforge.transforms.base import Transform
from meshforge.validate.checks import check_triangles
from meshforge.validate.profiles import load_profile
from meshforge.validate.report import validate_asset

EMPTY_OK: dict[str, Callable[[], Transform]] = {
    "weld": t.weld,
    "dedup": t.dedup,
    "decimate": lambda: t.decimate(target_faces=10),
    "remesh": t.remesh,
    "lods": t.lods,
    "unwrap": t.unwrap,
    "resize": t.resize,
    "orient": t.orient,
}
EMPTY_REFUSED: dict[str, Callable[[], Transform]] = {
    "repair": t.repair,
    "scale": lambda: t.scale(height=1.0),
    "pivot": t.pivot,
    "solidify": t.solidify,
}


def empty() -> Asset:
    return Asset(
        meshes=[Mesh(vertices=np.zeros((0, 3)), faces=np.zeros((0, 3), dtype=np.int64))],
        materials=[Material()],
    )


@pytest.mark.parametrize("name", sorted(EMPTY_OK))
def test_empty_asset_passes_through(name: str) -> None:
    result = empty().transform(EMPTY_OK[name]())
    assert result.face_count == 0


@pytest.mark.parametrize("name", sorted(EMPTY_REFUSED))
def test_empty_asset_gets_a_clear_error(name: str) -> None:
    with pytest.raises(TransformError) as error:
        empty().transform(EMPTY_REFUSED[name]())
    assert error.value.stage == name and "no faces" in error.value.message
    assert error.value.hint


@pytest.fixture(scope="module")
def million_faces() -> Asset:
    sphere = trimesh.creation.icosphere(subdivisions=8, radius=0.1)  # 1,310,720 faces
    return Asset(
        meshes=[Mesh(vertices=sphere.vertices, faces=sphere.faces)], materials=[Material()]
    )


def test_a_million_faces_go_to_a_budget(million_faces: Asset) -> None:
    assert million_faces.face_count == 1_310_720
    lean = million_faces.transform(t.weld(), t.repair(), t.decimate(target_faces=100_000))
    assert 95_000 <= lean.face_count <= 100_000
    mesh = trimesh.Trimesh(lean.meshes[0].vertices, lean.meshes[0].faces)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume == pytest.approx(4 / 3 * np.pi * 0.1**3, rel=0.01)
    assert not check_triangles(million_faces, 150_000).passed
    assert check_triangles(lean, 150_000).passed


def test_a_huge_texture_fails_the_budget_until_resized() -> None:
    image = np.zeros((2048, 8192, 3), dtype=np.uint8)
    image[:, 4096:] = 255
    box = trimesh.creation.box()
    uv = (box.vertices[:, :2] + 0.5).clip(0, 1)
    asset = Asset(
        meshes=[Mesh(vertices=box.vertices, faces=box.faces, uv=uv)],
        materials=[Material(base_color_texture=Texture(image))],
    )
    before = validate_asset(asset, load_profile("web"))
    assert "texture_max_size" in {r.id for r in before.failures}
    resized = asset.transform(t.resize(max_size=2048))
    texture = resized.materials[0].base_color_texture
    assert texture is not None and texture.size == (2048, 2048)  # each side on its own
    after = validate_asset(resized, load_profile("web"))
    assert after.result("texture_max_size").passed
