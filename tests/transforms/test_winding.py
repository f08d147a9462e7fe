"""winding: neighbours made to agree, twisted patches cut, parts turned outward."""

from __future__ import annotations

import numpy as np

from meshes import CUBE_FACES, CUBE_VERTICES
from meshforge.geometry import triangle_areas
from meshforge.transforms.edge_index import EdgeIndex, repeated_directed_edge
from meshforge.transforms.winding import consistent_winding, outward, twisted_faces


def mobius(segments: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """A Möbius band: a strip of ``segments`` quads whose last one joins top to bottom."""
    vertices = []
    for t in np.linspace(0, 2 * np.pi, segments, endpoint=False):
        for s in (-0.3, 0.3):
            r = 1 + s * np.cos(t / 2)
            vertices.append([r * np.cos(t), r * np.sin(t), s * np.sin(t / 2)])
    faces = []
    for i in range(segments):
        a0, a1 = 2 * i, 2 * i + 1
        b0, b1 = (2 * i + 2, 2 * i + 3) if i < segments - 1 else (1, 0)  # the half twist
        faces += [[a0, b0, b1], [a0, b1, a1]]
    return np.asarray(vertices), np.asarray(faces)


def _flipped(faces: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = faces.copy()
    out[mask] = out[mask][:, ::-1]
    return out


def test_consistent_winding_flips_the_disagreeing_half() -> None:
    faces = CUBE_FACES.copy()
    faces[1::2] = faces[1::2, ::-1]
    flip = consistent_winding(faces)
    # The walk starts from face 0, so the faces wound like it stay.
    assert np.flatnonzero(flip).tolist() == [1, 3, 5, 7, 9, 11]
    assert np.array_equal(_flipped(faces, flip), CUBE_FACES)
    assert not consistent_winding(CUBE_FACES).any()


def test_a_twisted_band_loses_one_face_and_can_then_be_wound() -> None:
    vertices, faces = mobius(8)
    index = EdgeIndex.build(faces)
    faces = _flipped(faces, consistent_winding(faces, index))
    index = EdgeIndex.build(faces)
    # No flip can make a Möbius band agree: one shared edge still runs one way twice.
    assert repeated_directed_edge(faces, index)
    drop = twisted_faces(faces, index, triangle_areas(vertices, faces))
    assert np.flatnonzero(drop).tolist() == [9]
    rest = faces[~drop]
    rest = _flipped(rest, consistent_winding(rest))
    assert not repeated_directed_edge(rest, EdgeIndex.build(rest))


def test_twisted_faces_keep_the_larger_face() -> None:
    # Two triangles running their shared edge 0 -> 2 the same way: the small one goes.
    vertices = np.array([[0, 0, 0], [1, -1, 0], [1, 0, 0], [0.1, 0.1, 0]], dtype=float)
    faces = np.array([[0, 2, 1], [0, 2, 3]])
    drop = twisted_faces(faces, EdgeIndex.build(faces), triangle_areas(vertices, faces))
    assert drop.tolist() == [False, True]
    clean = np.array([[0, 2, 1], [2, 0, 3]])
    areas = triangle_areas(vertices, clean)
    assert not twisted_faces(clean, EdgeIndex.build(clean), areas).any()


def test_outward_turns_only_the_inside_out_part() -> None:
    vertices = np.vstack([CUBE_VERTICES, CUBE_VERTICES + np.array([3.0, 0.0, 0.0])])
    faces = np.vstack([CUBE_FACES, CUBE_FACES[:, ::-1] + 8])
    flip = outward(vertices, faces, faces)
    assert flip.tolist() == [False] * 12 + [True] * 12
