"""slivers: zero-area triangles flipped away, folded pairs dropped, the surface kept closed."""

from __future__ import annotations

import numpy as np
import trimesh

from meshforge.asset import Asset, Mesh
from meshforge.transforms import decimate
from meshforge.transforms.slivers import drop_folded_pairs, flip_slivers, sliver_faces
from meshforge.validate.checks import check_degenerate_faces, mesh_facts

# p, q, the middle vertex m on segment p-q, and x above it.
P, Q, M, X = 0, 1, 2, 3
FLAT = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])


def test_a_sliver_is_flipped_with_its_neighbour() -> None:
    faces = np.array([[P, Q, M], [Q, P, X]])
    assert sliver_faces(FLAT, faces).tolist() == [0]
    flipped, count = flip_slivers(FLAT, faces)
    assert count == 1
    assert flipped.tolist() == [[P, X, M], [X, Q, M]]
    assert sliver_faces(FLAT, flipped).size == 0
    # Same winding as before: both new faces' normals point the neighbour's way.
    normal = np.cross(FLAT[P] - FLAT[Q], FLAT[X] - FLAT[Q])
    for a, b, c in flipped:
        assert np.dot(np.cross(FLAT[b] - FLAT[a], FLAT[c] - FLAT[a]), normal) > 0


def test_a_sliver_on_a_border_stays() -> None:
    faces = np.array([[P, Q, M]])
    flipped, count = flip_slivers(FLAT, faces)
    assert count == 0 and flipped.tolist() == faces.tolist()


def test_folded_pairs_are_dropped_and_repeats_lose_their_copies() -> None:
    faces = np.array([[P, Q, X], [Q, P, X], [P, M, X], [M, X, P], [Q, X, M]])
    kept, dropped = drop_folded_pairs(FLAT, faces)
    # P-Q-X and Q-P-X cancel; P-M-X and M-X-P are the same face twice: one stays.
    assert dropped == 3
    assert kept.tolist() == [[P, M, X], [Q, X, M]]


def test_folds_across_a_uv_seam_are_found_by_position() -> None:
    vertices = np.vstack([FLAT, FLAT[P]])  # vertex 4 is P again, on the other side of a seam
    faces = np.array([[P, Q, X], [Q, 4, X]])
    kept, dropped = drop_folded_pairs(vertices, faces)
    assert dropped == 2 and len(kept) == 0


def test_decimating_subdivided_flat_faces_leaves_no_zero_area_face() -> None:
    # A 12-sided cylinder split 1-to-4 four times: its caps and sides are flat, and every new
    # vertex lies on an older edge. Without the flips, a fifth of the faces leaves 33 slivers
    # (measured).
    base = trimesh.creation.cylinder(radius=0.5, height=1.0, sections=12)
    vertices, faces = base.vertices, base.faces
    for _ in range(4):
        vertices, faces = trimesh.remesh.subdivide(vertices, faces)
    asset = Asset(meshes=[Mesh(vertices, faces)])
    result = asset.transform(decimate(ratio=0.2))
    mesh = result.meshes[0]
    assert result.reports[-1].details["slivers_flipped"] > 10
    assert sliver_faces(mesh.vertices, mesh.faces).size == 0
    assert check_degenerate_faces(result).passed
    facts = mesh_facts(result)
    assert facts["watertight"] and facts["non_manifold_edges"] == 0
