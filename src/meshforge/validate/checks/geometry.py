"""Surface checks: closed, 2-manifold, consistently wound, no zero-area faces.

Vertices are welded by position first, as viewers and slicers see them, so a seam in the UVs
does not count as a hole.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Asset
from meshforge.geometry import row_ids
from meshforge.validate.checks.base import CheckResult, verdict


def _welded_faces(asset: Asset) -> NDArray[np.int64]:
    vertices = np.concatenate([m.vertices for m in asset.meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in asset.meshes[:-1]])
    faces = np.concatenate([m.faces + o for m, o in zip(asset.meshes, offsets, strict=True)])
    # Weld on positions rounded to 1e-9 m: identical points share one id.
    return np.asarray(row_ids(vertices)[0][faces], dtype=np.int64)


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
    """Counts and surface facts of an asset, for reports (not a check)."""
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


def _topology(asset: Asset) -> dict[str, bool | int]:
    if not asset.face_count:
        return edge_facts(np.zeros((0, 3), dtype=np.int64))
    return edge_facts(_welded_faces(asset))


def check_watertight(asset: Asset) -> CheckResult:
    """Closed surface: no edge bounds a single face (holes break printing, volume, AR shadows)."""
    boundary = int(_topology(asset)["boundary_edges"])
    return verdict(
        "watertight",
        boundary == 0 and asset.face_count > 0,
        boundary,
        0,
        "closed: every edge is shared by two faces",
        f"{boundary} boundary edges: the mesh has holes; run the repair transform to close them",
    )


def check_manifold(asset: Asset) -> CheckResult:
    """2-manifold: no edge is shared by more than two faces."""
    extra = int(_topology(asset)["non_manifold_edges"])
    return verdict(
        "manifold",
        extra == 0,
        extra,
        0,
        "2-manifold: no edge is shared by more than two faces",
        f"{extra} edges are shared by more than two faces; run the repair transform "
        "to split or remove them",
    )


def opposed_pairs(faces: NDArray[np.int64]) -> bool:
    """Every edge shared by exactly two faces is used by them in opposite directions.

    Winding is a property of two faces across an edge; where three or more faces meet (the
    ``manifold`` check's concern) no orientation can satisfy them all, so those edges are not
    judged here."""
    if not len(faces):
        return True
    n = int(faces.max()) + 1
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    directed = directed[directed[:, 0] != directed[:, 1]]
    low, high = directed.min(axis=1), directed.max(axis=1)
    _, inverse, counts = np.unique(low * n + high, return_inverse=True, return_counts=True)
    forward = np.bincount(inverse.reshape(-1), weights=directed[:, 0] < directed[:, 1])
    return bool(np.all(forward[counts == 2] == 1))


def check_winding(asset: Asset) -> CheckResult:
    """Consistent winding across every two-face edge, and outward on a closed mesh (a negative
    volume means inside out)."""
    facts = _topology(asset)
    consistent = opposed_pairs(_welded_faces(asset)) if asset.face_count else True
    volume = _signed_volume(asset) if facts["watertight"] else None
    inverted = volume is not None and volume < 0
    if not consistent:
        message = "neighbouring faces are wound in opposite directions; run the repair transform"
    elif inverted:
        message = "the faces point inwards (negative volume); run the repair transform to flip them"
    else:
        message = "faces are wound consistently" + (" and point outwards" if volume else "")
    return CheckResult(
        "winding",
        consistent and not inverted,
        "inverted" if inverted else consistent,
        True,
        message,
    )


def _signed_volume(asset: Asset) -> float:
    total = 0.0
    for mesh in asset.meshes:
        tri = mesh.vertices[mesh.faces]
        total += float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6
    return total


def check_degenerate_faces(asset: Asset) -> CheckResult:
    """Faces with a repeated corner or (next to) zero area: they shade badly and break slicers."""
    if not asset.face_count:
        return CheckResult("degenerate_faces", False, 0, 0, "the asset has no faces")
    diagonal = float(np.linalg.norm(asset.extents()))
    count = 0
    for mesh in asset.meshes:
        tri = mesh.vertices[mesh.faces]
        area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1) / 2
        count += int(np.sum(area <= 1e-12 * diagonal**2))
    count = max(count, int(_topology(asset)["degenerate_faces"]))
    return verdict(
        "degenerate_faces",
        count == 0,
        count,
        0,
        "no zero-area faces",
        f"{count} faces have zero area; run the weld and repair transforms to remove them",
    )
