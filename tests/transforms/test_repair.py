"""repair: bad meshes come out closed, manifold and outward, with every action counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meshes import CUBE_FACES, CUBE_VERTICES, box_asset
from meshforge.asset import Asset, Mesh
from meshforge.errors import TransformError
from meshforge.transforms import dedup, repair, weld
from meshforge.validate.checks import mesh_facts

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "waterbottle.png"
ACTIONS = (
    "nonfinite_faces_removed",
    "degenerate_faces_removed",
    "internal_faces_removed",
    "duplicate_faces_removed",
    "non_manifold_faces_removed",
    "small_parts_removed",
    "small_part_faces_removed",
    "twisted_faces_removed",
    "holes_filled",
    "hole_faces_added",
    "holes_left",
    "largest_hole_filled",
    "hole_centre_fans",
    "hole_slits_zipped",
    "hole_vertices_added",
    "faces_flipped",
    "unused_vertices_removed",
    "vertex_normals_flipped",
)


def _details(by_size: dict[str, int] | None = None, **counts: int) -> dict[str, object]:
    details: dict[str, object] = {key: counts.get(key, 0) for key in ACTIONS}
    details["holes_filled_by_size"] = {"3-8": 0, "9-32": 0, "33-128": 0, "129+": 0} | (
        by_size or {}
    )
    return details


def _cube(vertices: np.ndarray = CUBE_VERTICES, faces: np.ndarray = CUBE_FACES) -> Asset:
    return Asset(meshes=[Mesh(vertices=vertices, faces=faces)])


def _volume(asset: Asset) -> float:
    mesh = asset.meshes[0]
    a, b, c = (mesh.vertices[mesh.faces[:, k]] for k in range(3))
    return float(np.einsum("ij,ij->", a, np.cross(b, c)) / 6)


def _closed(asset: Asset) -> None:
    facts = mesh_facts(asset)
    assert facts["watertight"] is True
    assert facts["winding_consistent"] is True
    assert facts["non_manifold_edges"] == 0
    assert facts["degenerate_faces"] == 0
    assert asset.reports[-1].warnings == []


def test_clean_cube_is_unchanged() -> None:
    asset = _cube().transform(repair())
    assert np.array_equal(asset.meshes[0].faces, CUBE_FACES)
    assert asset.reports[-1].changes == {}
    assert asset.reports[-1].details == _details()


@pytest.mark.parametrize("asset", [Asset(meshes=[]), _cube(faces=np.zeros((0, 3)))])
def test_empty_asset_raises(asset: Asset) -> None:
    with pytest.raises(TransformError, match=r"^repair: the asset has no faces"):
        asset.transform(repair())


def test_all_nan_raises() -> None:
    with pytest.raises(TransformError, match=r"^repair: every face has a NaN"):
        _cube(vertices=np.full((8, 3), np.nan)).transform(repair())


def test_nan_vertices() -> None:
    vertices = np.vstack([CUBE_VERTICES, [[np.nan, 0.0, 0.0]], [[0.0, np.inf, 0.0]]])
    faces = np.vstack([CUBE_FACES, [[0, 1, 8]], [[9, 2, 3]]])
    asset = _cube(vertices, faces).transform(repair())
    assert np.array_equal(asset.meshes[0].vertices, CUBE_VERTICES)
    assert np.array_equal(asset.meshes[0].faces, CUBE_FACES)
    report = asset.reports[-1]
    assert report.details == _details(nonfinite_faces_removed=2, unused_vertices_removed=2)
    assert report.changes == {
        "watertight": (False, True),
        "winding_consistent": (False, True),
        "boundary_edges": (4, 0),
        "non_manifold_edges": (2, 0),
        "faces": (14, 12),
        "vertices": (10, 8),
    }
    _closed(asset)


def test_zero_area_faces() -> None:
    # A face with a repeated corner and a sliver along edge 0-1 (its third corner on the edge).
    vertices = np.vstack([CUBE_VERTICES, [[0.0, 0.0, 0.5]]])
    faces = np.vstack([CUBE_FACES, [[2, 2, 3]], [[0, 8, 1]]])
    asset = _cube(vertices, faces).transform(repair())
    assert np.array_equal(asset.meshes[0].faces, CUBE_FACES)
    assert asset.reports[-1].details == _details(
        degenerate_faces_removed=2, unused_vertices_removed=1
    )
    _closed(asset)


def test_duplicate_faces() -> None:
    faces = np.vstack([CUBE_FACES, CUBE_FACES[3], CUBE_FACES[5, ::-1]])
    asset = _cube(faces=faces).transform(repair())
    assert np.array_equal(asset.meshes[0].faces, CUBE_FACES)
    report = asset.reports[-1]
    assert report.details == _details(duplicate_faces_removed=2)
    assert report.changes["non_manifold_edges"] == (6, 0)
    _closed(asset)


@pytest.mark.parametrize(("removed", "added"), [([7], 1), ([6, 7], 2)])
def test_hole_is_filled(removed: list[int], added: int) -> None:
    faces = np.delete(CUBE_FACES, removed, axis=0)
    asset = _cube(faces=faces).transform(repair())
    assert len(asset.meshes[0].faces) == 12
    report = asset.reports[-1]
    assert report.details == _details(
        {"3-8": 1}, holes_filled=1, hole_faces_added=added, largest_hole_filled=2 + added
    )
    assert report.changes == {
        "watertight": (False, True),
        "boundary_edges": (2 + added, 0),
        "faces": (12 - added, 12),
    }
    _closed(asset)
    assert _volume(asset) == pytest.approx(1.0)


def test_large_hole_is_left_with_a_warning() -> None:
    asset = _cube(faces=CUBE_FACES[2:]).transform(repair(max_hole_edges=3))
    report = asset.reports[-1]
    assert report.details == _details(holes_left=1)
    assert [w.code for w in report.warnings] == ["not-watertight"]
    assert "4 boundary edges" in report.warnings[0].message
    assert mesh_facts(asset)["watertight"] is False
    assert _cube(faces=CUBE_FACES[2:]).transform(repair(fill_holes=False)).face_count == 10


def test_hole_keeps_uvs_without_new_vertices() -> None:
    asset = box_asset(1.0, 1.0, 1.0, textured=True)
    asset.meshes[0].faces = asset.meshes[0].faces[:-1]
    result = asset.transform(repair())
    mesh = result.meshes[0]
    assert np.array_equal(mesh.faces[:11], asset.meshes[0].faces)
    assert np.array_equal(mesh.vertices, asset.meshes[0].vertices)
    assert np.array_equal(mesh.uv, asset.meshes[0].uv)  # type: ignore[arg-type]
    assert result.materials == asset.materials
    _closed(result)


def test_half_the_faces_flipped() -> None:
    faces = CUBE_FACES.copy()
    faces[::2] = faces[::2, ::-1]
    broken = _cube(faces=faces)
    assert mesh_facts(broken)["winding_consistent"] is False
    asset = broken.transform(repair())
    assert np.array_equal(asset.meshes[0].faces, CUBE_FACES)
    report = asset.reports[-1]
    assert report.details == _details(faces_flipped=6)
    assert report.changes == {"winding_consistent": (False, True)}
    assert _volume(asset) == pytest.approx(1.0)
    _closed(asset)


def test_inside_out_cube_and_its_normals() -> None:
    normals = -(CUBE_VERTICES - 0.5)
    asset = Asset(meshes=[Mesh(CUBE_VERTICES, CUBE_FACES[:, ::-1], normals=normals)])
    assert _volume(asset) == pytest.approx(-1.0)
    result = asset.transform(repair())
    assert _volume(result) == pytest.approx(1.0)
    assert np.array_equal(result.meshes[0].normals, -normals)  # type: ignore[arg-type]
    assert result.reports[-1].details == _details(faces_flipped=12, vertex_normals_flipped=8)


def test_non_manifold_edge() -> None:
    # A fin on edge 0-1: three faces share it.
    vertices = np.vstack([CUBE_VERTICES, [[0.5, -1.0, 0.0]]])
    faces = np.vstack([CUBE_FACES[:5], [[0, 1, 8]], CUBE_FACES[5:]])
    broken = _cube(vertices, faces)
    assert mesh_facts(broken)["non_manifold_edges"] == 1
    asset = broken.transform(repair())
    assert np.array_equal(asset.meshes[0].faces, CUBE_FACES)
    report = asset.reports[-1]
    assert report.details == _details(non_manifold_faces_removed=1, unused_vertices_removed=1)
    assert report.changes["non_manifold_edges"] == (1, 0)
    _closed(asset)


def test_small_floating_part() -> None:
    speck = [[3.0, 0.0, 0.0], [3.01, 0.0, 0.0], [3.0, 0.01, 0.0]]
    vertices = np.vstack([CUBE_VERTICES, speck])
    faces = np.vstack([CUBE_FACES, [[8, 9, 10]]])
    asset = _cube(vertices, faces).transform(repair())
    assert np.array_equal(asset.meshes[0].vertices, CUBE_VERTICES)
    assert asset.reports[-1].details == _details(
        small_parts_removed=1, small_part_faces_removed=1, unused_vertices_removed=3
    )
    _closed(asset)
    kept = _cube(vertices, faces).transform(repair(min_part_fraction=0.0, fill_holes=False))
    assert kept.face_count == 13


def test_two_meshes_are_repaired_together() -> None:
    # The cube split across two meshes (materials): not a hole at the join.
    asset = Asset(
        meshes=[
            Mesh(CUBE_VERTICES, CUBE_FACES[:6], material=0),
            Mesh(CUBE_VERTICES, CUBE_FACES[6:], material=1),
        ]
    )
    result = asset.transform(repair())
    assert result.reports[-1].changes == {}
    assert [len(m.faces) for m in result.meshes] == [6, 6]


def test_generated_asset_is_untouched(tmp_path: Path) -> None:
    from meshforge.api import generate

    asset = generate(EXAMPLE, tmp_path, segmenter="color-key", thumbnail=False).asset
    assert mesh_facts(asset)["watertight"] is True
    result = asset.transform(weld(), dedup(), repair())
    for report in result.reports[-3:]:
        assert report.changes == {}
        assert report.warnings == []
    assert result.reports[-1].details == _details()
    assert np.array_equal(result.meshes[0].faces, asset.meshes[0].faces)
    assert np.array_equal(result.meshes[0].uv, asset.meshes[0].uv)  # type: ignore[arg-type]


def test_many_small_parts_go_and_an_inside_out_part_turns() -> None:
    # A unit cube, eight specks (each far under 1% of its area) between its faces, and a half-size
    # cube wound inside out (25% of the area: kept, and turned outward).
    specks = np.vstack([[[10.0 + i, 0.0, 0.0], [10.01 + i, 0.0, 0.0], [10.0 + i, 0.01, 0.0]]
                        for i in range(8)])  # fmt: skip
    small = CUBE_VERTICES * 0.5 + [3.0, 0.0, 0.0]
    vertices = np.vstack([CUBE_VERTICES, specks, small])
    faces = np.vstack(
        [CUBE_FACES[:6], 8 + np.arange(24).reshape(8, 3), CUBE_FACES[6:], CUBE_FACES[:, ::-1] + 32]
    )
    asset = _cube(vertices, faces).transform(repair())
    mesh = asset.meshes[0]
    assert np.array_equal(mesh.vertices, np.vstack([CUBE_VERTICES, small]))
    assert np.array_equal(mesh.faces, np.vstack([CUBE_FACES, CUBE_FACES + 8]))
    report = asset.reports[-1]
    assert report.details == _details(
        small_parts_removed=8,
        small_part_faces_removed=8,
        faces_flipped=12,
        unused_vertices_removed=24,
    )
    assert report.changes == {
        "watertight": (False, True),
        "boundary_edges": (24, 0),
        "faces": (32, 24),
        "vertices": (40, 16),
    }
    _closed(asset)


def test_two_fins_on_one_edge() -> None:
    # Four faces on edge 0-1: the cube's two (three shared edges each) stay, both fins go.
    vertices = np.vstack([CUBE_VERTICES, [[0.5, -1.0, 0.0]], [[-1.0, -0.5, 0.5]]])
    faces = np.vstack([CUBE_FACES[:3], [[0, 1, 8]], CUBE_FACES[3:], [[1, 0, 9]]])
    broken = _cube(vertices, faces)
    asset = broken.transform(repair())
    assert np.array_equal(asset.meshes[0].faces, CUBE_FACES)
    report = asset.reports[-1]
    assert report.details == _details(non_manifold_faces_removed=2, unused_vertices_removed=2)
    assert report.changes == {
        "watertight": (False, True),
        "winding_consistent": (False, True),
        "boundary_edges": (4, 0),
        "non_manifold_edges": (1, 0),
        "faces": (14, 12),
        "vertices": (10, 8),
    }
    _closed(asset)


def test_mixed_winding_on_a_large_mesh() -> None:
    # 81,920 faces: past 46,341, where face-pair keys overflow 32-bit integers.
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=6)
    faces = np.asarray(sphere.faces, dtype=np.int64)
    mixed = faces.copy()
    mixed[1::2] = mixed[1::2, ::-1]
    asset = _cube(np.asarray(sphere.vertices), mixed).transform(repair())
    assert np.array_equal(asset.meshes[0].faces, faces)
    report = asset.reports[-1]
    assert report.details == _details(faces_flipped=40_960)
    assert report.changes == {"winding_consistent": (False, True)}
    _closed(asset)


def test_reported_facts_are_the_validators() -> None:
    # Holes, a fin, a repeated face and flipped faces across two meshes: every fact the report
    # gives before and after is what validation measures on the input and the output.
    vertices = np.vstack([CUBE_VERTICES, [[0.5, -1.0, 0.0]]])
    faces = np.vstack([CUBE_FACES, [[0, 1, 8]], CUBE_FACES[4]])
    faces[[1, 6, 9]] = faces[[1, 6, 9], ::-1]
    faces = np.delete(faces, [2, 11], axis=0)
    broken = Asset(
        meshes=[
            Mesh(vertices, faces[:5], material=0),
            Mesh(vertices, faces[5:], material=1),
        ]
    )
    result = broken.transform(repair())
    before, after = mesh_facts(broken), mesh_facts(result)
    changes = result.reports[-1].changes
    for key in ("watertight", "winding_consistent", "boundary_edges", "non_manifold_edges"):
        assert changes.get(key, (before[key], before[key])) == (before[key], after[key])
    assert changes["non_manifold_edges"] == (4, 0)


def _open_cylinder(segments: int) -> Asset:
    """A closed-bottom cylinder (radius 1, height 1) open at the top: a ``segments``-edge hole."""
    theta = 2 * np.pi * np.arange(segments) / segments
    ring = np.column_stack([np.cos(theta), np.sin(theta)])
    vertices = np.vstack(
        [np.column_stack([ring, np.zeros(segments)]), np.column_stack([ring, np.ones(segments)])]
    )
    vertices = np.vstack([vertices, [[0.0, 0.0, 0.0]]])
    i = np.arange(segments)
    j = (i + 1) % segments
    faces = np.vstack(
        [
            np.column_stack([i, j, j + segments]),
            np.column_stack([i, j + segments, i + segments]),
            np.column_stack([j, i, np.full(segments, 2 * segments)]),
        ]
    )
    return Asset(meshes=[Mesh(vertices, faces)])


def test_large_hole_is_filled_when_asked() -> None:
    cup = _open_cylinder(64)
    left = cup.transform(repair())
    assert left.reports[-1].details["holes_left"] == 1
    assert [w.code for w in left.reports[-1].warnings] == ["not-watertight"]
    asset = cup.transform(repair(max_hole_edges=None))
    report = asset.reports[-1]
    assert report.details == _details(
        {"33-128": 1}, holes_filled=1, hole_faces_added=62, largest_hole_filled=64
    )
    assert report.changes == {
        "watertight": (False, True),
        "boundary_edges": (64, 0),
        "faces": (192, 254),
    }
    _closed(asset)
    assert _volume(asset) == pytest.approx(32 * np.sin(2 * np.pi / 64))


def test_fin_on_an_open_cube() -> None:
    # A fin on edge 0-1 (three faces there) and the cube's y = 1 side missing: the fin goes
    # first, so the hole's rim is well defined, then the hole is closed.
    vertices = np.vstack([CUBE_VERTICES, [[0.5, -1.0, 0.0]]])
    faces = np.vstack([np.delete(CUBE_FACES, [6, 7], axis=0), [[0, 1, 8]]])
    broken = _cube(vertices, faces)
    assert mesh_facts(broken)["non_manifold_edges"] == 1
    asset = broken.transform(repair())
    report = asset.reports[-1]
    assert report.details == _details(
        {"3-8": 1},
        non_manifold_faces_removed=1,
        holes_filled=1,
        hole_faces_added=2,
        largest_hole_filled=4,
        unused_vertices_removed=1,
    )
    _closed(asset)
    assert _volume(asset) == pytest.approx(1.0)


def test_twisted_band_loses_a_face_and_agrees() -> None:
    # A Möbius band cannot be wound consistently: the face on the edge that still disagrees
    # after the walk goes, and the rest agrees.
    vertices = []
    for t in np.linspace(0, 2 * np.pi, 8, endpoint=False):
        for s in (-0.3, 0.3):
            r = 1 + s * np.cos(t / 2)
            vertices.append([r * np.cos(t), r * np.sin(t), s * np.sin(t / 2)])
    faces = []
    for i in range(8):
        b0, b1 = (2 * i + 2, 2 * i + 3) if i < 7 else (1, 0)
        faces += [[2 * i, b0, b1], [2 * i, b1, 2 * i + 1]]
    band = _cube(np.asarray(vertices), np.asarray(faces))
    assert mesh_facts(band)["winding_consistent"] is False
    asset = band.transform(repair(fill_holes=False))
    assert asset.reports[-1].details["twisted_faces_removed"] == 1
    assert asset.face_count == 15
    assert mesh_facts(asset)["winding_consistent"] is True


def test_hole_size_option_is_checked() -> None:
    assert repair(max_hole_edges=None).options.max_hole_edges is None  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="greater than or equal to 3"):
        repair(max_hole_edges=2)


def test_wall_between_stacked_cubes_goes_and_joins_them() -> None:
    # Two unit cubes sharing the square x = 1: its two triangles are in both, wound opposite
    # ways. Dropping both sides leaves one closed 2 x 1 x 1 box (keeping one side would leave
    # the square's edges with three faces each).
    vertices = np.vstack([CUBE_VERTICES, CUBE_VERTICES + np.array([1.0, 0.0, 0.0])])
    faces = np.vstack([CUBE_FACES, CUBE_FACES + 8])
    asset = _cube(vertices, faces).transform(repair())
    report = asset.reports[-1]
    assert report.details == _details(internal_faces_removed=4)
    assert report.changes["non_manifold_edges"] == (5, 0)
    assert asset.face_count == 20
    _closed(asset)
    assert _volume(asset) == pytest.approx(2.0)


def test_double_sided_sheet_keeps_one_side() -> None:
    # The same square twice, wound both ways, attached to nothing: not a wall between parts,
    # so the duplicate step keeps the first side.
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
    faces = np.array([[0, 1, 2], [0, 2, 3], [2, 1, 0], [3, 2, 0]])
    asset = _cube(square, faces).transform(repair(fill_holes=False))
    details = asset.reports[-1].details
    assert (details["internal_faces_removed"], details["duplicate_faces_removed"]) == (0, 2)
    assert asset.meshes[0].faces.tolist() == [[0, 1, 2], [0, 2, 3]]
