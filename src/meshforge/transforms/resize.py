"""``resize``: resample every material texture into a size range, in powers of two by default.

Like glTF-Transform's ``resize``. Each side is handled on its own: with ``power_of_two`` it goes to
the nearest power of two (ties go up), then it is clamped into ``[min_size, max_size]``. UVs are
normalised, so a change of aspect ratio moves nothing on the surface.

How each map is resampled (Pillow, per channel in float32):

* base colour: sRGB, so colour channels are resampled in linear light (averaging encoded values
  darkens edges and fine detail); alpha plainly;
* normal: resampled, then every texel is renormalised to unit length (averaging unit vectors
  shortens them, which shading reads as a flatter surface);
* ORM: data, resampled plainly.

A texture already within the rules stays the same object; one shared by several materials is
resized once and stays shared. Upscaling adds no detail; it is there to meet platform minimums
(Amazon asks for 2048 px), and the report warns ``upscaled`` when it happens.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator

from meshforge.asset import Asset, ImageArray, Material, Texture
from meshforge.recipe import Options
from meshforge.render.shading import linear_to_srgb, srgb_to_linear
from meshforge.transforms.base import Context, Transform

ResizeFilter = Literal["lanczos", "bilinear"]
MapKind = Literal["base_color", "normal", "orm"]
Float32Array = NDArray[np.float32]

# Material field of each map, in the order the report lists them.
MAPS: tuple[tuple[MapKind, str], ...] = (
    ("base_color", "base_color_texture"),
    ("normal", "normal_texture"),
    ("orm", "occlusion_roughness_metallic_texture"),
)


# Every uint8 code as a float, plain and decoded from sRGB.
_CODES = np.arange(256, dtype=np.float32) / 255.0
_PLAIN: Float32Array = _CODES
_LINEAR: Float32Array = srgb_to_linear(_CODES)


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class ResizeOptions(Options):
    """Give ``max_size`` and/or ``min_size`` in pixels; each texture side ends up in between."""

    max_size: int | None = Field(
        default=2048, ge=1, description="Largest side in pixels; None for no upper limit."
    )
    min_size: int | None = Field(
        default=None,
        ge=1,
        description="Smallest side in pixels (upscales smaller textures); None for no lower limit.",
    )
    power_of_two: bool = Field(
        default=True, description="Round each side to the nearest power of two (ties go up)."
    )
    filter: ResizeFilter = Field(
        default="lanczos", description="Resampling filter: lanczos (sharper) or bilinear."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ResizeOptions:
        if self.power_of_two:
            for name in ("min_size", "max_size"):
                value: int | None = getattr(self, name)
                if value is not None and not _is_power_of_two(value):
                    below = 1 << (value.bit_length() - 1)
                    raise ValueError(
                        f"{name} must be a power of two when power_of_two is on (got {value}); "
                        f"use {below} or {below * 2}, or set power_of_two to false"
                    )
        low, high = self.min_size, self.max_size
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_size ({low}) must not exceed max_size ({high})")
        return self

    def side(self, n: int) -> int:
        """The new length of a side of ``n`` pixels."""
        if self.power_of_two and not _is_power_of_two(n):
            below = 1 << (n.bit_length() - 1)
            n = below if n - below < below * 2 - n else below * 2
        if self.max_size is not None:
            n = min(n, self.max_size)
        if self.min_size is not None:
            n = max(n, self.min_size)
        return n

    def target(self, size: tuple[int, int]) -> tuple[int, int]:
        """The new (width, height) of a texture of ``size``."""
        return self.side(size[0]), self.side(size[1])


def resize(
    max_size: int | None = 2048,
    min_size: int | None = None,
    power_of_two: bool = True,
    filter: ResizeFilter = "lanczos",
) -> Transform:
    options = ResizeOptions(
        max_size=max_size, min_size=min_size, power_of_two=power_of_two, filter=filter
    )
    return Transform(name="resize", function=lambda a, c: _resize(a, c, options), options=options)


def _resize(asset: Asset, ctx: Context, options: ResizeOptions) -> Asset:
    done: dict[int, Texture] = {}  # id(original) -> result, so shared textures stay shared
    rows: list[dict[str, object]] = []
    upscaled: list[str] = []
    materials: list[Material] = []
    texels = [0, 0]
    for material in asset.materials:
        replaced: dict[str, Any] = {}  # Material field -> new Texture
        for kind, attribute in MAPS:
            texture: Texture | None = getattr(material, attribute)
            if texture is None:
                continue
            size = texture.size
            new_size = options.target(size)
            if new_size == size:
                continue
            first = id(texture) not in done
            if first:
                # A texture used in two roles is resampled as the first role met.
                image = resample_map(texture.image, new_size, kind, options.filter)
                done[id(texture)] = dataclasses.replace(texture, image=image)
                texels[0] += size[0] * size[1]
                texels[1] += new_size[0] * new_size[1]
            replaced[attribute] = done[id(texture)]
            sizes = [list(size), list(new_size)]
            rows.append({"material": material.name, "map": kind, "size": sizes})
            if first and (new_size[0] > size[0] or new_size[1] > size[1]):
                upscaled.append(
                    f"{kind} of {material.name!r} {size[0]}x{size[1]} -> "
                    f"{new_size[0]}x{new_size[1]}"
                )
        materials.append(dataclasses.replace(material, **replaced) if replaced else material)
    ctx.report.note("textures", rows)
    if not rows:
        return asset
    ctx.report.change("texels", texels[0], texels[1])
    if upscaled:
        ctx.warn(
            "upscaled",
            f"upscaled {'; '.join(upscaled)}: upscaling adds no detail, it only meets a "
            "minimum size; bake or photograph at a higher resolution for real detail",
        )
    return dataclasses.replace(asset, materials=materials)


def resample_map(
    image: ImageArray, size: tuple[int, int], kind: MapKind, filter: ResizeFilter = "lanczos"
) -> ImageArray:
    """``image`` (``H x W`` or ``H x W x C`` uint8) resampled to ``size`` = (width, height) as a
    map of ``kind`` (module docstring)."""
    pixels = np.asarray(image)
    flat = pixels.ndim == 2
    channels = pixels[..., None] if flat else pixels
    count = channels.shape[2]
    # Channels held in sRGB: colour of a base colour map (L, LA, RGB, RGBA: alpha is last).
    colour = (count if count in (1, 3) else count - 1) if kind == "base_color" else 0
    # Decoding through 256-entry tables: a gather is far cheaper than a power per texel.
    values = np.empty(channels.shape, dtype=np.float32)
    values[..., :colour] = _LINEAR[channels[..., :colour]]
    values[..., colour:] = _PLAIN[channels[..., colour:]]
    resampled = _resample(values, size, filter)
    if colour:
        resampled[..., :colour] = linear_to_srgb(resampled[..., :colour])
    elif kind == "normal" and count >= 3:
        xyz = resampled[..., :3] * 2.0 - 1.0
        length = np.linalg.norm(xyz, axis=-1, keepdims=True)
        # A texel whose neighbours cancel out has no direction: it faces straight out.
        xyz = np.where(length > 1e-6, xyz / np.maximum(length, 1e-6), [0.0, 0.0, 1.0])
        resampled[..., :3] = (xyz + 1.0) / 2.0
    out: ImageArray = np.clip(np.rint(resampled * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out[..., 0]) if flat else out


def _resample(values: Float32Array, size: tuple[int, int], filter: ResizeFilter) -> Float32Array:
    """Each channel of an ``H x W x C`` float image resampled to (width, height), in [0, 1]."""
    from PIL import Image  # Pillow loads only when a texture is resized

    method = Image.Resampling.LANCZOS if filter == "lanczos" else Image.Resampling.BILINEAR
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(values[..., c])).resize(size, method),
            dtype=np.float32,
        )
        for c in range(values.shape[2])
    ]
    # Lanczos overshoots at edges; keep values within the encodable range.
    return np.clip(np.stack(planes, axis=-1), 0.0, 1.0)
