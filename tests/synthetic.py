"""Tiny product photos and meshes made by code, with their exact masks, for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image


def bottle_mask(size: int = 512) -> NDArray[np.bool_]:
    """A bottle's outline: a body with rounded shoulders and a neck, centred, ~70 % tall."""
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    x = (cols - size / 2) / size
    y = (rows - size / 2) / size
    body = (np.abs(x) < 0.13) & (y > -0.15) & (y < 0.35)
    shoulder = (x / 0.13) ** 2 + ((y + 0.15) / 0.12) ** 2 < 1
    neck = (np.abs(x) < 0.045) & (y > -0.35) & (y < -0.15)
    return np.asarray(body | shoulder | neck)


def disc_mask(size: int = 512, radius: float = 0.35) -> NDArray[np.bool_]:
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    return np.asarray((cols - size / 2) ** 2 + (rows - size / 2) ** 2 < (radius * size) ** 2)


def paint(
    mask: NDArray[np.bool_], background: tuple[int, int, int] = (255, 255, 255), seed: int = 0
) -> NDArray[np.uint8]:
    """A printed, shaded product on a plain background: stripes, blocks and a side gradient."""
    size_y, size_x = mask.shape
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size_y, 0:size_x]
    base = np.zeros((size_y, size_x, 3), dtype=np.float64)
    base[...] = (40, 90, 170)
    base[(rows // 24) % 3 == 0] = (200, 60, 40)
    for _ in range(12):
        r0, c0 = rng.integers(0, size_y - 20), rng.integers(0, size_x - 40)
        base[r0 : r0 + 8, c0 : c0 + 30] = rng.integers(0, 255, 3)
    shade = 0.65 + 0.35 * np.cos((cols / size_x - 0.45) * np.pi)
    product = np.clip(base * shade[..., None], 0, 255)
    out = np.empty((size_y, size_x, 3), dtype=np.float64)
    out[...] = background
    out[mask] = product[mask]
    return out.astype(np.uint8)


def save_photo(path: Path, rgb: NDArray[np.uint8], alpha: NDArray[np.bool_] | None = None) -> Path:
    if alpha is None:
        Image.fromarray(rgb).save(path)
    else:
        Image.fromarray(np.dstack([rgb, alpha.astype(np.uint8) * 255])).save(path)
    return path


def iou(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))
