"""Inflation on a rendered spheroid: its long axis across the view and two equal short axes, one
up and one along the view. The inflated cross-section is round with the outline's local
half-width, so the depth should match the height; the proportions are checked as ratios (scale
is set later in the pipeline)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from meshforge.asset import Asset, Material, Mesh
from meshforge.engines.base import GenerationRequest, create_engine
from meshforge.image.frame import frame_subject
from meshforge.render.camera import look_at_camera
from meshforge.render.raster import render
from meshforge.transforms.base import StageReport
from meshforge.validate.checks import mesh_facts

AXES = (0.5, 0.3, 0.3)  # half-axes: x across the view, y up, z towards the camera


def spheroid() -> Asset:
    sphere = trimesh.creation.icosphere(subdivisions=5)
    vertices = np.asarray(sphere.vertices) * np.asarray(AXES)
    return Asset(
        meshes=[Mesh(vertices=vertices, faces=np.asarray(sphere.faces, dtype=np.int64))],
        materials=[Material(base_color_factor=(0.2, 0.5, 0.8, 1.0))],
    )


def test_inflated_spheroid_has_true_proportions() -> None:
    # The engine's assumed camera: 40 degree lens, 2.2 away, level.
    camera = look_at_camera((0, 0, 0), 2.2, 0.0, 0.0, 40.0, 512, 512)
    subject = spheroid()
    rgb = np.ascontiguousarray(render(subject, camera, background=(255, 255, 255))[..., :3])
    alpha = render(subject, camera)[..., 3].astype(np.float32) / 255
    engine = create_engine("silhouette", {"shape": "inflate"})
    report = StageReport("reconstruct")
    request = GenerationRequest(image=frame_subject(rgb, alpha), photo_size=(512, 512))
    asset = engine.generate(request, report, lambda f, m: None)
    width, height, depth = asset.extents()
    assert height / width == pytest.approx(AXES[1] / AXES[0], rel=0.03)
    assert depth / width == pytest.approx(AXES[2] / AXES[0], rel=0.03)
    facts = mesh_facts(asset)
    assert facts["watertight"] and facts["non_manifold_edges"] == 0
