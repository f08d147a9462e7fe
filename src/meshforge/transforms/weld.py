"""``weld``: merge vertices that sit at the same place, so the mesh is connected where it looks
connected (engines and file formats often hand over one vertex per face corner).

With ``keep_seams`` (the default) coincident vertices whose UVs or normals differ stay apart: a
UV seam or a hard edge is deliberate, and merging it would smear the texture or the shading.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from pydantic import Field
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from meshforge.asset import Asset, FloatArray, IntArray, Mesh
from meshforge.geometry import row_ids
from meshforge.recipe import Options
from meshforge.transforms.base import Context, Transform

# Attribute differences below these count as equal: float noise, not a seam.
UV_DECIMALS = 6
NORMAL_DECIMALS = 4


class WeldOptions(Options):
    tolerance: float = Field(
        default=1e-6,
        ge=0.0,
        description="Vertices closer than this (metres, absolute) are merged; 0 merges only "
        "identical positions.",
    )
    keep_seams: bool = Field(
        default=True,
        description="Keep coincident vertices apart when their UVs or normals differ, so "
        "textures and hard edges look the same after welding.",
    )


def weld(tolerance: float = 1e-6, keep_seams: bool = True) -> Transform:
    options = WeldOptions(tolerance=tolerance, keep_seams=keep_seams)
    return Transform(name="weld", function=lambda a, c: _weld(a, c, options), options=options)


def position_ids(vertices: FloatArray, decimals: int = 9) -> IntArray:
    """One id per distinct position (rounded to ``decimals``), as viewers and slicers see it."""
    return row_ids(vertices, decimals)[0]


def cluster_positions(vertices: FloatArray, tolerance: float) -> IntArray:
    """Cluster ids: points within ``tolerance`` of each other share one, transitively (a chain of
    close points becomes one cluster). Non-finite points are never merged with anything."""
    n = len(vertices)
    exact, first = row_ids(vertices, 12)
    finite = np.isfinite(vertices).all(axis=1)
    if not finite.all():
        # Non-finite points get ids of their own past every finite one.
        exact = np.where(finite, exact, exact.max(initial=0) + 1 + np.arange(n))
        _, first, exact = np.unique(exact, return_index=True, return_inverse=True)
        exact = exact.reshape(-1)
    if tolerance > 0 and len(first) > 1:
        points = vertices[first]
        ok = np.flatnonzero(np.isfinite(points).all(axis=1))
        pairs = cKDTree(points[ok]).query_pairs(tolerance, output_type="ndarray")
        if len(pairs):
            m = len(first)
            graph = coo_matrix(
                (np.ones(len(pairs)), (ok[pairs[:, 0]], ok[pairs[:, 1]])), shape=(m, m)
            )
            _, labels = connected_components(graph, directed=False)
            exact = np.asarray(labels, dtype=np.int64)[exact]
    return np.asarray(exact, dtype=np.int64)


def _lowest_member(labels: IntArray) -> IntArray:
    """For every element, the lowest index that carries its (non-negative) label."""
    lowest = np.full(int(labels.max()) + 1, len(labels), dtype=np.int64)
    np.minimum.at(lowest, labels, np.arange(len(labels)))
    return lowest[labels]


def _split_groups(leader: IntArray, attributes: FloatArray) -> IntArray:
    """``leader`` (each vertex's lowest cluster member) refined so that vertices whose rounded
    attributes differ lead groups of their own. Only clusters with several vertices need the
    comparison, so only those are sorted; a NaN attribute never equals anything (as in
    ``np.unique``)."""
    shared = np.flatnonzero(np.bincount(leader)[leader] > 1)
    if len(shared) == 0:
        return leader
    rows = attributes[shared]
    # Stable lexsort: equal rows stay in vertex order, so each run starts at its lowest vertex.
    order = np.lexsort((*rows.T[::-1], leader[shared]))
    members, ranked = shared[order], rows[order]
    start = np.r_[True, (ranked[1:] != ranked[:-1]).any(axis=1)]
    start[1:] |= leader[members[1:]] != leader[members[:-1]]
    runs = np.flatnonzero(start)
    refined = leader.copy()
    refined[members] = members[np.repeat(runs, np.diff(np.r_[runs, len(members)]))]
    return refined


def weld_mesh(mesh: Mesh, tolerance: float, keep_seams: bool) -> tuple[Mesh, int, int]:
    """The welded mesh, the faces that collapsed (dropped) and the vertices kept apart by seams.

    Merged vertices take the position, UV and normal of the lowest-numbered vertex of their
    cluster, so the result does not depend on float averaging."""
    n = len(mesh.vertices)
    if n == 0:
        return mesh, 0, 0
    cluster = cluster_positions(mesh.vertices, tolerance)
    columns: list[FloatArray] = []
    if keep_seams:
        if mesh.uv is not None:
            columns.append(np.round(mesh.uv, UV_DECIMALS) + 0.0)
        if mesh.normals is not None:
            columns.append(np.round(mesh.normals, NORMAL_DECIMALS) + 0.0)
    # Clusters and vertex groups are each named by their lowest vertex, so kept vertices come in
    # order of first appearance and a welded mesh stays stable.
    anchor = _lowest_member(cluster)
    leader = _split_groups(anchor, np.hstack(columns)) if columns else anchor
    index = np.arange(n)
    kept = leader == index
    keep = np.flatnonzero(kept)
    seams = len(keep) - int(np.count_nonzero(anchor == index))
    remap = (np.cumsum(kept) - 1)[leader]
    faces = remap[mesh.faces]
    collapsed = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2])
    collapsed |= faces[:, 0] == faces[:, 2]
    welded = dataclasses.replace(
        mesh,
        # Every vertex of a position cluster moves onto its first vertex, closing cracks.
        vertices=mesh.vertices[anchor[keep]],
        faces=faces[~collapsed],
        uv=None if mesh.uv is None else mesh.uv[keep],
        normals=None if mesh.normals is None else mesh.normals[keep],
    )
    return welded, int(collapsed.sum()), int(seams)


def _weld(asset: Asset, ctx: Context, options: WeldOptions) -> Asset:
    meshes: list[Mesh] = []
    collapsed = seams = 0
    for mesh in asset.meshes:
        welded, dropped, kept = weld_mesh(mesh, options.tolerance, options.keep_seams)
        meshes.append(welded)
        collapsed += dropped
        seams += kept
    before, after = asset.vertex_count, sum(len(m.vertices) for m in meshes)
    if after != before:
        ctx.report.change("vertices", before, after)
    ctx.report.note("vertices_merged", before - after)
    ctx.report.note("seam_vertices_kept", seams)
    ctx.report.note("collapsed_faces_removed", collapsed)
    return dataclasses.replace(asset, meshes=meshes)
