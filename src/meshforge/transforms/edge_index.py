"""The edges of a triangle soup, sorted once: who shares which edge, found by linear passes.

Faces are given as point ids (corners at one position share an id), so an edge is a pair of
points whatever mesh or UV island its faces come from. Every face has three slots, corner 0-1,
1-2 and 2-0; slot ``corner * faces + face`` holds the edge that starts at ``corner``. The index
keeps the slots sorted by undirected edge key (``low * n + high``), so the faces on one edge
form a run, and it is updated in step as faces are dropped, flipped or added rather than sorted
again.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from meshforge.asset import IntArray

BoolArray = NDArray[np.bool_]


def slot_keys(points: IntArray, n: int) -> IntArray:
    """Undirected edge keys, slot ``corner * faces + face`` (corners 0-1, 1-2, 2-0)."""
    start = points.T.reshape(-1)
    end = points[:, [1, 2, 0]].T.reshape(-1)
    return np.asarray(np.minimum(start, end) * n + np.maximum(start, end), dtype=np.int64)


@dataclasses.dataclass
class EdgeIndex:
    """Every face's three undirected edges, sorted by edge once so that later steps find shared
    edges with linear passes instead of a new sort each. Entry ``i`` is the edge from corner
    ``corner[i]`` to the next corner of face ``face[i]``; entries run by ``key`` (low * n + high
    point id), ties in slot order (``corner * faces + face``) until faces are flipped or added.
    Point ids must stay below ``n``."""

    faces: int
    n: int
    key: IntArray
    face: IntArray
    corner: IntArray

    @classmethod
    def build(cls, points: IntArray, n: int | None = None) -> EdgeIndex:
        if n is None:
            n = int(points.max()) + 1 if len(points) else 1
        keys = slot_keys(points, n)
        order = np.argsort(keys, kind="stable")
        m = len(points)
        return cls(m, n, keys[order], order % m if m else order, order // m if m else order)

    def keep(self, mask: BoolArray) -> EdgeIndex:
        """The index of the faces ``mask`` keeps (renumbered); filtering keeps the order."""
        if mask.all():
            return self
        alive = mask[self.face]
        renumber = np.cumsum(mask) - 1
        return EdgeIndex(
            int(mask.sum()),
            self.n,
            self.key[alive],
            renumber[self.face[alive]],
            self.corner[alive],
        )

    def flip(self, mask: BoolArray) -> EdgeIndex:
        """The index after the faces in ``mask`` are reversed ((a, b, c) -> (c, b, a)): their
        edges stay, but the edge of corner 0 becomes the edge of corner 1 and back."""
        swap = mask[self.face] & (self.corner < 2)
        return dataclasses.replace(self, corner=np.where(swap, 1 - self.corner, self.corner))

    def add(self, points: IntArray) -> EdgeIndex:
        """The index with faces ``points`` appended; their edges are merged into the order."""
        keys = slot_keys(points, self.n)
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(self.key, keys[order], side="right")
        return EdgeIndex(
            self.faces + len(points),
            self.n,
            np.insert(self.key, at, keys[order]),
            np.insert(self.face, at, self.faces + order % len(points)),
            np.insert(self.corner, at, order // len(points)),
        )

    def starts(self) -> BoolArray:
        """True where a run of entries with one edge key begins."""
        starts = np.ones(len(self.key), dtype=bool)
        np.not_equal(self.key[1:], self.key[:-1], out=starts[1:])
        return starts

    def run_sizes(self) -> tuple[IntArray, IntArray]:
        """Each entry's run (edge) number, and each run's size: the faces on that edge."""
        return self._runs

    @functools.cached_property
    def _runs(self) -> tuple[IntArray, IntArray]:
        # Several steps read the runs between two changes; an index is never changed in place.
        run = np.cumsum(self.starts()) - 1
        return run, np.bincount(run)

    def slots(self) -> IntArray:
        """Each entry's slot ``corner * faces + face`` (the layout of ``slot_keys``)."""
        return np.asarray(self.corner * self.faces + self.face, dtype=np.int64)

    def slot_counts(self) -> IntArray:
        """Faces on the edge of each slot."""
        run, sizes = self.run_sizes()
        counts = np.empty(len(self.key), dtype=np.int64)
        counts[self.slots()] = sizes[run]
        return counts

    def directed(self, points: IntArray, at: IntArray) -> tuple[IntArray, IntArray]:
        """Start and end point of the edges of entries ``at`` as their faces run them."""
        slot = self.slots()[at]
        return points.T.reshape(-1)[slot], points[:, [1, 2, 0]].T.reshape(-1)[slot]

    def has_edges(self, a: IntArray, b: IntArray) -> BoolArray:
        """Whether some face has an edge between points ``a`` and ``b`` (element-wise)."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        keys = np.minimum(a, b) * self.n + np.maximum(a, b)
        if len(self.key) == 0:
            return np.zeros(keys.shape, dtype=bool)
        at = np.minimum(np.searchsorted(self.key, keys), len(self.key) - 1)
        return np.asarray(self.key[at] == keys)


def repeated_directed_edge(points: IntArray, index: EdgeIndex) -> bool:
    """Whether two faces run one edge the same way (a directed edge appears twice)."""
    return bool(disagreeing_runs(points, index).any())


def disagreeing_runs(points: IntArray, index: EdgeIndex) -> BoolArray:
    """Per edge (run of ``index``): whether two of its faces run it the same way."""
    backward_slot = (points > points[:, [1, 2, 0]]).T.reshape(-1)
    run, sizes = index.run_sizes()
    backward = np.bincount(run, backward_slot[index.slots()], len(sizes))
    return np.asarray((backward >= 2) | (sizes - backward >= 2))


def face_components(points: IntArray, index: EdgeIndex | None = None) -> tuple[int, IntArray]:
    """Connected parts of faces that share an edge, numbered in order of their first face;
    ``index`` (the faces' edge index) saves sorting the edges again."""
    if len(points) == 0:
        return 0, np.zeros(0, dtype=np.int64)
    index = EdgeIndex.build(points) if index is None else index
    same = index.key[1:] == index.key[:-1]
    a, b = index.face[:-1][same], index.face[1:][same]
    m = len(points)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(m, m))
    count, labels = connected_components(graph, directed=False)
    return int(count), np.asarray(labels, dtype=np.int64)
