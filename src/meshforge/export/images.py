"""Texture encoding shared by the exporters."""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray


def encode_texture(image: NDArray[np.uint8]) -> tuple[bytes, str]:
    """JPEG for opaque colour maps (small files), PNG when there is an alpha channel."""
    from PIL import Image

    buffer = io.BytesIO()
    if image.ndim == 3 and image.shape[2] == 4:
        Image.fromarray(image, "RGBA").save(buffer, format="PNG", compress_level=6)
        return buffer.getvalue(), "image/png"
    Image.fromarray(np.ascontiguousarray(image[..., :3])).save(
        buffer, format="JPEG", quality=92, subsampling=0
    )
    return buffer.getvalue(), "image/jpeg"
