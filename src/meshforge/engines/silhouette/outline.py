"""From a mask to the subject's outline: one outer polygon and its holes, in pixel coordinates.

Coordinates are (column, row) with pixel centres at +0.5, like the rest of meshforge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.errors import EngineError

Points = NDArray[np.float64]


@dataclass
class Outline:
    outer: Points
    holes: list[Points]

    @property
    def loops(self) -> list[Points]:
        return [self.outer, *self.holes]


def clean_mask(alpha: NDArray[np.floating]) -> NDArray[np.uint8]:
    """Binary mask without one-pixel whiskers, which would make a polygon touch itself."""
    import cv2

    mask = (np.asarray(alpha) > 0.5).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    return np.asarray(cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel), dtype=np.uint8)


def trace_outline(mask: NDArray[np.uint8], spacing: float, min_hole_area: float) -> Outline:
    """The largest region's boundary and its holes, resampled every ``spacing`` pixels."""
    import cv2

    # Tracing at 2x puts the polygon within a quarter pixel of the true edge.
    big = cv2.resize(mask, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, hierarchy = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if not contours or hierarchy is None:
        raise EngineError(
            "the mask has no outline",
            stage="reconstruct",
            hint="Check the segmentation; the subject may be too thin or too small.",
        )
    tree = hierarchy[0]
    outers = [i for i in range(len(contours)) if tree[i][3] < 0]
    best = max(outers, key=lambda i: cv2.contourArea(contours[i]))
    outer = _resample(to_pixels(contours[best]), spacing)
    holes = []
    for i in range(len(contours)):
        if tree[i][3] == best and cv2.contourArea(contours[i]) / 4 >= min_hole_area:
            hole = _resample(to_pixels(contours[i]), spacing)
            if len(hole) >= 3:
                holes.append(hole)
    if len(outer) < 3:
        raise EngineError(
            "the subject's outline is too small to build a mesh",
            stage="reconstruct",
            hint="Use a larger photo or a larger --foreground-ratio.",
        )
    return Outline(outer=outer, holes=holes)


def to_pixels(contour: NDArray[Any]) -> Points:
    """Contour points traced at 2x back to pixel coordinates (centres at +0.5)."""
    return np.asarray((contour.reshape(-1, 2).astype(np.float64) + 0.5) / 2.0, dtype=np.float64)


def _resample(loop: Points, spacing: float) -> Points:
    """Evenly spaced points along a closed loop, lightly smoothed to remove pixel steps."""
    closed = np.vstack([loop, loop[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    total = arc[-1]
    count = max(round(total / spacing), 3)
    targets = np.linspace(0.0, total, count, endpoint=False)
    points = np.column_stack([np.interp(targets, arc, closed[:, k]) for k in range(2)])
    if count >= 8:
        # A [1, 2, 1] filter over neighbours; the loop wraps around.
        points = (np.roll(points, 1, axis=0) + 2 * points + np.roll(points, -1, axis=0)) / 4
    return points
