"""UsdPreviewSurface materials into meshforge Materials (glTF metallic-roughness).

Each surface input is a constant or the output of a UsdUVTexture whose file is read from the
package (``Ar`` resolves ``model.usdz[textures/x.png]``) or from disk. diffuseColor and opacity
give the base colour texture and factor (the texture's ``scale`` is the factor); occlusion,
roughness and metallic are packed into one ORM texture, a constant channel stored as 255 with
the constant as the factor (occlusion, which has no factor, is written into its channel);
``normal`` gives the normal texture. opacityThreshold > 0 means MASK, any other opacity below 1
or from a texture BLEND. A texture's ``bias`` and other shading nodes (UsdTransform2d, math
nodes) are not applied: the texture is read as it is stored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from meshforge.asset import ImageArray, Material, Texture
from meshforge.errors import InputError
from meshforge.loading.common import image_array, stack_channels

CHANNELS = {"r": 0, "g": 1, "b": 2, "a": 3, "rgb": 0, "rgba": 0}
# UsdPreviewSurface's fallbacks where a file leaves an input out.
DEFAULTS = {"diffuseColor": (0.18, 0.18, 0.18), "opacity": 1.0, "opacityThreshold": 0.0}
DEFAULTS |= {"occlusion": 1.0, "roughness": 0.5, "metallic": 0.0}
ORM = ("occlusion", "roughness", "metallic")


@dataclass
class _Input:
    """What drives one shader input: a constant ``value`` or ``texture``'s ``output``."""

    value: Any = None
    texture: Any = None
    output: str = ""


class UsdMaterials:
    """Materials made once per (material prim, doubleSided) however many meshes bind them."""

    def __init__(self, source: Path, time: Any) -> None:
        self.source = source
        self.time = time
        self.materials: list[Material] = []
        self._made: dict[tuple[str, bool], int] = {}
        self._pixels: dict[str, ImageArray] = {}

    def index(self, material: Any, double_sided: bool) -> int:
        key = (str(material.GetPath()) if material else "", double_sided)
        if key not in self._made:
            made = self._material(material) if material else Material()
            made.double_sided = double_sided
            self.materials.append(made)
            self._made[key] = len(self.materials) - 1
        return self._made[key]

    def st_name(self, material: Any) -> str:
        """The primvar the material's textures read their coordinates from (``st`` usually)."""
        from pxr import Usd, UsdShade

        if material:
            for prim in Usd.PrimRange(material.GetPrim()):
                shader = UsdShade.Shader(prim)
                if shader and shader.GetShaderId() == "UsdPrimvarReader_float2":
                    name = self._input(shader, "varname").value
                    if name:
                        return str(name)
        return "st"

    def _material(self, material: Any) -> Material:
        out = Material(name=material.GetPrim().GetName())
        surface = material.ComputeSurfaceSource()[0]
        if not surface or surface.GetShaderId() != "UsdPreviewSurface":
            return out
        get = {name: self._input(surface, name) for name in DEFAULTS}
        self._base_color(out, get["diffuseColor"], get["opacity"])
        threshold = _float(_or(get["opacityThreshold"].value, 0.0))
        opacity_textured = get["opacity"].texture is not None
        if threshold > 0:
            out.alpha_mode = "MASK"
            out.alpha_cutoff = min(threshold, 1.0)
        elif opacity_textured or out.base_color_factor[3] < 1.0:
            out.alpha_mode = "BLEND"
        self._orm(out, get["occlusion"], get["roughness"], get["metallic"])
        normal = self._input(surface, "normal")
        if normal.texture is not None:
            out.normal_texture = Texture(self._image(normal.texture)[..., :3].copy(), "normal")
        return out

    def _base_color(self, out: Material, diffuse: _Input, opacity: _Input) -> None:
        rgb = tuple(_float(v) for v in _or(diffuse.value, DEFAULTS["diffuseColor"]))[:3]
        alpha = _float(_or(opacity.value, 1.0))
        pixels = None
        if diffuse.texture is not None:
            pixels = self._image(diffuse.texture)
            rgb = tuple(self._scale(diffuse.texture)[:3])
        if opacity.texture is not None:
            mask = self._image(opacity.texture)
            channel = CHANNELS.get(opacity.output, 3)
            alpha = self._scale(opacity.texture)[channel]
            if not (mask is pixels and channel == 3 and mask.shape[2] == 4):
                # Opacity from elsewhere: one RGBA texture, as glTF keeps it.
                colour: list[ImageArray | int] = (
                    [pixels[..., i] for i in range(3)] if pixels is not None else [255, 255, 255]
                )
                packed = stack_channels([*colour, _channel(mask, channel)], "base_color")
                pixels = packed.image if packed is not None else None
        if pixels is not None:
            out.base_color_texture = Texture(pixels, "base_color")
        r, g, b = rgb
        out.base_color_factor = (r, g, b, alpha)

    def _orm(self, out: Material, occlusion: _Input, roughness: _Input, metallic: _Input) -> None:
        inputs = (occlusion, roughness, metallic)
        factors = [_float(_or(i.value, DEFAULTS[n])) for i, n in zip(inputs, ORM, strict=True)]
        channels: list[ImageArray | int] = []
        for k, given in enumerate(inputs):
            if given.texture is None:
                # A constant lives in the factor; occlusion has none, so it fills its channel.
                filled = round(min(max(factors[0], 0.0), 1.0) * 255) if k == 0 else 255
                channels.append(filled)
                continue
            index = CHANNELS.get(given.output, 0)
            factors[k] = self._scale(given.texture)[index]
            channels.append(_channel(self._image(given.texture), index))
        out.roughness_factor, out.metallic_factor = factors[1], factors[2]
        if factors[0] != 1.0 and isinstance(channels[0], np.ndarray):
            scaled = np.round(channels[0].astype(np.float64) * factors[0])
            channels[0] = np.clip(scaled, 0, 255).astype(np.uint8)
        out.occlusion_roughness_metallic_texture = stack_channels(channels, "orm")

    def _input(self, shader: Any, name: str) -> _Input:
        """Follow connections (through node graphs too) to a constant or a texture output."""
        from pxr import UsdShade

        found = shader.GetInput(name)
        if not found:
            return _Input()
        for attr in found.GetValueProducingAttributes():
            base, kind = UsdShade.Utils.GetBaseNameAndType(attr.GetName())
            if kind != UsdShade.AttributeType.Output:
                return _Input(value=attr.Get(self.time))
            producer = UsdShade.Shader(attr.GetPrim())
            if producer.GetShaderId() == "UsdUVTexture":
                return _Input(texture=producer, output=base)
        return _Input()

    def _scale(self, texture: Any) -> list[float]:
        return [_float(v) for v in _or(self._input(texture, "scale").value, (1.0, 1.0, 1.0, 1.0))]

    def _image(self, texture: Any) -> ImageArray:
        """The texture's pixels (RGB, or RGBA when the image has alpha), read once per file."""
        from pxr import Ar

        file = self._input(texture, "file").value
        resolved = getattr(file, "resolvedPath", "")
        if not resolved:
            named = getattr(file, "path", None) or "(none)"
            raise InputError(
                f"{self.source.name}: the texture file {named} cannot be found",
                stage="load",
                hint="Package the texture with the model (usdzip) or fix its path.",
            )
        if resolved not in self._pixels:
            from PIL import Image, UnidentifiedImageError

            try:
                data = Ar.GetResolver().OpenAsset(Ar.ResolvedPath(resolved)).GetBuffer()
                with Image.open(io.BytesIO(bytes(data))) as image:
                    self._pixels[resolved] = image_array(image)
            except (OSError, UnidentifiedImageError, AttributeError) as exc:
                raise InputError(
                    f"{self.source.name}: cannot decode the texture {file.path}: {exc}",
                    stage="load",
                    hint="Use PNG or JPEG textures.",
                ) from exc
        return self._pixels[resolved]


def _channel(pixels: ImageArray, index: int) -> ImageArray:
    """One channel; the alpha of an image without one is opaque."""
    if index >= pixels.shape[2]:
        return np.full(pixels.shape[:2], 255, np.uint8)
    return np.ascontiguousarray(pixels[..., index])


def _float(value: Any) -> float:
    """USD shading values are 32-bit: the shortest decimal that reads back as the same float32
    (0.8, not 0.800000011920929), so a factor written as 0.8 reads back as 0.8."""
    return float(str(np.float32(value)))


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value
