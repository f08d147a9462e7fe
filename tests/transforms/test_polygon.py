"""polygon: a loop's best-fit plane, its simplicity, and ears cut over its own corners."""

from __future__ import annotations

import numpy as np
import pytest

from meshforge.transforms import polygon

SQUARE = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
# An L: six corners, one of them (index 3) reflex.
ELL = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], dtype=float)


def _lift(flat: np.ndarray, z: float = 0.0) -> np.ndarray:
    return np.column_stack([flat, np.full(len(flat), z)])


def _area_2d(flat: np.ndarray, triangles: list[tuple[int, int, int]]) -> list[float]:
    out = []
    for a, b, c in triangles:
        u, v = flat[b] - flat[a], flat[c] - flat[a]
        out.append(float(u[0] * v[1] - u[1] * v[0]) / 2)
    return out


def test_signed_area_and_best_fit_plane_turn_the_loop_anticlockwise() -> None:
    assert polygon.signed_area(SQUARE) == 1.0
    assert polygon.signed_area(SQUARE[::-1]) == -1.0
    # The square in the x-z plane, run clockwise seen from +y: projected anticlockwise anyway.
    loop = np.column_stack([SQUARE[:, 0], np.zeros(4), SQUARE[:, 1]])
    for ring in (loop, loop[::-1]):
        flat = polygon.best_fit_plane(ring)
        assert polygon.signed_area(flat) == pytest.approx(1.0)
        # Distances between corners are kept: it is a rotation of the plane.
        assert np.linalg.norm(flat[0] - flat[2]) == pytest.approx(np.sqrt(2))


def test_is_simple() -> None:
    assert polygon.is_simple(SQUARE)
    assert polygon.is_simple(ELL)
    bowtie = np.array([[0, 0], [1, 1], [1, 0], [0, 1]], dtype=float)
    assert not polygon.is_simple(bowtie)
    # A corner that touches another edge, and a corner visited twice.
    touching = np.array([[0, 0], [2, 0], [2, 2], [1, 0], [0, 2]], dtype=float)
    assert not polygon.is_simple(touching)
    repeated = np.array([[0, 0], [1, 0], [1, 1], [0, 0], [-1, 1], [-1, 0]], dtype=float)
    assert not polygon.is_simple(repeated)
    # All corners on one line: no area, not simple.
    assert not polygon.is_simple(np.array([[0, 0], [1, 0], [2, 0]], dtype=float))


def test_ear_clip_covers_the_polygon_once_in_its_winding() -> None:
    triangles = polygon.ear_clip(ELL, _lift(ELL))
    assert triangles is not None and len(triangles) == 4
    areas = _area_2d(ELL, triangles)
    # Every triangle is wound like the polygon, and together they cover its area exactly.
    assert min(areas) > 0
    assert sum(areas) == pytest.approx(polygon.signed_area(ELL))
    # No triangle uses the reflex corner's outside: the diagonal 2-4 (across the notch) is absent.
    edges = {frozenset(e) for t in triangles for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))}
    assert frozenset((2, 4)) not in edges


def test_ear_clip_respects_blocked_diagonals() -> None:
    # A square has two triangulations; blocking diagonal 0-2 forces the one over 1-3.
    triangles = polygon.ear_clip(SQUARE, _lift(SQUARE), lambda a, c: {a, c} == {0, 2})
    assert triangles is not None
    assert sorted(triangles) == [(0, 1, 3), (1, 2, 3)]
    assert polygon.ear_clip(SQUARE, _lift(SQUARE), lambda a, c: True) is None


def test_ears_are_cut_best_shaped_first() -> None:
    # A long thin hexagon: ears are ranked by 3D shape, so no triangle spans the full length
    # while a better one exists; the result has no sliver below a third of the best quality.
    ring = np.array([[0, 0], [3, -1], [6, 0], [6, 1], [3, 2], [0, 1]], dtype=float)
    triangles = polygon.ear_clip(ring, _lift(ring))
    assert triangles is not None and len(triangles) == 4
    points = _lift(ring)
    quality = [polygon.triangle_quality(*points[list(t)]) for t in triangles]
    assert min(quality) > 0.3


def test_triangulate_a_saddle_loop() -> None:
    # Eight corners on a circle going up and down twice: not planar, but simple in its plane.
    theta = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    loop = np.column_stack([np.cos(theta), np.sin(theta), 0.3 * np.cos(2 * theta)])
    triangles = polygon.triangulate(loop)
    assert triangles is not None and len(triangles) == 6
    normals = [np.cross(loop[b] - loop[a], loop[c] - loop[a]) for a, b, c in triangles]
    # Wound as the loop runs (anticlockwise seen from +z): every triangle faces up.
    assert min(n[2] for n in normals) > 0


def test_triangulate_refuses_a_loop_whose_projection_crosses_itself() -> None:
    # A bowtie lifted apart in z: a simple loop in space, but its best-fit plane (z = 0) sees
    # two edges cross.
    loop = np.array([[0, 0, 0], [1, 1, 0.1], [1, 0, 0], [0, 1, -0.1]], dtype=float)
    assert polygon.triangulate(loop) is None


def test_centre_and_fan() -> None:
    # The centroid of the outline, not of the corners: a dense side does not pull it over.
    ring = np.array([[0, 0, 0], [0.5, 0, 0], [0.6, 0, 0], [0.7, 0, 0], [1, 0, 0], [1, 1, 0]])
    ring = np.vstack([ring, [[0, 1, 0]]])
    assert polygon.centre(ring) == pytest.approx([0.5, 0.5, 0.0])
    assert polygon.fan(3).tolist() == [[0, 1, 3], [1, 2, 3], [2, 0, 3]]


def test_triangle_quality() -> None:
    equilateral = np.array([[0, 0, 0], [1, 0, 0], [0.5, np.sqrt(3) / 2, 0]])
    assert polygon.triangle_quality(*equilateral) == pytest.approx(1.0)
    assert polygon.triangle_quality([0, 0, 0], [1, 0, 0], [2, 0, 0]) == 0.0
