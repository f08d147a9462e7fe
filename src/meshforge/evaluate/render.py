"""Renders as the protocol's scorer makes them, with meshforge's numpy rasteriser.

The reference renders with OpenGL (Mesa llvmpipe) at 2x the output size with 4x MSAA into an
8-bit buffer, resolves, then box-filters 2x2. Here the 2x raster is drawn once per MSAA sample
position (llvmpipe's four, ``LLVMPIPE_4X``) by shifting the camera's principal point, each sample
quantised to 8 bits, the four averaged and quantised again (the resolve), then averaged 2x2 in
floating point; alpha (coverage) goes the same way. Shading each sample at its own position
matched the reference better than shading once at the pixel centre, as MSAA nominally does
(WaterBottle GT, input view: PSNR 63.2 vs 59.2 dB against the reference's own render).

Shading is ``meshforge.render``'s (PROTOCOL section 3: Lambert lights fixed in camera space,
two-sided, sRGB textures sampled bilinearly with repeat wrapping) plus what the renderer's
``Primitive`` cannot carry: sRGB vertex colours (multiplying the base colour, their alpha the
base alpha) and a MASK cut-off other than 0.5 (folded into the factor's alpha).

Known differences from the reference: no mipmaps or anisotropic filtering and float (not 8-bit
fixed-point) texture filtering, so textured pixels differ by about one 8-bit step here and there;
BLEND surfaces are composited back to front by depth (up to four layers) where OpenGL blends them
in draw order; the MASK test ignores vertex-colour alpha; triangles crossing the near plane
(0.05) are dropped, not clipped. These are invisible in the metrics of real predictions (within
0.2 %), but a GT scored against itself, whose reference PSNR (~68 dB) only measures 8-bit
rounding, gets ~63 dB here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Camera, Material, Texture
from meshforge.evaluate.meshes import EvalPrimitive, load_primitives, normalise
from meshforge.evaluate.protocol import Z_NEAR
from meshforge.render.raster import box_filter
from meshforge.render.scan import Primitive, Scene, barycentrics, build_scene, scan_convert
from meshforge.render.shading import base_color, irradiance, linear_to_srgb, srgb_to_linear

__all__ = ["LLVMPIPE_4X", "PROTOCOL_SUPERSAMPLE", "ViewRender", "render_view", "render_views"]

PROTOCOL_SUPERSAMPLE = 2  # the reference renders at 2x and box-filters down
# Mesa llvmpipe's 4x MSAA sample positions in a pixel, rows flipped to run downwards (GL's rows
# run upwards, and the reference flips the image it reads back).
LLVMPIPE_4X: tuple[tuple[float, float], ...] = (
    (0.375, 0.875),
    (0.875, 0.625),
    (0.125, 0.375),
    (0.625, 0.125),
)

Float32Array = NDArray[np.float32]
IntArray = NDArray[np.int64]


class ViewRender(NamedTuple):
    """One view: ``rgb`` composited over white (H, W, 3) and ``alpha`` coverage (H, W), floats."""

    rgb: Float32Array
    alpha: Float32Array

    def rgba8(self) -> NDArray[np.uint8]:
        """``H x W x 4`` uint8, the colour un-composited from white (as the GT's RGBA views)."""
        a = np.clip(self.alpha, 0.0, 1.0)[..., None]
        colour = np.where(a > 1e-4, (self.rgb - (1.0 - a)) / np.maximum(a, 1e-4), 1.0)
        out = np.concatenate([np.clip(colour, 0.0, 1.0), a], axis=-1)
        return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def _renderer_primitive(prim: EvalPrimitive) -> Primitive:
    r, g, b, a = prim.base_color_factor
    if prim.alpha_mode == "MASK":  # the rasteriser cuts at 0.5: rescale alpha to the cut-off
        a = a * 0.5 / prim.alpha_cutoff if prim.alpha_cutoff > 0 else 1e30
    texture = None if prim.texture is None else Texture(prim.texture, "base_color")
    material = Material(
        name=prim.name or "material",
        base_color_factor=(r, g, b, a),
        base_color_texture=texture,
        alpha_mode=prim.alpha_mode,
    )
    return Primitive(prim.positions, prim.faces, prim.uv, prim.normals, material)


def _vertex_colours(prims: Sequence[EvalPrimitive]) -> Float32Array | None:
    """Vertex colours in the scene's vertex order (all primitives concatenated), or None."""
    if all(p.colors is None for p in prims):
        return None
    parts = [
        np.ones((len(p.positions), 4)) if p.colors is None else np.asarray(p.colors) for p in prims
    ]
    return np.concatenate(parts).astype(np.float32)


def _shade(
    scene: Scene,
    tri: IntArray,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    colours: Float32Array | None,
) -> tuple[Float32Array, Float32Array]:
    """sRGB colour (N, 3) and alpha (N,) of samples: base x vertex colour x Lambert lights."""
    bary = barycentrics(scene, tri, x, y)
    base, alpha = base_color(scene, tri, bary)
    corners = scene.faces.take(tri, axis=0)
    b32 = bary.astype(np.float32)
    if colours is not None:
        vc = sum(b32[:, k : k + 1] * colours.take(corners[:, k], axis=0) for k in range(3))
        vc = np.asarray(vc, dtype=np.float32)
        base = base * srgb_to_linear(vc[:, :3])
        alpha = alpha * vc[:, 3]
    normals = scene.face_normals.astype(np.float32).take(tri, axis=0)
    smooth = np.array(scene.has_normals, dtype=bool)[scene.prim.take(tri)]
    if smooth.any():
        sel = np.flatnonzero(smooth)
        n = sum(
            b32[sel, k : k + 1] * scene.cam_normals.take(corners[sel, k], axis=0) for k in range(3)
        )
        n = np.asarray(n, dtype=np.float32)
        length = np.sqrt(np.einsum("nc,nc->n", n, n))[:, None]
        normals[sel] = np.where(length > 1e-12, n / np.maximum(length, 1e-12), normals[sel])
    fx, fy, cx, cy = scene.intrinsics
    towards = normals[:, 0] * (x - cx) / fx + normals[:, 1] * (cy - y) / fy - normals[:, 2]
    normals[towards > 0] *= -1  # two-sided: face the viewer
    return linear_to_srgb(base * irradiance(normals)[:, None]), alpha


def _quantise(image: Float32Array) -> Float32Array:
    return np.asarray(np.rint(np.clip(image, 0.0, 1.0) * 255.0) / 255.0, dtype=np.float32)


def _pattern_camera(camera: Camera, ox: float, oy: float) -> Camera:
    """``camera`` shifted so that the 2x raster's pixel centres fall on the sample (ox, oy)."""
    shift = 0.5 / PROTOCOL_SUPERSAMPLE
    return dataclasses.replace(
        camera,
        cx=camera.cx + shift - ox / PROTOCOL_SUPERSAMPLE,
        cy=camera.cy + shift - oy / PROTOCOL_SUPERSAMPLE,
    )


def _one_sample(
    prims: Sequence[EvalPrimitive],
    camera: Camera,
    offset: tuple[float, float],
    colours: Float32Array | None,
    at_centre: bool,
) -> tuple[Float32Array, NDArray[np.bool_]]:
    """Colour (quantised to 8 bits) and coverage of one sample per 2x pixel."""
    ox, oy = offset
    scene = build_scene(
        [_renderer_primitive(p) for p in prims],
        _pattern_camera(camera, ox, oy),
        PROTOCOL_SUPERSAMPLE,
        Z_NEAR,
    )
    frags = scan_convert(scene)
    rgb = np.ones((scene.width * scene.height, 3), dtype=np.float32)  # cleared to white
    covered = frags.opaque >= 0
    dx, dy = (0.5 - ox, 0.5 - oy) if at_centre else (0.0, 0.0)
    for layer_index, layer in enumerate([frags.opaque, *reversed(frags.blend_layers)]):
        idx = np.flatnonzero(layer >= 0)
        tri = layer[idx]
        x = np.asarray(idx % scene.width, dtype=np.float64) + 0.5 + dx
        y = np.asarray(idx // scene.width, dtype=np.float64) + 0.5 + dy
        colour, alpha = _shade(scene, tri, x, y, colours)
        if layer_index == 0:
            rgb[idx] = colour
        else:  # "over", back to front
            a = np.clip(alpha, 0.0, 1.0)[:, None]
            rgb[idx] = colour * a + rgb[idx] * (1.0 - a)
            covered[idx] = True
    shape = (scene.height, scene.width)
    return _quantise(rgb.reshape(*shape, 3)), covered.reshape(shape)


def render_view(
    prims: Sequence[EvalPrimitive],
    camera: Camera,
    *,
    pattern: Sequence[tuple[float, float]] = LLVMPIPE_4X,
    shade_at_centre: bool = False,
) -> ViewRender:
    """Render primitives (world space) with ``camera`` as the protocol's renderer does.

    ``pattern`` holds the sample positions inside a pixel of the 2x raster (x right, y down);
    ``shade_at_centre`` shades every sample at its pixel's centre, as MSAA nominally does.
    """
    colours = _vertex_colours(prims)
    rgb: Float32Array | None = None
    cover: Float32Array | None = None
    for offset in pattern:
        c, k = _one_sample(prims, camera, offset, colours, shade_at_centre)
        rgb = c if rgb is None else rgb + c
        cover = k.astype(np.float32) if cover is None else cover + k
    assert rgb is not None and cover is not None
    n = np.float32(len(pattern))
    # MSAA resolve into 8 bits, then the 2x2 box.
    image = box_filter(_quantise(rgb / n), PROTOCOL_SUPERSAMPLE)
    alpha = box_filter(_quantise(cover / n), PROTOCOL_SUPERSAMPLE)
    return ViewRender(image, alpha)


def render_views(
    prediction: str | Path | Sequence[EvalPrimitive],
    cameras: Camera | Sequence[Camera] | Mapping[int, Camera],
    *,
    pattern: Sequence[tuple[float, float]] = LLVMPIPE_4X,
) -> list[ViewRender]:
    """Renders of a prediction for each camera (e.g. ``protocol.view_cameras()``).

    A path is loaded and normalised as the protocol does (bbox centred, longest side 1);
    primitives are drawn as they are.
    """
    if isinstance(prediction, str | Path):
        prims = normalise(load_primitives(prediction))
    else:
        prims = list(prediction)
    if isinstance(cameras, Camera):
        cams: list[Camera] = [cameras]
    elif isinstance(cameras, Mapping):
        cams = list(cameras.values())
    else:
        cams = list(cameras)
    return [render_view(prims, c, pattern=pattern) for c in cams]
