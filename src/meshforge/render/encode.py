"""Writing rendered pixels: still images (PNG, WebP) and animations (animated WebP, GIF, MP4).

Pillow writes images, WebP and GIF. MP4 needs an H.264 encoder from a registry package
(``imageio-ffmpeg`` ships ffmpeg in its wheel); without one, ``mp4_available`` is False and
asking for MP4 fails with a message that says what to install. Every file is written beside its
target and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from meshforge.errors import DependencyError

__all__ = ["IMAGE_FORMATS", "mp4_available", "write_animation", "write_image"]

IMAGE_FORMATS = ("png", "webp")
ANIMATION_FORMATS = ("webp", "gif", "mp4")
WEBP_QUALITY = 90
PNG_COMPRESSION = 3  # of 9: within a few % of the smallest file, several times faster

Pixels = NDArray[np.uint8]


def _partial(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial")


def _check(pixels: Pixels) -> Pixels:
    array = np.asarray(pixels)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(
            f"render: expected uint8 H x W x 3|4 pixels, got {array.dtype} {array.shape}"
        )
    return array


def write_image(pixels: Pixels, path: str | PathLike[str], fmt: str | None = None) -> Path:
    """Write one image as PNG or WebP (lossless when it has alpha); the format follows the
    suffix unless given."""
    from PIL import Image

    target = Path(path)
    kind = (fmt or target.suffix.lstrip(".")).lower()
    if kind not in IMAGE_FORMATS:
        raise ValueError(f"render: image format {kind!r} is not one of {', '.join(IMAGE_FORMATS)}")
    image = Image.fromarray(_check(pixels))
    partial = _partial(target)
    if kind == "png":
        image.save(partial, format="PNG", compress_level=PNG_COMPRESSION)
    else:
        image.save(partial, format="WEBP", quality=WEBP_QUALITY, lossless=image.mode == "RGBA")
    partial.replace(target)
    return target


def mp4_available() -> bool:
    try:
        import imageio_ffmpeg

        return bool(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # not installed, or its binary is missing on this platform
        return False


def write_animation(
    frames: Sequence[Pixels], path: str | PathLike[str], fps: float = 12.0, fmt: str | None = None
) -> Path:
    """Write frames as an endlessly looping animated WebP or GIF, or as an H.264 MP4."""
    target = Path(path)
    kind = (fmt or target.suffix.lstrip(".")).lower()
    if kind not in ANIMATION_FORMATS:
        raise ValueError(
            f"render: animation format {kind!r} is not one of {', '.join(ANIMATION_FORMATS)}"
        )
    if not frames:
        raise ValueError("render: an animation needs at least one frame")
    arrays = [_check(f) for f in frames]
    if kind == "mp4":
        return _write_mp4(arrays, target, fps)
    from PIL import Image

    duration = round(1000 / fps)
    images = [Image.fromarray(a) for a in arrays]
    partial = _partial(target)
    if kind == "gif":
        # One adaptive palette per frame; transparency is not kept (GIF has 1-bit alpha).
        paletted = [
            im.convert("RGB").quantize(colors=255, dither=Image.Dither.NONE) for im in images
        ]
        paletted[0].save(
            partial,
            format="GIF",
            save_all=True,
            append_images=paletted[1:],
            duration=duration,
            loop=0,
            disposal=2,
            optimize=False,
        )
    else:
        images[0].save(
            partial,
            format="WEBP",
            save_all=True,
            append_images=images[1:],
            duration=duration,
            loop=0,
            quality=WEBP_QUALITY,
        )
    partial.replace(target)
    return target


def _write_mp4(frames: list[Pixels], target: Path, fps: float) -> Path:
    if not mp4_available():
        raise DependencyError(
            "MP4 needs an H.264 encoder, and none is installed",
            stage="render",
            hint="Install one with: pip install imageio-ffmpeg (or ask for webp or gif)",
        )
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    even = (w - w % 2, h - h % 2)  # yuv420p needs even sides
    partial = _partial(target).with_suffix(".mp4")
    writer = imageio_ffmpeg.write_frames(
        str(partial),
        even,
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        quality=7,
        macro_block_size=1,
        output_params=["-movflags", "+faststart"],
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame[: even[1], : even[0], :3]))
    writer.close()
    partial.replace(target)
    return target
