"""Render presets: ``thumbnail``, ``turntable``, ``sheet`` and ``studio``.

Every preset frames the asset from its bounding box (``fit_camera``) and draws it with the
OpenGL renderer under the ``studio`` rig with a soft contact shadow, on white or transparent.
A turntable keeps one distance for all its frames (the largest any azimuth needs), so the
object does not breathe as it turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Asset, Camera
from meshforge.render.camera import fit_camera, look_at_camera
from meshforge.render.encode import mp4_available, write_animation, write_image
from meshforge.render.gl import RenderSettings, SceneRenderer
from meshforge.render.lights import light_rig
from meshforge.render.thumbnail import THUMBNAIL_FOV_DEG, THUMBNAIL_MARGIN

__all__ = [
    "PRESETS",
    "RenderOptions",
    "render_preset",
    "render_views",
    "turntable_cameras",
]

PRESETS = ("thumbnail", "turntable", "sheet", "studio")
Pixels = NDArray[np.uint8]

# The framing of the numpy thumbnail, so both renderers frame an asset alike.
FOV_DEG, MARGIN = THUMBNAIL_FOV_DEG, THUMBNAIL_MARGIN
SHEET_AZIMUTHS = (0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0)


@dataclass(frozen=True)
class RenderOptions:
    """What a preset draws. ``size`` is the side of square images (``width`` x ``height``
    for ``studio`` when given); ``background`` None is transparent."""

    size: int = 512
    width: int | None = None
    height: int | None = None
    azimuth_deg: float = 30.0
    elevation_deg: float = 20.0
    frames: int = 36
    fps: float = 12.0
    background: tuple[int, int, int] | None = (255, 255, 255)
    shadow: float = 0.5
    lights: str = "studio"
    supersample: int = 1
    formats: tuple[str, ...] = ()

    def settings(self) -> RenderSettings:
        return RenderSettings(
            lights=light_rig(self.lights),
            background=self.background,
            supersample=self.supersample,
            shadow=self.shadow,
            cull_back_faces=self.lights != "protocol",  # the protocol draws every face
        )


def _framed(
    bounds: NDArray[np.float64], azimuth: float, elevation: float, width: int, height: int
) -> Camera:
    """A camera on the orbit that keeps the whole box in the frame's central square (the
    shorter side's), widened to ``width x height`` with the same lens."""
    side = min(width, height)
    square = fit_camera(bounds, azimuth, elevation, FOV_DEG, side, MARGIN)
    return replace(square, width=width, height=height, cx=width / 2, cy=height / 2)


def turntable_cameras(
    asset: Asset, frames: int, size: int, elevation_deg: float = 20.0
) -> list[Camera]:
    """``frames`` cameras around +Y, starting at the front, all at the same distance."""
    if frames < 1:
        raise ValueError(f"render: a turntable needs at least one frame, got {frames}")
    bounds = np.asarray(asset.bounds(), dtype=np.float64)
    centre = (bounds[0] + bounds[1]) / 2
    azimuths = [360.0 * i / frames for i in range(frames)]
    fitted = [fit_camera(bounds, a, elevation_deg, FOV_DEG, size, MARGIN) for a in azimuths]
    distance = max(float(np.linalg.norm(c.camera_to_world[:3, 3] - centre)) for c in fitted)
    return [
        look_at_camera(centre, distance, a, elevation_deg, FOV_DEG, size, size) for a in azimuths
    ]


def render_views(asset: Asset, cameras: Sequence[Camera], settings: RenderSettings) -> list[Pixels]:
    """RGB (or RGBA when transparent) images of the asset from each camera, one upload."""
    with SceneRenderer(asset) as renderer:
        results = [renderer.render(camera, settings) for camera in cameras]
    if settings.background is not None:
        return [r.rgb for r in results]
    return [r.rgba for r in results]


def _sheet(images: list[Pixels], columns: int, background: tuple[int, int, int] | None) -> Pixels:
    h, w, c = images[0].shape
    rows = -(-len(images) // columns)
    fill = (*background, 255)[:c] if background is not None else (0,) * c
    grid = np.empty((rows * h, columns * w, c), dtype=np.uint8)
    grid[...] = np.asarray(fill, dtype=np.uint8)
    for i, image in enumerate(images):
        r, k = divmod(i, columns)
        grid[r * h : (r + 1) * h, k * w : (k + 1) * w] = image
    return grid


def render_preset(
    asset: Asset,
    preset: Literal["thumbnail", "turntable", "sheet", "studio"] | str,
    out_dir: str | Path,
    name: str = "render",
    options: RenderOptions | None = None,
) -> list[Path]:
    """Render ``preset`` into ``out_dir``; returns the files written.

    thumbnail: NAME.png (or the formats asked, png/webp); turntable: NAME_turntable.webp and
    .gif, and .mp4 when an encoder is installed (or the formats asked); sheet: NAME_sheet.png,
    eight views around the asset; studio: NAME_studio.png at ``width x height``.
    """
    opts = options or RenderOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = opts.settings()
    bounds = np.asarray(asset.bounds(), dtype=np.float64)
    if preset == "thumbnail":
        camera = _framed(bounds, opts.azimuth_deg, opts.elevation_deg, opts.size, opts.size)
        (image,) = render_views(asset, [camera], settings)
        formats = opts.formats or ("png",)
        return [write_image(image, out / f"{name}.{fmt}", fmt) for fmt in formats]
    if preset == "studio":
        w, h = opts.width or opts.size, opts.height or opts.size
        camera = _framed(bounds, opts.azimuth_deg, opts.elevation_deg, w, h)
        (image,) = render_views(asset, [camera], settings)
        formats = opts.formats or ("png",)
        return [write_image(image, out / f"{name}_studio.{fmt}", fmt) for fmt in formats]
    if preset == "sheet":
        cameras = [
            _framed(bounds, a, opts.elevation_deg, opts.size, opts.size) for a in SHEET_AZIMUTHS
        ]
        grid = _sheet(render_views(asset, cameras, settings), 4, opts.background)
        formats = opts.formats or ("png",)
        return [write_image(grid, out / f"{name}_sheet.{fmt}", fmt) for fmt in formats]
    if preset == "turntable":
        cameras = turntable_cameras(asset, opts.frames, opts.size, opts.elevation_deg)
        frames = render_views(asset, cameras, settings)
        formats = opts.formats or (("webp", "gif", "mp4") if mp4_available() else ("webp", "gif"))
        return [
            write_animation(frames, out / f"{name}_turntable.{fmt}", opts.fps, fmt)
            for fmt in formats
        ]
    raise ValueError(f"unknown render preset {preset!r}; known: {', '.join(PRESETS)}")
