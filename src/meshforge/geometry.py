"""Small mesh helpers shared by the engine, the transforms, validation and export."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def row_ids(rows: NDArray[np.floating], decimals: int = 9) -> tuple[IntArray, IntArray]:
    """One id per distinct row (rounded to ``decimals``: 1e-9 m for positions, as viewers and
    slicers weld them), and the index of each id's first row."""
    rounded = np.ascontiguousarray(np.round(rows, decimals) + 0.0)
    keys = rounded.view(np.dtype((np.void, rounded.dtype.itemsize * rounded.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return np.asarray(inverse.reshape(-1), dtype=np.int64), np.asarray(first, dtype=np.int64)


def vertex_normals(
    vertices: FloatArray, faces: IntArray, *, join_positions: bool = False
) -> FloatArray:
    """Area-weighted vertex normals; with ``join_positions`` vertices at the same position share
    one (smooth across UV seams). A vertex no face uses gets a zero normal."""
    group = row_ids(vertices)[0] if join_positions else np.arange(len(vertices))
    tri = vertices[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 x area
    corner_group = group[faces].reshape(-1)
    count = int(group.max()) + 1 if len(group) else 0
    sums = np.column_stack(
        [np.bincount(corner_group, np.repeat(face_normals[:, k], 3), count) for k in range(3)]
    )
    normals = np.asarray(sums[group], dtype=np.float64)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.asarray(np.divide(normals, length, out=np.zeros_like(normals), where=length > 1e-12))


def int_row_keys(rows: NDArray[np.integer]) -> IntArray:
    """One int64 per row of integers, equal exactly when the rows are equal and ordered as the
    rows are lexicographically: a 1-D key that sorts far faster than ``np.unique(axis=0)``.
    Rows whose value ranges are too wide to pack into 63 bits get dense ranks (one lexsort)."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    low = rows.min(axis=0)
    span = [int(s) for s in rows.max(axis=0) - low + 1]
    if math.prod(span) < 2**63:
        key = np.zeros(len(rows), dtype=np.int64)
        for column, width in enumerate(span):
            key = key * width + (rows[:, column] - low[column])
        return key
    order = np.lexsort(rows.T[::-1])
    ranked = rows[order]
    new = np.r_[True, (ranked[1:] != ranked[:-1]).any(axis=1)]
    key = np.empty(len(rows), dtype=np.int64)
    key[order] = np.cumsum(new) - 1
    return key


def first_occurrence(keys: NDArray[np.integer]) -> NDArray[np.bool_]:
    """True at the first (lowest-index) occurrence of every distinct key."""
    keep = np.zeros(len(keys), dtype=bool)
    if len(keys):
        order = np.argsort(keys, kind="stable")  # stable: the first of equal keys comes first
        ranked = keys[order]
        keep[order[np.r_[True, ranked[1:] != ranked[:-1]]]] = True
    return keep


def triangle_areas(vertices: FloatArray, faces: IntArray) -> FloatArray:
    """The area of each triangle ``faces`` (rows of three indices into ``vertices``)."""
    tri = vertices[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return np.asarray(np.linalg.norm(cross, axis=1) / 2, dtype=np.float64)
