"""The slab hypothesis on a rendered board: true width, height and thickness, closed and outward,
the mask from the input camera, the face budget, and the option's bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh
from numpy.typing import NDArray

from meshforge.asset import Asset, Material, Mesh
from meshforge.engines.base import GenerationRequest, create_engine
from meshforge.engines.silhouette.slab import DEFAULT_SLAB_THICKNESS
from meshforge.errors import RecipeError
from meshforge.image.frame import frame_subject
from meshforge.render.camera import look_at_camera
from meshforge.render.raster import render, silhouette
from meshforge.transforms.base import StageReport
from meshforge.validate.checks import mesh_facts
from synthetic import iou

BOARD = (0.4, 0.3, 0.045)  # width, height, thickness: 15 % of the shorter side


def board(size: tuple[float, float, float]) -> Asset:
    box = trimesh.creation.box(extents=size)
    mesh = Mesh(
        vertices=np.asarray(box.vertices, dtype=np.float64),
        faces=np.asarray(box.faces, dtype=np.int64),
    )
    return Asset(meshes=[mesh], materials=[Material(base_color_factor=(0.6, 0.4, 0.2, 1.0))])


def photo(asset: Asset, fov_y_deg: float) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """The board head-on, as large in the frame at every lens."""
    distance = 2.2 * math.tan(math.radians(20)) / math.tan(math.radians(fov_y_deg / 2))
    camera = look_at_camera((0, 0, 0), distance, 0.0, 0.0, fov_y_deg, 512, 512)
    rgb = render(asset, camera, background=(255, 255, 255))[..., :3]
    alpha = render(asset, camera)[..., 3].astype(np.float32) / 255
    return np.ascontiguousarray(rgb), alpha


def reconstruct(
    fov: float = 40.0, size: tuple[float, float, float] = BOARD, **options: object
) -> tuple[Asset, dict[str, object], NDArray[np.float32]]:
    rgb, alpha = photo(board(size), fov)
    lens = {} if fov == 40.0 else {"fov_y_deg": fov}
    engine = create_engine("silhouette", {"shape": "slab", **lens, **options})
    report = StageReport("reconstruct")
    request = GenerationRequest(image=frame_subject(rgb, alpha), photo_size=(512, 512))
    return engine.generate(request, report, lambda f, m: None), report.details, alpha


def test_slab_has_the_boards_width_height_and_thickness() -> None:
    # A long lens: the photo is the board's front, undistorted.
    asset, details, _ = reconstruct(2.0, slab_thickness=0.15)
    assert details["shape"] == "slab" and details["shape_reason"] == "chosen by the user"
    width, height, thickness = asset.extents()
    assert width / height == pytest.approx(BOARD[0] / BOARD[1], rel=0.03)
    assert thickness / height == pytest.approx(BOARD[2] / BOARD[1], rel=0.03)
    assert thickness / width == pytest.approx(BOARD[2] / BOARD[0], rel=0.03)


def test_slab_is_closed_outward_textured_and_covers_the_mask() -> None:
    asset, _, alpha = reconstruct(slab_thickness=0.15)
    facts = mesh_facts(asset)
    assert facts["watertight"] and facts["winding_consistent"]
    assert facts["non_manifold_edges"] == 0 and facts["degenerate_faces"] == 0
    assert facts["has_uv"] and facts["has_base_color_texture"] and facts["has_normals"]
    tri = asset.meshes[0].vertices[asset.meshes[0].faces]
    volume = float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6)
    width, height, thickness = asset.extents()
    # Outward, and nearly the full box: only the quarter-round rims are missing.
    assert 0.85 * width * height * thickness < volume < width * height * thickness
    uv = asset.meshes[0].uv
    assert uv is not None and uv.min() >= 0.0 and uv.max() <= 1.0
    assert asset.camera is not None
    assert iou(silhouette(asset, asset.camera), alpha > 0.5) >= 0.97


def test_slab_rim_is_a_quarter_round() -> None:
    asset, _, _ = reconstruct(2.0, slab_thickness=0.15)
    v = asset.meshes[0].vertices
    width, height, thickness = asset.extents()
    radius = thickness / 2
    centre = (v.max(axis=0) + v.min(axis=0)) / 2
    # Along the middle of the long edges: depth against distance in from the side.
    band = np.abs(v[:, 1] - centre[1]) < 0.2 * height
    d = v[band, 0] - v[:, 0].min()
    z = np.abs(v[band, 2] - centre[2])
    rim = d < radius
    expected = np.sqrt(np.maximum(d[rim] * (2 * radius - d[rim]), 0.0))
    assert np.abs(z[rim] - expected).max() < 0.08 * radius
    flat = (d > 1.05 * radius) & (d < width - 1.05 * radius)
    assert np.all(np.abs(z[flat] - radius) < 1e-3 * radius)


def test_default_thickness_and_face_budget() -> None:
    asset, details, _ = reconstruct(2.0, max_faces=1000)
    assert asset.face_count <= 1000
    assert mesh_facts(asset)["watertight"]
    _, height, thickness = asset.extents()
    assert thickness / height == pytest.approx(DEFAULT_SLAB_THICKNESS, rel=0.03)
    assert isinstance(details["slab_thickness_px"], float)


def test_back_ratio_keeps_the_thickness() -> None:
    even, _, _ = reconstruct(2.0)
    lopsided, _, _ = reconstruct(2.0, back_ratio=0.5)
    assert lopsided.extents()[2] == pytest.approx(even.extents()[2], rel=1e-6)


def test_slab_thickness_option_bounds() -> None:
    with pytest.raises(RecipeError, match="slab_thickness"):
        create_engine("silhouette", {"slab_thickness": 0.0})
    with pytest.raises(RecipeError, match="slab_thickness"):
        create_engine("silhouette", {"slab_thickness": 1.5})
