"""meshforge.evaluate: the protocol's metrics on tiny meshes made here, with exact expectations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from meshforge.errors import DependencyError, InputError
from meshforge.evaluate import GroundTruth, input_camera, render_views, score, view_cameras
from meshforge.evaluate.align import align, rotation_about_y
from meshforge.evaluate.meshes import (
    EvalPrimitive,
    load_primitives,
    merged_triangles,
    normalise,
    used_bounds,
)
from meshforge.evaluate.metrics import (
    chamfer_fscore,
    grid_points,
    psnr,
    sample_surface,
    ssim,
    volume_iou,
)
from meshforge.evaluate.protocol import VIEW_AZIMUTHS_DEG

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

SQUARE_V = np.array([[-0.5, -0.5, 0.0], [0.5, -0.5, 0.0], [0.5, 0.5, 0.0], [-0.5, 0.5, 0.0]])
SQUARE_F = np.array([[0, 1, 2], [0, 2, 3]])


def box(size: float | tuple[float, float, float]) -> tuple[FloatArray, IntArray]:
    """A closed, outward-wound box centred at the origin (8 vertices, 12 triangles)."""
    h = np.broadcast_to(np.asarray(size, dtype=np.float64) / 2, (3,))
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * h
    faces = np.array(
        [
            [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5],  # -x, +x
            [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],  # -y, +y
            [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],  # -z, +z
        ]
    )  # fmt: skip
    return corners, faces


def test_identical_samples_give_chamfer_zero_and_f_one() -> None:
    points = sample_surface(SQUARE_V, SQUARE_F)
    m = chamfer_fscore(points, points.copy())
    assert m["chamfer_l1"] == 0.0
    assert m["fscore@0.05"] == m["fscore@0.1"] == 1.0
    assert m["precision@0.05"] == m["recall@0.1"] == 1.0


def test_samples_follow_the_protocol_recipe() -> None:
    points = sample_surface(SQUARE_V, SQUARE_F, n=1000, seed=0)
    rng = np.random.default_rng(0)
    chosen = rng.choice(2, size=1000, p=[0.5, 0.5])
    r1, r2 = rng.random(1000), rng.random(1000)
    t = SQUARE_V[SQUARE_F][chosen]
    s = np.sqrt(r1)[:, None]
    expected = (1 - s) * t[:, 0] + s * (1 - r2[:, None]) * t[:, 1] + s * r2[:, None] * t[:, 2]
    np.testing.assert_array_equal(points, expected)
    assert points.shape == (1000, 3)


@pytest.mark.parametrize(("gap", "f05", "f10"), [(0.03, 1.0, 1.0), (0.2, 0.0, 0.0)])
def test_parallel_squares(gap: float, f05: float, f10: float) -> None:
    lower = sample_surface(SQUARE_V, SQUARE_F)
    upper = sample_surface(
        SQUARE_V + np.array([0.0, 0.0, gap]), SQUARE_F
    )  # same xy: the same draws
    m = chamfer_fscore(upper, lower)
    assert m["chamfer_l1"] == pytest.approx(gap, abs=1e-12)
    assert m["accuracy"] == pytest.approx(gap, abs=1e-12)
    assert m["fscore@0.05"] == f05
    assert m["fscore@0.1"] == f10


def test_volume_iou_of_cubes() -> None:
    # Sides 1.2 and 0.6 end on cell boundaries of the 64^3 grid over [-0.6, 0.6]^3: 64 and
    # 32 cells a side, so the small cube holds exactly 1/8 of the big one's cell centres.
    big, half = box(1.2), box(0.6)
    assert volume_iou(big, big) == 1.0
    assert volume_iou(half, big) == 0.125
    assert volume_iou(big, np.zeros(64**3, dtype=bool)) == 0.0
    assert grid_points().shape == (64**3, 3)


def test_volume_iou_without_libigl_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "igl", None)  # makes `import igl` fail
    with pytest.raises(DependencyError, match=r"pip install 'meshforge\[bench\]'"):
        volume_iou(box(1.0), box(1.0))


def test_icp_recovers_a_quarter_turn_about_y() -> None:
    # An irregular tetrahedron: no yaw symmetry. Fewer than 5000 samples, so ICP uses them all.
    verts = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.6, 0.0], [0.0, 0.0, 0.3]])
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    gt = sample_surface(verts - 0.25, faces, n=3000)
    pred = gt @ rotation_about_y(90.0).T
    before = chamfer_fscore(pred, gt)["chamfer_l1"]
    found = align(pred, gt)
    moved = pred @ found.rotation.T + found.translation
    assert before > 0.05
    assert found.icp_chamfer < 1e-9
    assert chamfer_fscore(moved, gt)["chamfer_l1"] < 1e-9
    assert found.rotation_angle_deg == pytest.approx(90.0, abs=1e-6)
    assert found.start_yaw_deg is not None  # refined, not the raw pose


def test_icp_keeps_an_aligned_prediction() -> None:
    gt = sample_surface(*box((1.0, 0.6, 0.3)), n=3000)
    found = align(gt.copy(), gt)
    assert found.start_yaw_deg is None
    assert found.icp_chamfer == 0.0
    np.testing.assert_array_equal(found.matrix, np.eye(4))


def test_image_metrics_of_an_image_with_itself() -> None:
    rng = np.random.default_rng(5)
    image = rng.random((40, 30, 3)).astype(np.float32)
    assert psnr(image, image) == 100.0
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    other = np.clip(image + 0.1, 0, 1)
    assert psnr(image, image - np.float32(0.1)) == pytest.approx(20.0, abs=1e-4)
    assert ssim(image, other) < 1.0


def test_normalisation_centres_the_box_and_makes_the_longest_side_one() -> None:
    verts, faces = box((0.2, 0.5, 0.1))
    prims = [EvalPrimitive(verts * 3.0 + [1.0, 2.0, -4.0], faces)]
    lo, hi = used_bounds(normalise(prims))
    np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=1e-12)
    np.testing.assert_allclose(hi - lo, [0.4, 1.0, 0.2], atol=1e-12)


def test_mirroring_transform_keeps_the_winding() -> None:
    verts, faces = box(1.2)
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
    moved = EvalPrimitive(verts, faces).transformed(mirror)
    assert volume_iou((moved.positions, moved.faces), box(1.2)) == 1.0


def _write_glb(path: Path, copies: int = 2) -> None:
    import trimesh

    verts, faces = box((1.0, 0.6, 0.4))
    mesh = trimesh.Trimesh(verts, faces, process=False)
    mesh.visual.vertex_colors = np.tile([200, 30, 30, 255], (len(verts), 1)).astype(np.uint8)
    scene = trimesh.Scene()
    for i in range(copies):
        shift = trimesh.transformations.translation_matrix([i * 2.0, 0.0, 0.0])
        scene.add_geometry(mesh, geom_name="box", node_name=f"n{i}", transform=shift)
    path.write_bytes(scene.export(file_type="glb"))


def test_loading_applies_node_transforms_without_welding(tmp_path: Path) -> None:
    path = tmp_path / "two.glb"
    _write_glb(path)
    prims = load_primitives(path)
    assert len(prims) == 2
    vertices, faces = merged_triangles(prims)
    assert len(faces) == 24 and len(vertices) == sum(len(p.positions) for p in prims)
    lo, hi = used_bounds(prims)
    np.testing.assert_allclose(hi - lo, [3.0, 0.6, 0.4], atol=1e-6)
    assert all(p.colors is not None for p in prims)
    with pytest.raises(InputError):
        load_primitives(tmp_path / "missing.glb")


def _write_ground_truth(folder: Path, glb: Path) -> None:
    """A GT folder rendered by our own renderer from ``glb`` (already canonical)."""
    prims = load_primitives(glb)
    (folder / "views").mkdir(parents=True)
    (folder / "gt.glb").write_bytes(glb.read_bytes())
    front = render_views(prims, input_camera())[0]
    Image.fromarray(np.rint(front.rgb * 255).astype(np.uint8)).save(folder / "input.png")
    Image.fromarray(((front.alpha > 0.5) * 255).astype(np.uint8)).save(folder / "mask.png")
    for az, view in zip(VIEW_AZIMUTHS_DEG, render_views(prims, view_cameras()), strict=True):
        Image.fromarray(view.rgba8()).save(folder / "views" / f"az{az:03d}.png")
    (folder / "meta.json").write_text(json.dumps({"name": "box", "category": "box"}))


def test_score_of_a_ground_truth_against_itself(tmp_path: Path) -> None:
    glb = tmp_path / "canon.glb"
    _write_glb(glb, copies=1)
    # canonical already: centred, longest side 1
    folder = tmp_path / "gt"
    _write_ground_truth(folder, glb)
    result = score(folder, glb)
    assert json.loads(json.dumps(result)) == result
    assert result["name"] == "box" and result["category"] == "box"
    assert result["mesh"]["faces"] == 12 and result["mesh"]["watertight"]
    assert result["mesh"]["has_vertex_colors"] and not result["mesh"]["has_uv"]
    for part in ("raw", "aligned"):
        m = result[part]
        assert m["chamfer_l1"] == 0.0 and m["fscore@0.05"] == 1.0 and m["volume_iou"] == 1.0
        assert m["silhouette_iou"] > 0.995 and m["silhouette_iou_views"] > 0.99
        assert m["psnr"] > 45.0 and m["ssim"] > 0.999
    assert result["aligned"]["icp"]["start_yaw_deg"] is None
    assert GroundTruth.load(folder).category == "box"
    with pytest.raises(InputError, match="missing"):
        GroundTruth.load(tmp_path)


def test_importing_evaluate_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, json, meshforge.evaluate; "
        "print(json.dumps([m for m in ('trimesh', 'scipy', 'igl', 'PIL') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout) == []
