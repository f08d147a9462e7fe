"""Winding: which faces to flip so that neighbours agree and every part faces outward, and
which faces to drop where a part cannot agree with itself (a twisted, non-orientable patch).

Faces are given as point ids (see ``edge_index``); every function returns a mask and leaves
the caller to apply it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

from meshforge.asset import FloatArray, IntArray
from meshforge.transforms.edge_index import (
    EdgeIndex,
    disagreeing_runs,
    face_components,
    repeated_directed_edge,
)

BoolArray = NDArray[np.bool_]


def consistent_winding(points: IntArray, index: EdgeIndex | None = None) -> BoolArray:
    """Mask of faces to flip so that every shared edge runs opposite ways in its two faces (as
    far as a breadth-first walk from each part's first face can: on a non-orientable part some
    edges still disagree, see ``twisted_faces``). ``index`` (the faces' edge index) saves
    sorting again."""
    m = len(points)
    flip = np.zeros(m, dtype=bool)
    if m == 0:
        return flip
    index = EdgeIndex.build(points) if index is None else index
    if not repeated_directed_edge(points, index):
        return flip
    run, sizes = index.run_sizes()
    # Edges with exactly two faces: the run's first entry and the next.
    a = np.flatnonzero(index.starts() & (sizes[run] == 2))
    b = a + 1
    pairs = np.column_stack([index.face[a], index.face[b]])
    # Same direction on a shared edge: the two faces disagree, one of them must flip.
    (start_a, end_a), (start_b, end_b) = index.directed(points, a), index.directed(points, b)
    disagree = (start_a == start_b) & (end_a == end_b)
    _, first = np.unique(pairs[:, 0] * m + pairs[:, 1], return_index=True)
    pairs, disagree = pairs[first], disagree[first]
    # A virtual root joins one face of every part, so one walk visits them all.
    count, labels = connected_components(
        coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m)),
        directed=False,
    )
    roots = np.full(count, m, dtype=np.int64)
    np.minimum.at(roots, labels, np.arange(m))
    rows = np.r_[pairs[:, 0], pairs[:, 1], np.full(count, m)]
    cols = np.r_[pairs[:, 1], pairs[:, 0], roots]
    data = np.r_[disagree, disagree, np.zeros(count, dtype=bool)].astype(np.float64) + 1.0
    size = m + 1
    graph = csr_matrix((data, (rows, cols)), shape=(size, size))
    graph.sum_duplicates()  # canonical: sorted columns, for the look-up below
    order_nodes, predecessors = breadth_first_order(graph, m, directed=False)
    nodes = np.asarray(order_nodes[1:], dtype=np.int64)  # int32 from scipy: keys overflow
    parents = np.asarray(predecessors[nodes], dtype=np.int64)
    # graph[node, parent] for every tree edge, looked up in the CSR arrays (row-major, sorted
    # columns); the virtual root's edges are stored one way only, so those read as 0.
    entry = np.repeat(np.arange(size), np.diff(graph.indptr)) * size + graph.indices
    wanted = nodes * size + parents
    at = np.minimum(np.searchsorted(entry, wanted), len(entry) - 1)
    weight = np.where(entry[at] == wanted, graph.data[at], 0.0)
    # A face flips when an odd number of disagreeing edges lead to its part's root: the parity
    # of each path, by pointer jumping (log of the tree's depth passes).
    parent = np.arange(size)
    parent[nodes] = parents
    odd = np.zeros(size, dtype=bool)
    odd[nodes] = weight == 2.0
    while True:
        grandparent = parent[parent]
        if np.array_equal(grandparent, parent):
            break
        odd ^= odd[parent]
        parent = grandparent
    flip[:] = odd[:m]
    return flip


def twisted_faces(points: IntArray, index: EdgeIndex, areas: FloatArray) -> BoolArray:
    """Mask of faces to drop where two faces still run a shared edge the same way after
    ``consistent_winding``: a part that cannot be oriented (a fold of slivers, a twisted strip).
    Of each such pair the smaller face goes (the first on a tie); the hole it leaves is a
    boundary that hole filling can close with agreeing faces."""
    drop = np.zeros(len(points), dtype=bool)
    if len(points) == 0:
        return drop
    bad = disagreeing_runs(points, index)
    if not bad.any():
        return drop
    run, sizes = index.run_sizes()
    first = np.flatnonzero(index.starts() & bad[run] & (sizes[run] == 2))
    a, b = index.face[first], index.face[first + 1]
    smaller = np.where((areas[b] < areas[a]) | ((areas[b] == areas[a]) & (b < a)), b, a)
    drop[smaller] = True
    return drop


def outward(
    vertices: FloatArray,
    faces: IntArray,
    points: IntArray,
    components: tuple[int, IntArray] | None = None,
) -> BoolArray:
    """Mask of faces in parts whose signed volume about the part's centre is negative;
    ``components`` (count, labels) saves finding the parts again when they are known."""
    count, labels = face_components(points) if components is None else components
    tri = vertices[faces]
    centre = (
        np.stack(
            [np.bincount(labels, tri[:, :, axis].mean(axis=1), count) for axis in range(3)], axis=1
        )
        / np.bincount(labels, minlength=count)[:, None]
    )
    rel = tri - centre[labels][:, None, :]
    volume = np.einsum("ij,ij->i", rel[:, 0], np.cross(rel[:, 1], rel[:, 2])) / 6
    return np.asarray(np.bincount(labels, volume, count)[labels] < 0)
