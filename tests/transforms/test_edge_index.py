"""edge_index: who shares which edge, kept in step as faces go, flip and come."""

from __future__ import annotations

import numpy as np

from meshes import CUBE_FACES
from meshforge.transforms.edge_index import (
    EdgeIndex,
    disagreeing_runs,
    face_components,
    repeated_directed_edge,
    slot_keys,
)

# Two triangles over the square 0-1-2-3, sharing the diagonal 0-2.
SQUARE = np.array([[0, 1, 2], [0, 2, 3]])


def _faces_per_edge(index: EdgeIndex) -> dict[tuple[int, int], int]:
    _, sizes = index.run_sizes()
    keys = index.key[index.starts()]
    return {(int(k // index.n), int(k % index.n)): int(s) for k, s in zip(keys, sizes, strict=True)}


def test_slot_keys_run_corner_by_corner() -> None:
    # Slot corner * faces + face: all corner-0 edges, then corner 1, then corner 2.
    keys = slot_keys(SQUARE, 4)
    assert keys.tolist() == [0 * 4 + 1, 0 * 4 + 2, 1 * 4 + 2, 2 * 4 + 3, 0 * 4 + 2, 0 * 4 + 3]


def test_build_counts_faces_per_edge() -> None:
    index = EdgeIndex.build(SQUARE)
    assert index.n == 4 and index.faces == 2
    assert _faces_per_edge(index) == {(0, 1): 1, (0, 2): 2, (0, 3): 1, (1, 2): 1, (2, 3): 1}
    assert index.slot_counts().tolist() == [1, 2, 1, 1, 2, 1]
    closed = EdgeIndex.build(CUBE_FACES)
    assert set(_faces_per_edge(closed).values()) == {2}
    assert len(_faces_per_edge(closed)) == 18


def test_keep_flip_and_add_match_a_fresh_build() -> None:
    faces = CUBE_FACES.copy()
    index = EdgeIndex.build(faces, 8)
    mask = np.ones(12, dtype=bool)
    mask[[3, 7]] = False
    kept = index.keep(mask)
    assert _faces_per_edge(kept) == _faces_per_edge(EdgeIndex.build(faces[mask], 8))
    flip = np.zeros(10, dtype=bool)
    flip[[0, 4]] = True
    flipped_faces = faces[mask].copy()
    flipped_faces[flip] = flipped_faces[flip][:, ::-1]
    flipped = kept.flip(flip)
    # Same edges, and each entry still names the corner its edge starts at.
    start, end = flipped.directed(flipped_faces, np.arange(len(flipped.key)))
    low, high = np.minimum(start, end), np.maximum(start, end)
    assert np.array_equal(low * 8 + high, flipped.key)
    added = flipped.add(CUBE_FACES[[3, 7]])
    assert added.faces == 12
    assert _faces_per_edge(added) == _faces_per_edge(EdgeIndex.build(CUBE_FACES, 8))


def test_has_edges() -> None:
    index = EdgeIndex.build(SQUARE)
    assert index.has_edges(np.array([0, 2, 1, 3]), np.array([2, 0, 3, 1])).tolist() == [
        True,
        True,
        False,
        False,
    ]
    empty = EdgeIndex.build(np.zeros((0, 3), dtype=np.int64))
    assert empty.has_edges(np.array([0]), np.array([1])).tolist() == [False]


def test_disagreeing_runs_find_faces_running_an_edge_the_same_way() -> None:
    assert not repeated_directed_edge(SQUARE, EdgeIndex.build(SQUARE))
    bad = np.array([[0, 1, 2], [2, 0, 3]])  # both run the diagonal 2 -> 0
    index = EdgeIndex.build(bad)
    runs = disagreeing_runs(bad, index)
    keys = index.key[index.starts()]
    assert keys[runs].tolist() == [0 * 4 + 2]
    assert repeated_directed_edge(bad, index)


def test_face_components() -> None:
    two = np.vstack([SQUARE, SQUARE + 4, [[8, 9, 10]]])
    count, labels = face_components(two)
    assert count == 3
    assert labels.tolist() == [0, 0, 1, 1, 2]
    # Faces meeting at a corner only are apart.
    assert face_components(np.array([[0, 1, 2], [2, 3, 4]]))[0] == 2
