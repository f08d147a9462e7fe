"""Thumbnails: a framed, lit, textured three-quarter view of an asset, and PNG writing."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Asset
from meshforge.render.camera import fit_camera
from meshforge.render.raster import render_asset

__all__ = ["render_thumbnail", "save_png"]

THUMBNAIL_FOV_DEG = 30.0  # a longish lens flattens perspective the way product shots do
THUMBNAIL_MARGIN = 1.1


def render_thumbnail(
    asset: Asset,
    size: int = 512,
    azimuth_deg: float = 30.0,
    elevation_deg: float = 20.0,
    background: tuple[int, int, int] | None = (255, 255, 255),
) -> NDArray[np.uint8]:
    """A ``size x size`` view from the front-right and above, the asset's box filling the frame.

    Returns RGB composited over ``background``, or RGBA with alpha = coverage when it is None.
    """
    camera = fit_camera(
        asset.bounds(), azimuth_deg, elevation_deg, THUMBNAIL_FOV_DEG, size, THUMBNAIL_MARGIN
    )
    rgba = render_asset(asset, camera, background=background)
    return np.ascontiguousarray(rgba[..., :3]) if background is not None else rgba


def save_png(pixels: NDArray[np.uint8], path: str | PathLike[str]) -> None:
    """Write ``H x W`` grey, ``H x W x 3`` RGB or ``H x W x 4`` RGBA uint8 pixels as a PNG."""
    from PIL import Image  # Pillow stays out of ``import meshforge.render``

    array = np.asarray(pixels)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(f"save_png: expected uint8 H x W (x C), got {array.dtype} {array.shape}")
    if array.ndim == 3 and array.shape[2] not in (3, 4):
        raise ValueError(f"save_png: expected 3 or 4 channels, got {array.shape[2]}")
    # Written beside the target and renamed, so a reader never sees half a file.
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    Image.fromarray(array).save(partial, format="PNG", compress_level=6)
    partial.replace(target)
