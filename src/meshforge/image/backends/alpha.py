"""The ``alpha`` backend: the photo's own transparency is the mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from meshforge.errors import SegmentationError

ALPHA_HINT = "use --segmenter auto, u2net or color-key"


def has_transparency(pixels: NDArray[np.uint8]) -> bool:
    """True if ``pixels`` is RGBA and some pixel is less than half opaque."""
    return pixels.ndim == 3 and pixels.shape[2] == 4 and bool((pixels[..., 3] < 128).any())


@dataclass(frozen=True)
class AlphaBackend:
    name: str = "alpha"
    soft: bool = True

    def available(self) -> bool:
        return True

    def probability(self, pixels: NDArray[np.uint8]) -> NDArray[np.float32]:
        if not has_transparency(pixels):
            raise SegmentationError(
                "the photo has no transparency, so its alpha channel cannot be the mask",
                stage="segment",
                hint=ALPHA_HINT,
            )
        return (pixels[..., 3].astype(np.float32) / 255.0).astype(np.float32)
