"""solid_cleanup: a united solid that stays closed once positions are welded."""

from __future__ import annotations

import manifold3d
import numpy as np
import pytest

from meshes import CUBE_FACES, CUBE_VERTICES
from meshforge.geometry import row_ids, triangle_areas
from meshforge.transforms.solid_cleanup import clean_solid
from meshforge.transforms.solidify import from_manifold
from meshforge.validate.checks import edge_facts

TOLERANCE, SEPARATION, MAX_AREA = 1e-6, 1e-6, 1e-12


def _welded_facts(vertices: np.ndarray, faces: np.ndarray) -> dict[str, bool | int]:
    return edge_facts(row_ids(vertices)[0][faces])


def _volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    tri = vertices[faces]
    return float(np.einsum("ij,ij->", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6)


def _clean(vertices: np.ndarray, faces: np.ndarray) -> tuple:
    return clean_solid(vertices, faces, TOLERANCE, SEPARATION, MAX_AREA)


def test_a_clean_solid_is_returned_as_it_is() -> None:
    vertices, faces, counts, clean = _clean(CUBE_VERTICES, CUBE_FACES)
    assert clean and set(counts.values()) == {0}
    assert np.array_equal(vertices, CUBE_VERTICES) and np.array_equal(faces, CUBE_FACES)


def test_cubes_touching_along_an_edge_are_moved_apart() -> None:
    # manifold3d unites them into one solid, manifold by index, but with the shared edge's
    # two corners twice: welded by position that edge has four faces.
    union = manifold3d.Manifold.cube((1, 1, 1)) + manifold3d.Manifold.cube((1, 1, 1)).translate(
        (1, 1, 0)
    )
    vertices, faces = from_manifold(union)
    assert _welded_facts(vertices, faces)["non_manifold_edges"] == 1
    cleaned, new_faces, counts, clean = _clean(vertices, faces)
    assert clean and counts["vertices_separated"] == 4
    assert np.array_equal(new_faces, faces)
    facts = _welded_facts(cleaned, new_faces)
    assert facts["watertight"] and facts["winding_consistent"]
    # Each copy moved by SEPARATION, into its own cube: the volume shrinks by next to nothing.
    moved = np.linalg.norm(cleaned - vertices, axis=1)
    assert sorted(moved[moved > 0].round(12).tolist()) == [SEPARATION] * 4
    assert _volume(cleaned, new_faces) == pytest.approx(2.0, abs=1e-5)
    assert _volume(cleaned, new_faces) < 2.0


def test_a_needle_collapses() -> None:
    # Corner 7 of the cube split in two, 1e-9 apart, joined by an edge: two needle faces.
    vertices = np.vstack([CUBE_VERTICES, CUBE_VERTICES[7] + [1e-9, 0, 0]])
    faces = CUBE_FACES.copy()
    # Faces [1, 7, 3] and [2, 3, 7] use the new copy 8 instead; two needles close the gap.
    faces[11] = [1, 8, 3]
    faces[6] = [2, 3, 8]
    faces = np.vstack([faces, [[8, 1, 7], [7, 2, 8]]])
    assert _welded_facts(vertices, faces)["watertight"] is True
    assert np.linalg.norm(vertices[8] - vertices[7]) < TOLERANCE
    cleaned, new_faces, counts, clean = _clean(vertices, faces)
    assert clean
    assert (counts["vertices_merged"], counts["faces_dropped"]) == (1, 2)
    assert len(cleaned) == 8 and len(new_faces) == 12
    assert _volume(cleaned, new_faces) == pytest.approx(1.0)


def test_a_cap_is_flipped_away() -> None:
    # M, a hair off the middle of edge 0-1, splits face (0, 1, 3); the cap (0, 1, M) closes
    # the gap against face (0, 5, 1) across the long edge 0-1.
    vertices = np.vstack([CUBE_VERTICES, [[1e-13, 0.0, 0.5]]])
    faces = np.vstack([np.delete(CUBE_FACES, 0, axis=0), [[0, 8, 3], [8, 1, 3], [0, 1, 8]]])
    assert _welded_facts(vertices, faces)["watertight"] is True
    cleaned, new_faces, counts, clean = _clean(vertices, faces)
    assert clean and counts["caps_flipped"] == 1
    assert len(new_faces) == 14
    assert (triangle_areas(cleaned, new_faces) > MAX_AREA).all()
    assert _welded_facts(cleaned, new_faces)["watertight"] is True
    assert _volume(cleaned, new_faces) == pytest.approx(1.0)


def test_a_flat_pocket_is_dropped() -> None:
    # A unit cube and, apart from it, a closed tetrahedron squashed flat (no volume), its
    # fourth corner a hair off the edge 0-1, so one face has no area and cannot be flipped.
    flat = np.array([[3, 0, 0], [4, 0, 0], [3, 1, 0], [3.5, 1e-13, 1e-13]], dtype=float)
    tetra = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [2, 0, 3]]) + 8
    vertices = np.vstack([CUBE_VERTICES, flat])
    faces = np.vstack([CUBE_FACES, tetra])
    cleaned, new_faces, counts, clean = _clean(vertices, faces)
    assert counts["flat_parts_dropped"] == 1 and clean
    assert np.array_equal(cleaned, CUBE_VERTICES) and np.array_equal(new_faces, CUBE_FACES)
