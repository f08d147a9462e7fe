"""The silhouette engine on synthetic masks: closed, consistently wound, true to the outline.

These tests pin the inflated shape; test_revolve.py covers revolution and the choice of shape.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from meshforge.asset import Asset
from meshforge.engines.base import GenerationRequest, create_engine
from meshforge.engines.silhouette.camera import focal_from_35mm
from meshforge.errors import EngineError, RecipeError
from meshforge.image.frame import FramedImage, frame_subject
from meshforge.render.raster import silhouette
from meshforge.transforms import pivot, scale
from meshforge.transforms.base import StageReport
from meshforge.validate.checks import edge_facts, mesh_facts
from synthetic import bottle_mask, disc_mask, iou, paint


def reconstruct(mask: np.ndarray, focal_35mm: float | None = None, **options: object) -> Asset:
    framed = frame_subject(paint(mask), mask.astype(np.float32))
    engine = create_engine("silhouette", {"shape": "inflate", **options})
    request = GenerationRequest(
        image=framed, photo_size=(mask.shape[1], mask.shape[0]), focal_length_35mm=focal_35mm
    )
    return engine.generate(request, StageReport("reconstruct"), lambda f, m: None)


def test_bottle_is_closed_wound_and_textured() -> None:
    asset = reconstruct(bottle_mask())
    facts = mesh_facts(asset)
    assert facts["watertight"] and facts["winding_consistent"]
    assert facts["non_manifold_edges"] == 0 and facts["degenerate_faces"] == 0
    assert facts["has_uv"] and facts["has_base_color_texture"] and facts["has_normals"]
    uv = asset.meshes[0].uv
    assert uv is not None and uv.min() >= 0.0 and uv.max() <= 1.0


def test_silhouette_from_the_input_camera_is_the_mask() -> None:
    mask = bottle_mask()
    asset = reconstruct(mask).transform(scale(height=0.3), pivot())
    assert asset.camera is not None
    seen = silhouette(asset, asset.camera)
    assert iou(seen, mask) >= 0.98


def signed_volume(asset: Asset) -> float:
    tri = asset.meshes[0].vertices[asset.meshes[0].faces]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6)


def test_disc_becomes_a_sphere() -> None:
    # A long lens, so perspective does not stretch the back half (see the next test).
    asset = reconstruct(disc_mask(), fov_y_deg=2.0).transform(scale(height=0.2))
    width, height, depth = asset.extents()
    assert height == pytest.approx(0.2, rel=1e-9)
    assert width == pytest.approx(0.2, rel=0.005)
    assert depth == pytest.approx(0.2, rel=0.01)
    assert signed_volume(asset) == pytest.approx(4 / 3 * math.pi * 0.1**3, rel=0.01)


def test_perspective_keeps_the_silhouette_and_widens_the_back() -> None:
    # Every vertex sits on its pixel's ray: the far half spreads with distance, as the rays do.
    asset = reconstruct(disc_mask())
    assert asset.camera is not None
    assert iou(silhouette(asset, asset.camera), disc_mask()) >= 0.99
    near = reconstruct(disc_mask(), fov_y_deg=2.0).transform(scale(height=0.2))
    wide = asset.transform(scale(height=0.2))
    assert 0.85 < signed_volume(wide) / signed_volume(near) < 1.0


def test_thickness_scales_the_depth() -> None:
    full = reconstruct(disc_mask()).extents()
    half = reconstruct(disc_mask(), thickness=0.5).extents()
    assert half[2] / half[0] == pytest.approx(0.5 * full[2] / full[0], rel=0.05)


def test_a_hole_gives_a_closed_ring() -> None:
    mask = disc_mask(radius=0.4) & ~disc_mask(radius=0.15)
    asset = reconstruct(mask)
    faces = asset.meshes[0].faces
    facts = edge_facts(faces)
    assert facts["watertight"] and facts["winding_consistent"]
    edges = np.unique(
        np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1),
        axis=0,
    )
    euler = len(asset.meshes[0].vertices) - len(edges) + len(faces)
    assert euler == 0  # a torus
    assert asset.camera is not None
    assert iou(silhouette(asset, asset.camera), mask) >= 0.97


def test_face_budget_is_respected() -> None:
    asset = reconstruct(bottle_mask(), max_faces=2000)
    assert 1000 <= asset.face_count <= 2000
    assert mesh_facts(asset)["watertight"]


def test_camera_from_exif_focal_length() -> None:
    asset = reconstruct(bottle_mask(), focal_35mm=50.0)
    assert asset.camera is not None and asset.camera.source == "exif"
    assert asset.camera.fx == pytest.approx(focal_from_35mm(512, 512, 50.0))
    assert asset.camera.fx == pytest.approx(50 / math.hypot(36, 24) * math.hypot(512, 512))


def test_default_camera_is_documented_40_degrees() -> None:
    asset = reconstruct(bottle_mask())
    assert asset.camera is not None and asset.camera.source == "default"
    assert asset.camera.fov_y_deg == pytest.approx(40.0)


def test_tiny_subject_is_an_engine_error() -> None:
    pixels = np.zeros((512, 512, 4), dtype=np.uint8)
    pixels[250:255, 250:255] = 255
    framed = FramedImage(pixels=pixels, scale=1.0, offset=(0.0, 0.0), subject_box=(0, 0, 1, 1))
    engine = create_engine("silhouette")
    with pytest.raises(EngineError, match="reconstruct: the subject covers too few pixels"):
        engine.generate(GenerationRequest(image=framed), StageReport("r"), lambda f, m: None)


def test_unknown_engine_option_is_rejected() -> None:
    with pytest.raises(RecipeError, match="max_face"):
        create_engine("silhouette", {"max_face": 10})
    with pytest.raises(RecipeError, match="unknown engine 'nope'"):
        create_engine("nope")
