"""decimate: quadric reduction to a face budget, keeping the shape, the UV seam and the texture."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from pydantic import ValidationError

from meshes import box_asset, checker_sphere
from meshforge.asset import Asset, Mesh
from meshforge.render.raster import fit_camera, render
from meshforge.transforms import decimate
from meshforge.transforms.decimate import DecimateOptions, split_budget
from meshforge.validate.checks import mesh_facts


@pytest.fixture(scope="module")
def sphere() -> Asset:
    return checker_sphere()


@pytest.fixture(scope="module")
def decimated(sphere: Asset) -> Asset:
    return sphere.transform(decimate(target_faces=2000))


def seam_crossings(mesh: Mesh) -> int:
    """Triangles whose corners sit on both sides of the seam (u near 0 and u near 1)."""
    assert mesh.uv is not None
    u = mesh.uv[mesh.faces, 0]
    return int(np.sum((u.min(axis=1) < 0.1) & (u.max(axis=1) > 0.9)))


def test_reaches_the_budget_and_reports_it(sphere: Asset, decimated: Asset) -> None:
    assert sphere.face_count == 20480
    assert 1800 <= decimated.face_count <= 2000
    report = decimated.reports[-1]
    assert report.stage == "decimate"
    assert report.changes["faces"] == (20480, decimated.face_count)
    assert report.changes["vertices"] == (sphere.vertex_count, decimated.vertex_count)
    assert report.details["target_faces"] == 2000
    assert report.details["achieved_ratio"] == round(decimated.face_count / 20480, 4)
    assert report.details["meshes"][0]["faces"] == [20480, decimated.face_count]
    assert report.warnings == []


def test_stays_closed_when_welded_by_position(decimated: Asset) -> None:
    facts = mesh_facts(decimated)
    assert facts["watertight"] and facts["winding_consistent"]
    assert facts["boundary_edges"] == 0 and facts["degenerate_faces"] == 0


def test_keeps_the_shape(decimated: Asset) -> None:
    # The surface's radial deviation from the unit sphere bounds the Hausdorff distance both
    # ways (the mesh is star-shaped about the centre). Measured: max 0.0073, mean 0.0025
    # (the 20,480-face input itself: max 0.0003). Kept vertices stay on the sphere, so the
    # faces are chords inside it: the mean is one-sided.
    mesh = decimated.meshes[0]
    surface = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    points, _ = trimesh.sample.sample_surface(surface, 100_000, seed=0)
    deviation = np.abs(np.linalg.norm(points, axis=1) - 1.0)
    assert deviation.max() < 0.01
    assert deviation.mean() < 0.003


def test_seam_keeps_both_uv_values_and_no_triangle_spans_it(
    sphere: Asset, decimated: Asset
) -> None:
    before, after = sphere.meshes[0], decimated.meshes[0]
    assert before.uv is not None and after.uv is not None
    assert seam_crossings(before) == 0 and seam_crossings(after) == 0

    # The seam collapses along itself, both sides together: every seam position the output
    # still uses carries both of its input UVs (u and u + 1), and no other.
    def uvs_by_position(mesh: Mesh) -> dict[tuple[float, ...], set[tuple[float, ...]]]:
        assert mesh.uv is not None
        found: dict[tuple[float, ...], set[tuple[float, ...]]] = {}
        for i in np.unique(mesh.faces):
            found.setdefault(tuple(mesh.vertices[i]), set()).add(tuple(mesh.uv[i]))
        return found

    source, result = uvs_by_position(before), uvs_by_position(after)
    seam = {p for p, uvs in source.items() if len(uvs) == 2}
    kept = [p for p in result if p in seam]
    assert len(seam) > 50 and len(kept) > 10
    for position in kept:
        assert result[position] == source[position]
    assert all(p in source for p in result)  # every output vertex is an input vertex


def test_textured_render_matches(sphere: Asset, decimated: Asset) -> None:
    # Looking at the seam side, lit, over white. Measured PSNR: 34.2 dB.
    camera = fit_camera(sphere.bounds(), azimuth_deg=160.0, elevation_deg=20.0, size=256)
    before = render(sphere, camera, background=(255, 255, 255)).astype(np.float64)
    after = render(decimated, camera, background=(255, 255, 255)).astype(np.float64)
    mse = np.mean((before[..., :3] - after[..., :3]) ** 2)
    assert 10 * np.log10(255.0**2 / mse) >= 30.0


def test_normals_are_carried_from_the_input(decimated: Asset) -> None:
    mesh = decimated.meshes[0]
    assert mesh.normals is not None
    radial = mesh.vertices / np.linalg.norm(mesh.vertices, axis=1, keepdims=True)
    assert np.einsum("ij,ij->i", mesh.normals, radial).min() > 0.99


def test_ratio_halves(sphere: Asset) -> None:
    half = sphere.transform(decimate(ratio=0.5))
    assert abs(half.face_count - 10240) <= 0.05 * 10240
    assert half.reports[-1].details["target_faces"] == 10240


def test_input_is_left_unchanged(sphere: Asset, decimated: Asset) -> None:
    assert sphere.face_count == 20480 and decimated is not sphere
    assert sphere.reports == []


def test_budget_already_met_is_a_no_op() -> None:
    box = box_asset(1.0, 1.0, 1.0, textured=True)
    result = box.transform(decimate(target_faces=12))
    assert result.meshes == box.meshes
    report = result.reports[-1]
    assert report.changes == {}
    assert report.details["unchanged"] == "12 faces already within the budget of 12"
    assert box.transform(decimate(ratio=1.0)).meshes == box.meshes


def test_budget_is_split_in_proportion() -> None:
    assert split_budget([3000, 1000], 2000) == [1500, 500]
    assert split_budget([10, 9990], 100) == [4, 100]  # never fewer than 4 faces a mesh


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"target_faces": 3}, {"ratio": 0.0}, {"ratio": 1.5}, {"target_faces": 10, "ratio": 0.5}],
)
def test_invalid_options_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        decimate(**kwargs)  # type: ignore[arg-type]


def test_unknown_option_is_an_error() -> None:
    with pytest.raises(ValidationError):
        DecimateOptions.model_validate({"target_faces": 100, "quality": "high"})
