"""Small mesh helpers shared by the engine, the transforms, validation and export."""

from __future__ import annotations

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
