"""What the readers share: decoding images into meshforge's uint8 textures, packing the ORM
texture from separate channels, and the size meshforge's exporters record in a file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from meshforge.asset import ImageArray, RealSize, Texture

if TYPE_CHECKING:
    from PIL import Image

# 16-bit greyscale modes Pillow opens without narrowing them to 8 bits.
_WIDE_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def image_array(image: Image.Image, keep_alpha: bool = True) -> ImageArray:
    """``H x W x 4`` when ``keep_alpha`` and the image has transparency, else ``H x W x 3``."""
    if image.mode in _WIDE_MODES:
        values = np.asarray(image, dtype=np.int64)
        wide = image.mode != "I" or values.max(initial=0) > 255  # "I" may hold 8-bit values
        grey = np.clip(values >> 8 if wide else values, 0, 255)
        return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)
    alpha = keep_alpha and image.has_transparency_data
    # A copy: arrays over Pillow's buffer are read-only, and transforms may write into textures.
    return np.array(image.convert("RGBA" if alpha else "RGB"), dtype=np.uint8)


def resample(channel: ImageArray, size: tuple[int, int]) -> ImageArray:
    """One channel (``H x W``) resized to ``size`` = (width, height), bilinear."""
    if (channel.shape[1], channel.shape[0]) == size:
        return channel
    from PIL import Image

    return np.asarray(Image.fromarray(channel, "L").resize(size, Image.Resampling.BILINEAR))


def stack_channels(channels: Sequence[ImageArray | int], name: str = "texture") -> Texture | None:
    """One texture from per-channel images (``H x W`` uint8) or constants (0..255).

    Images of different sizes are resampled to the largest of them, so no detail is lost.
    Returns None when every channel is a constant.
    """
    images = [c for c in channels if isinstance(c, np.ndarray)]
    if not images:
        return None
    largest = max(images, key=lambda c: c.shape[0] * c.shape[1])
    size = (int(largest.shape[1]), int(largest.shape[0]))
    planes = [
        resample(c, size) if isinstance(c, np.ndarray) else np.full((size[1], size[0]), c, np.uint8)
        for c in channels
    ]
    return Texture(np.ascontiguousarray(np.stack(planes, axis=2)), name)


def real_size(metadata: Any) -> RealSize | None:
    """The size meshforge's exporters store under ``meshforge.size`` (glTF scene extras, the
    USD default prim's customData); None when absent or malformed."""
    try:
        size = metadata["meshforge"]["size"]
        source = size.get("source", "default")
        return RealSize(
            width=float(size["width_m"]),
            height=float(size["height_m"]),
            depth=float(size["depth_m"]),
            source=source if source in ("user", "default", "engine") else "default",
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
