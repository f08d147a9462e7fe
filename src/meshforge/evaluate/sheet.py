"""Contact sheets: one row per asset — the input photo, the result from the front, the side and
the back, and the ground truth from the side — rendered with meshforge's own renderer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from meshforge.asset import Asset

TILE = 160
COLUMNS = ("input", "result front", "result side", "result back", "truth side")
VIEWS = ((0.0, 10.0), (90.0, 10.0), (180.0, 10.0))


def _normalised(path: Path) -> Asset:
    """The mesh file as an Asset, centred on its bounding box with its longest side 1."""
    from meshforge.api import load

    asset = load(path)
    low, high = asset.bounds()
    factor = 1.0 / float(np.max(high - low))
    return asset.apply_similarity(factor, -(low + high) / 2 * factor)


def render_view(
    asset: Asset, azimuth_deg: float, elevation_deg: float, size: int = TILE
) -> NDArray[np.uint8]:
    from meshforge.render.camera import look_at_camera
    from meshforge.render.raster import render_asset

    camera = look_at_camera((0.0, 0.0, 0.0), 2.2, azimuth_deg, elevation_deg, 40.0, size, size)
    return render_asset(asset, camera, background=(255, 255, 255))[..., :3]


def _photo_tile(path: Path, size: int = TILE) -> NDArray[np.uint8]:
    from PIL import Image

    image = Image.open(path).convert("RGB")
    image.thumbnail((size, size))
    tile = Image.new("RGB", (size, size), (255, 255, 255))
    tile.paste(image, ((size - image.width) // 2, (size - image.height) // 2))
    return np.asarray(tile)


def contact_sheet(rows: list[tuple[str, Path, Path, Path | None]], path: Path) -> Path:
    """``rows`` are (label, photo, prediction file, ground-truth file or None); writes a PNG."""
    from PIL import Image, ImageDraw

    label_h = 14
    height = label_h + max(len(rows), 1) * (TILE + label_h)
    sheet = Image.new("RGB", (TILE * len(COLUMNS), height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for c, title in enumerate(COLUMNS):
        draw.text((c * TILE + 4, 1), title, fill=(0, 0, 0))
    blank = np.full((TILE, TILE, 3), 255, np.uint8)
    for r, (label, photo, prediction, truth) in enumerate(rows):
        top = label_h + r * (TILE + label_h)
        draw.text((4, top), label, fill=(0, 0, 0))
        predicted = _normalised(prediction)
        tiles = [_photo_tile(photo), *(render_view(predicted, az, el) for az, el in VIEWS)]
        tiles.append(render_view(_normalised(truth), 90.0, 10.0) if truth else blank)
        for c, tile in enumerate(tiles):
            sheet.paste(Image.fromarray(tile), (c * TILE, top + label_h))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
