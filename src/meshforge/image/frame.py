"""Framing: crop to the subject and pad to a square in which it fills ``foreground_ratio``.

The result keeps the affine map from the photo's pixels to the framed image's pixels
(``framed = scale * photo + offset``), so a camera known in photo pixels can be carried over.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from meshforge.errors import NoForegroundError


@dataclass
class FramedImage:
    """A square RGBA crop around the subject; alpha is the subject's soft mask."""

    pixels: NDArray[np.uint8]
    scale: float
    offset: tuple[float, float]
    subject_box: tuple[int, int, int, int]

    @property
    def size(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def alpha(self) -> NDArray[np.float32]:
        return (self.pixels[..., 3].astype(np.float32) / 255.0).astype(np.float32)

    def to_photo(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map framed-pixel coordinates (column, row) back to the photo's pixels."""
        return np.asarray((points - np.asarray(self.offset)) / self.scale, dtype=np.float64)


def subject_box(alpha: NDArray[np.floating], threshold: float = 0.5) -> tuple[int, int, int, int]:
    """The subject's bounding box (left, top, right, bottom), right/bottom exclusive."""
    rows = np.flatnonzero((alpha > threshold).any(axis=1))
    cols = np.flatnonzero((alpha > threshold).any(axis=0))
    if rows.size == 0:
        raise NoForegroundError(
            "the mask is empty, so there is nothing to frame",
            stage="frame",
            hint="Check the segmentation or pass a photo with transparency.",
        )
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def frame_subject(
    rgb: NDArray[np.uint8],
    alpha: NDArray[np.floating],
    *,
    foreground_ratio: float = 0.85,
    size: int = 512,
) -> FramedImage:
    """Crop ``rgb`` to the subject, pad to a square and resize to ``size`` pixels.

    The subject's longer side spans ``foreground_ratio * size`` pixels, centred. Pixels outside
    the photo are transparent.
    """
    import cv2

    left, top, right, bottom = subject_box(alpha)
    # An integer square in photo pixels keeps the photo -> framed map exact.
    side = max(1, int(np.ceil(max(right - left, bottom - top) / foreground_ratio)))
    x0 = round((left + right - side) / 2)
    y0 = round((top + bottom - side) / 2)
    scale = size / side
    offset = (-x0 * scale, -y0 * scale)

    height, width = alpha.shape
    a = np.clip(np.asarray(alpha, dtype=np.float32), 0.0, 1.0)
    # Premultiplied, so resampling does not pull background colour into the subject's edge.
    premultiplied = np.dstack([rgb.astype(np.float32) * a[..., None], a * 255.0])
    square = np.zeros((side, side, 4), dtype=np.float32)
    src_x0, src_y0 = max(x0, 0), max(y0, 0)
    src_x1, src_y1 = min(x0 + side, width), min(y0 + side, height)
    square[src_y0 - y0 : src_y1 - y0, src_x0 - x0 : src_x1 - x0] = premultiplied[
        src_y0:src_y1, src_x0:src_x1
    ]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    out = cv2.resize(square, (size, size), interpolation=interpolation)
    coverage = out[..., 3:4] / 255.0
    out[..., :3] = np.where(coverage > 1e-4, out[..., :3] / np.maximum(coverage, 1e-4), 0.0)
    pixels = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return FramedImage(
        pixels=pixels, scale=scale, offset=offset, subject_box=(left, top, right, bottom)
    )
