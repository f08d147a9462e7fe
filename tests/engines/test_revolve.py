"""Revolution on synthetic outlines: true proportions, closed and outward, the mask from the camera,
the face budget, the texture mirrored round the back, elliptical rings for an oval section, and the
automatic choice of shape."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import trimesh
from numpy.typing import NDArray

from meshforge.asset import Asset
from meshforge.engines.base import GenerationRequest, create_engine
from meshforge.engines.silhouette.revolve import revolve_profile
from meshforge.engines.silhouette.symmetry import choose_shape, row_profile, shape_scores
from meshforge.errors import RecipeError
from meshforge.image.frame import frame_subject
from meshforge.render.raster import silhouette
from meshforge.transforms.base import StageReport
from meshforge.validate.checks import mesh_facts
from synthetic import bottle_mask, iou, paint

Mask = NDArray[np.bool_]


def grid(size: int = 512) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    return (cols - size / 2) / size, (rows - size / 2) / size


def cylinder_mask(radius: float = 0.15, height: float = 0.6) -> Mask:
    """A can seen exactly level: a rectangle (a long lens makes it one)."""
    x, y = grid()
    return np.asarray((np.abs(x) < radius) & (np.abs(y) < height / 2))


def can_mask(radius: float = 0.2, height: float = 0.5, rim: float = 0.04) -> Mask:
    """A can seen from a little above: its top and bottom rims are ellipses."""
    x, y = grid()
    body = (np.abs(x) < radius) & (np.abs(y) < height / 2)
    ends = (x / radius) ** 2 + ((np.abs(y) - height / 2) / rim) ** 2 < 1
    return np.asarray(body | ends)


def mug_mask() -> Mask:
    """A mug with a ring handle: the handle leaves a hole and rows with two runs."""
    x, y = grid()
    body = (np.abs(x + 0.08) < 0.2) & (np.abs(y) < 0.25)
    r = np.hypot(x - 0.14, y)
    return np.asarray(body | ((r < 0.15) & (r > 0.08) & (x > 0.1)))


def shoe_mask() -> Mask:
    """A shoe-like profile: a long sole, a heel and an ankle off to one side."""
    x, y = grid()
    sole = (x / 0.4) ** 2 + ((y - 0.1) / 0.12) ** 2 < 1
    ankle = ((x + 0.2) / 0.15) ** 2 + ((y + 0.08) / 0.2) ** 2 < 1
    return np.asarray(sole | ankle)


def reconstruct(mask: Mask, **options: object) -> tuple[Asset, StageReport]:
    framed = frame_subject(paint(mask), mask.astype(np.float32))
    engine = create_engine("silhouette", dict(options))
    request = GenerationRequest(image=framed, photo_size=(mask.shape[1], mask.shape[0]))
    report = StageReport("reconstruct")
    return engine.generate(request, report, lambda f, m: None), report


def signed_volume(asset: Asset) -> float:
    tri = asset.meshes[0].vertices[asset.meshes[0].faces]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6)


def test_long_lens_recovers_the_proportions_of_a_cylinder() -> None:
    asset, _ = reconstruct(cylinder_mask(0.15, 0.6), shape="revolve", fov_y_deg=2.0)
    width, height, depth = asset.extents()
    assert width / height == pytest.approx(0.5, rel=0.03)
    assert depth / width == pytest.approx(1.0, rel=0.01)
    # A cylinder of that size: pi r^2 h, with r = width / 2.
    assert signed_volume(asset) == pytest.approx(np.pi * (width / 2) ** 2 * height, rel=0.02)


@pytest.mark.parametrize("make", [bottle_mask, can_mask, cylinder_mask])
def test_closed_outward_and_textured(make: object) -> None:
    assert callable(make)
    asset, _ = reconstruct(make(), shape="revolve")
    facts = mesh_facts(asset)
    assert facts["watertight"] and facts["winding_consistent"]
    assert facts["non_manifold_edges"] == 0 and facts["degenerate_faces"] == 0
    assert facts["has_uv"] and facts["has_base_color_texture"] and facts["has_normals"]
    assert signed_volume(asset) > 0  # outward-facing
    uv = asset.meshes[0].uv
    assert uv is not None and uv.min() >= 0.0 and uv.max() <= 1.0


@pytest.mark.parametrize("make", [bottle_mask, can_mask, cylinder_mask])
def test_silhouette_from_the_input_camera_is_the_mask(make: object) -> None:
    assert callable(make)
    mask = make()
    asset, _ = reconstruct(mask, shape="revolve")
    assert asset.camera is not None and asset.camera.fov_y_deg == pytest.approx(40.0)
    seen = silhouette(asset, asset.camera)
    # Every row is exactly as wide as the mask's (tangent rays, not the equator)...
    middle = mask.shape[0] // 2 + 40
    assert abs(int(seen[middle].sum()) - int(mask[middle].sum())) <= 1
    # ...but level rings nearer the camera than their centre show above the top row and below
    # the bottom one (see revolve.py); a longer lens shrinks that.
    assert iou(seen, mask) >= 0.9
    long_lens, _ = reconstruct(mask, shape="revolve", fov_y_deg=10.0)
    assert long_lens.camera is not None
    assert iou(silhouette(long_lens, long_lens.camera), mask) >= 0.97


@pytest.mark.parametrize("budget", [500, 2000, 20_000])
def test_face_budget_is_respected(budget: int) -> None:
    asset, report = reconstruct(bottle_mask(), shape="revolve", max_faces=budget)
    assert 0.8 * budget <= asset.face_count <= budget
    assert report.details["rings"] * report.details["segments"] * 2 == asset.face_count
    assert mesh_facts(asset)["watertight"]


def test_front_vertices_show_their_pixel_and_the_back_mirrors_them() -> None:
    mask = bottle_mask().astype(np.uint8)
    f, centre = 700.0, (256.0, 256.0)
    mesh = revolve_profile(
        row_profile(mask, mask.astype(np.float32)),
        focal=f,
        centre=centre,
        distance=2.2,
        max_faces=4000,
    )
    seg, half = mesh.segments, mesh.segments // 2
    depth = -mesh.vertices[:, 2]
    col = centre[0] + f * mesh.vertices[:, 0] / depth
    row = centre[1] - f * mesh.vertices[:, 1] / depth
    ring = np.arange(mesh.rings * seg).reshape(mesh.rings, seg)
    front = ring[:, : half + 1].ravel()
    np.testing.assert_allclose(mesh.pixels[front, 0], col[front], atol=1e-6)
    np.testing.assert_allclose(mesh.pixels[front, 1], row[front], atol=1e-6)
    # The tangent points project onto the mask's edges at the ring's row.
    profile_edges = np.abs(col[ring[:, 0]] - col[ring[:, half]])
    assert profile_edges.max() == pytest.approx(2 * 0.13 * 512, abs=1.5)
    # The back vertex j places past the left edge shows what front vertex j shows.
    back = ring[:, half + 1 :]
    mirrored = ring[:, half - 1 : 0 : -1]
    np.testing.assert_array_equal(mesh.pixels[back], mesh.pixels[mirrored])
    # Front vertices are nearer the camera than their back twins.
    assert (depth[ring[:, 1:half]] < depth[ring[:, -1:half:-1]]).all()


def test_subpixel_edges_from_soft_alpha() -> None:
    mask = np.zeros((8, 20), dtype=np.uint8)
    mask[2:6, 5:15] = 1
    alpha = mask.astype(np.float32)
    alpha[2:6, 4] = 0.25  # the left edge lies a quarter pixel into column 4
    alpha[2:6, 14] = 0.75  # the right edge a quarter pixel short of column 14's end
    profile = row_profile(mask, alpha)
    assert profile.top == 2 and len(profile.left) == 4
    np.testing.assert_allclose(profile.left, 4.75)
    np.testing.assert_allclose(profile.right, 14.75)


def test_a_leaning_bottle_is_still_symmetric() -> None:
    mask = bottle_mask().astype(np.uint8)
    import cv2

    turn = cv2.getRotationMatrix2D((256, 256), 4.0, 1.0)
    leaning = cv2.warpAffine(mask, turn, (512, 512), flags=cv2.INTER_NEAREST)
    scores = shape_scores(row_profile(leaning, leaning.astype(np.float32)))
    assert abs(abs(scores["tilt_deg"]) - 4.0) < 0.5
    # Rows cut the leaning shoulders obliquely, which costs a little symmetry, not the verdict.
    assert choose_shape(scores, holes=0)[0] == "revolve"


def test_auto_revolves_a_bottle_and_a_can() -> None:
    for mask in (bottle_mask(), can_mask()):
        asset, report = reconstruct(mask)
        assert report.details["shape"] == "revolve" and asset.metadata["shape"] == "revolve"
        scores = report.details["shape_scores"]
        assert scores["asymmetry"] < 0.01 and scores["single_run"] == 1.0
        assert scores["holes"] == 0


@pytest.mark.parametrize(
    ("make", "why", "shape"),
    [(mug_mask, "hole", "inflate"), (shoe_mask, "leans", "inflate"), (cylinder_mask, "box", "box")],
)
def test_auto_inflates_handles_and_blobs_and_boxes_boxes(
    make: object, why: str, shape: str
) -> None:
    # A can seen exactly level is a rectangle: the outline cannot tell it from a box.
    assert callable(make)
    asset, report = reconstruct(make(), max_faces=4000)
    assert report.details["shape"] == shape and asset.metadata["shape"] == shape
    assert why in report.details["shape_reason"]


def test_domed_at_both_ends_is_inflated_flat_based_is_revolved() -> None:
    # An egg is mirror-symmetric but has no rim to stand on; a dome on a flat base (a cloche,
    # a bell jar) has one.
    x, y = grid()
    egg = (x / 0.22) ** 2 + (y / 0.32) ** 2 < 1
    _, report = reconstruct(egg, max_faces=4000)
    assert report.details["shape"] == "inflate"
    assert "neither end is flat" in report.details["shape_reason"]
    assert report.details["shape_scores"]["flat_end"] < 0.8
    cloche = egg & (y < 0.2)
    _, report = reconstruct(cloche, max_faces=4000)
    assert report.details["shape"] == "revolve"
    assert report.details["shape_scores"]["flat_end"] > 0.9


def test_choose_shape_thresholds() -> None:
    symmetric = {
        "asymmetry": 0.01,
        "single_run": 1.0,
        "tilt_deg": 0.0,
        "side_wobble": 0.2,
        "end_fill": 0.5,
        "flat_end": 0.95,
    }
    assert choose_shape(symmetric, holes=0)[0] == "revolve"
    assert choose_shape({**symmetric, "flat_end": 0.75}, holes=0)[0] == "inflate"
    assert choose_shape(symmetric, holes=1)[0] == "inflate"
    assert choose_shape({**symmetric, "asymmetry": 0.05}, holes=0)[0] == "inflate"
    assert choose_shape({**symmetric, "single_run": 0.9}, holes=0)[0] == "inflate"
    assert choose_shape({**symmetric, "tilt_deg": -15.0}, holes=0)[0] == "inflate"
    box = {**symmetric, "side_wobble": 0.01, "end_fill": 0.95}
    assert choose_shape(box, holes=0) == (
        "box",
        "straight sides and square ends: a box seen head-on",
    )


def test_forced_shape_is_reported() -> None:
    asset, report = reconstruct(bottle_mask(), shape="inflate")
    assert asset.metadata["shape"] == "inflate"
    assert report.details["shape"] == "inflate"
    assert report.details["shape_reason"] == "chosen by the user"
    assert "asymmetry" in report.details["shape_scores"]


def test_shape_option_is_validated() -> None:
    assert create_engine("silhouette").options.shape == "auto"  # type: ignore[attr-defined]
    with pytest.raises(RecipeError, match="shape"):
        create_engine("silhouette", {"shape": "cone"})


@pytest.mark.parametrize("aspect", [0.6, 1.5])
def test_elliptical_rings_keep_the_edges_and_scale_the_depth(aspect: float) -> None:
    mask = bottle_mask().astype(np.uint8)
    f, centre = 700.0, (256.0, 256.0)
    profile = row_profile(mask, mask.astype(np.float32))
    kwargs: dict[str, Any] = {"focal": f, "centre": centre, "distance": 2.2, "max_faces": 4000}
    round_mesh = revolve_profile(profile, **kwargs)
    mesh = revolve_profile(profile, aspect=aspect, **kwargs)
    seg, half = mesh.segments, mesh.segments // 2
    ring = np.arange(mesh.rings * seg).reshape(mesh.rings, seg)
    v = mesh.vertices
    depth = -v[:, 2]
    col = centre[0] + f * v[:, 0] / depth
    # The tangent points still project onto the row's edges: the same as the round rings'.
    round_depth = -round_mesh.vertices[:, 2]
    round_col = centre[0] + f * round_mesh.vertices[:, 0] / round_depth
    for j in (0, half):
        np.testing.assert_allclose(col[ring[:, j]], round_col[ring[:, j]], atol=1e-6)
    # Every ring is an ellipse: its depth extent is ``aspect`` times its width's.
    width = v[ring, 0].max(axis=1) - v[ring, 0].min(axis=1)
    deep = depth[ring].max(axis=1) - depth[ring].min(axis=1)
    np.testing.assert_allclose(deep / width, aspect, rtol=0.01)
    # Texture: the back mirrors the front; the mesh is closed, consistent and outward.
    np.testing.assert_array_equal(
        mesh.pixels[ring[:, half + 1 :]], mesh.pixels[ring[:, half - 1 : 0 : -1]]
    )
    tm = trimesh.Trimesh(v, mesh.faces, process=False)
    assert tm.is_watertight and tm.is_winding_consistent and tm.volume > 0
    assert len(mesh.faces) == len(round_mesh.faces) <= 4000
