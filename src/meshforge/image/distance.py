"""Nearest-pixel lookups on masks with OpenCV (importing scipy.ndimage costs ~0.4 s per run)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def nearest_source(sources: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row and column of the nearest ``True`` pixel of ``sources``, for every pixel.

    Like ``scipy.ndimage.distance_transform_edt(~sources, return_indices=True)``, but on OpenCV's
    5x5 chamfer metric: the pixel found may be up to ~2 px farther than the true nearest one.
    """
    import cv2

    if not sources.any():
        raise ValueError("nearest_source: the mask has no source pixels")
    # OpenCV measures distance to zero pixels and labels each zero pixel in raster order.
    src = np.where(sources, 0, 1).astype(np.uint8)
    _, labels = cv2.distanceTransformWithLabels(
        src, cv2.DIST_L2, cv2.DIST_MASK_5, labelType=cv2.DIST_LABEL_PIXEL
    )
    rows, cols = np.nonzero(sources)
    index = labels.astype(np.intp) - 1
    return rows[index], cols[index]
