"""Mesh facts every profile builds on: closed, consistently wound, UV-mapped, textured.

Vertices are welded by position first, as viewers and slicers see them, so a seam in the UVs
does not count as a hole.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Asset


def _welded_faces(asset: Asset) -> NDArray[np.int64]:
    vertices = np.concatenate([m.vertices for m in asset.meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in asset.meshes[:-1]])
    faces = np.concatenate([m.faces + o for m, o in zip(asset.meshes, offsets, strict=True)])
    # Weld on positions rounded to 1e-9 m: identical points share one id.
    rounded = np.ascontiguousarray(np.round(vertices, 9) + 0.0)
    rows = rounded.view(np.dtype((np.void, rounded.dtype.itemsize * 3))).ravel()
    _, inverse = np.unique(rows, return_inverse=True)
    return np.asarray(inverse.reshape(-1)[faces], dtype=np.int64)


def _counts(pairs: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    _, counts = np.unique(pairs[:, 0] * n + pairs[:, 1], return_counts=True)
    return np.asarray(counts, dtype=np.int64)


def edge_facts(faces: NDArray[np.int64]) -> dict[str, bool | int]:
    """Closed: every undirected edge has exactly two faces. Consistent winding: each directed
    edge appears once (its twin runs the other way)."""
    n = int(faces.max()) + 1 if len(faces) else 1
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edge_counts = _counts(np.sort(directed, axis=1), n)
    directed_counts = _counts(directed, n)
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    degenerate = int(np.sum((a == b) | (b == c) | (a == c)))
    return {
        "watertight": bool(np.all(edge_counts == 2)) and degenerate == 0,
        "winding_consistent": bool(np.all(directed_counts == 1)),
        "boundary_edges": int(np.sum(edge_counts == 1)),
        "non_manifold_edges": int(np.sum(edge_counts > 2)),
        "degenerate_faces": degenerate,
    }


def mesh_facts(asset: Asset) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "meshes": len(asset.meshes),
        "faces": asset.face_count,
        "vertices": asset.vertex_count,
        "has_uv": all(m.uv is not None for m in asset.meshes),
        "has_normals": all(m.normals is not None for m in asset.meshes),
        "has_base_color_texture": any(m.base_color_texture is not None for m in asset.materials),
    }
    if asset.face_count:
        facts.update(edge_facts(_welded_faces(asset)))
        low, high = asset.bounds()
        facts["bounds_m"] = [low.round(6).tolist(), high.round(6).tolist()]
    return facts
