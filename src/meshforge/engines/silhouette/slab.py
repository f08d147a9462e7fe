"""Slab: the outline extruded to a constant thickness, for flat things (signs, boards, tablets).

A photo of a flat thing shows its face, never its thickness, so the thickness is a prior: a
fraction of the outline's shorter side (the shorter side of its minimum-area rectangle, so a board
photographed at a slant measures the same). The rim is a quarter round of radius half the
thickness on each face: a point at distance ``d`` from the outline rises by
``sqrt(d (2 r - d))`` until ``d`` reaches ``r``, where the face becomes flat. Parts narrower than
the thickness (a sign's post) keep their own half-width ``rho`` as ``r``, so they come out round,
as ``inflate`` would build them. The surface reuses inflate's triangulation, so it is closed and
2-manifold by construction and every vertex sits on its pixel's ray.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from meshforge.engines.silhouette.inflate import PlanarMesh, sample
from meshforge.engines.silhouette.outline import Outline

FloatArray = NDArray[np.float64]

# Flat products are thin next to their face: a phone or tablet is about a tenth as thick as it
# is wide, a cutting board or a sign a tenth to a fifth; 0.15 sits between them.
DEFAULT_SLAB_THICKNESS = 0.15


def shorter_side(outline: Outline) -> float:
    """The shorter side of the outline's minimum-area rectangle, in pixels."""
    import cv2

    (_, _), (w, h), _ = cv2.minAreaRect(outline.outer.astype(np.float32))
    return float(min(w, h))


def slab_heights(
    planar: PlanarMesh,
    dist: NDArray[np.float32],
    rho: NDArray[np.float32],
    radius: float,
    min_height: float = 0.25,
) -> FloatArray:
    """Height above the outline's plane (pixels) of a slab whose rim is a quarter round of
    ``radius``; parts narrower than ``2 radius`` are round with their own half-width."""
    d = sample(dist, planar.points)
    r = np.minimum(np.maximum(sample(rho, planar.points), d), radius)
    dd = np.minimum(d, r)
    height = np.sqrt(np.maximum(dd * (2 * r - dd), 0.0))
    height = np.maximum(height, min_height)
    height[planar.on_outline] = 0.0
    return np.asarray(height, dtype=np.float64)
