"""Shading of visible samples: base colour, texture lookup and the protocol's Lambert lights.

Matches ``shared/eval/PROTOCOL.md`` section 3 so that renders compare with the benchmark's:
base = baseColorFactor (linear) x sRGB-decoded texture, sampled bilinearly in sRGB space with
repeat wrapping (what an 8-bit GL texture does; no mipmaps here); colour = base x (ambient +
sum of I_i max(0, n.l_i)) with the lights fixed in camera space and the normal flipped towards
the viewer; clamped, then sRGB-encoded.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from meshforge.render.scan import Scene, barycentrics

FloatArray = NDArray[np.float64]
Float32Array = NDArray[np.float32]
IntArray = NDArray[np.int64]

AMBIENT = 0.4
# (direction towards the light in camera space: x right, y up, z towards the viewer; intensity)
_LIGHTS = (((-0.50, 0.60, 0.62), 0.5), ((0.70, 0.05, 0.71), 0.22), ((0.00, 0.90, -0.44), 0.15))
LIGHT_DIRECTIONS = np.array([d for d, _ in _LIGHTS]) / np.linalg.norm(
    [d for d, _ in _LIGHTS], axis=1, keepdims=True
)
LIGHT_INTENSITIES = np.array([i for _, i in _LIGHTS])


def srgb_to_linear(c: NDArray[np.floating]) -> Float32Array:
    c = np.asarray(c, dtype=np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(c: NDArray[np.floating]) -> Float32Array:
    c = np.clip(np.asarray(c, dtype=np.float32), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055).astype(np.float32)


def sample_texture(image: NDArray[np.uint8], uv: NDArray[np.floating]) -> Float32Array:
    """Bilinear RGBA lookup (N, 4) in [0, 1], repeat wrapping, glTF uv (v down from the top).

    ``image`` is ``H x W x 4`` uint8; texels are gathered as packed uint32, much faster than
    gathering rows of four bytes.
    """
    h, w = image.shape[:2]
    packed = np.ascontiguousarray(image).reshape(-1).view(np.uint32)
    x = uv[:, 0] * w - 0.5
    y = uv[:, 1] * h - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx = (x - x0).astype(np.float32)[:, None]
    fy = (y - y0).astype(np.float32)[:, None]
    c0, r0 = x0.astype(np.int64) % w, y0.astype(np.int64) % h
    c1, r1 = (c0 + 1) % w, ((r0 + 1) % h) * w
    r0 *= w

    def texel(index: IntArray) -> Float32Array:
        return packed.take(index).view(np.uint8).reshape(-1, 4).astype(np.float32)

    top = texel(r0 + c0) * (1 - fx) + texel(r0 + c1) * fx
    bottom = texel(r1 + c0) * (1 - fx) + texel(r1 + c1) * fx
    return np.asarray((top * (1 - fy) + bottom * fy) * np.float32(1 / 255), dtype=np.float32)


def _interpolate(
    values: NDArray[np.floating], corners: IntArray, bary: NDArray[np.floating]
) -> NDArray[np.floating]:
    out = bary[:, :1] * values.take(corners[:, 0], axis=0)
    out += bary[:, 1:2] * values.take(corners[:, 1], axis=0)
    out += bary[:, 2:] * values.take(corners[:, 2], axis=0)
    return out


def base_color(scene: Scene, tri: IntArray, bary: FloatArray) -> tuple[Float32Array, Float32Array]:
    """Linear base colour (N, 3) and alpha (N,) of samples on triangles ``tri``."""
    factors = np.array([m.base_color_factor for m in scene.materials], dtype=np.float32)
    prim = scene.prim.take(tri)
    rgba = factors.reshape(-1, 4).take(prim, axis=0)
    for i, tex in enumerate(scene.textures):
        if tex is None:
            continue
        on_prim = prim == i
        if not on_prim.any():
            continue
        sel: slice | IntArray = slice(None) if on_prim.all() else np.flatnonzero(on_prim)
        uv = _interpolate(scene.uv, scene.faces.take(tri[sel], axis=0), bary[sel])
        texel = sample_texture(tex, uv)
        rgba[sel, :3] *= srgb_to_linear(texel[:, :3])
        rgba[sel, 3] *= texel[:, 3]
    return rgba[:, :3], rgba[:, 3]


def irradiance(normals: NDArray[np.floating]) -> Float32Array:
    """Ambient plus the three camera-space lights for unit camera-space normals (N, 3)."""
    n = normals.astype(np.float32)
    total = np.full(len(n), AMBIENT, dtype=np.float32)
    # Column arithmetic: a (N, 3) @ (3, 3) matmul is much slower for tall, skinny arrays.
    for (lx, ly, lz), intensity in zip(LIGHT_DIRECTIONS, LIGHT_INTENSITIES, strict=True):
        cosine = n[:, 0] * np.float32(lx) + n[:, 1] * np.float32(ly) + n[:, 2] * np.float32(lz)
        total += np.float32(intensity) * np.maximum(cosine, np.float32(0))
    return total


def shade(
    scene: Scene, tri: IntArray, x: FloatArray, y: FloatArray, lit: bool = True
) -> tuple[Float32Array, Float32Array]:
    """sRGB colour (N, 3) and base-colour alpha (N,) at screen points on triangles ``tri``."""
    bary = barycentrics(scene, tri, x, y)
    base, alpha = base_color(scene, tri, bary)
    if not lit:
        return linear_to_srgb(base), alpha
    normals = scene.face_normals.astype(np.float32).take(tri, axis=0)
    smooth = np.array(scene.has_normals, dtype=bool)[scene.prim.take(tri)]
    if smooth.any():
        sel = slice(None) if smooth.all() else np.flatnonzero(smooth)
        b32 = bary[sel].astype(np.float32)
        n = _interpolate(scene.cam_normals, scene.faces.take(tri[sel], axis=0), b32)
        length = np.sqrt(np.einsum("nc,nc->n", n, n))[:, None]
        # Zero normals in the file: keep the flat one.
        normals[sel] = np.where(length > 1e-12, n / np.maximum(length, 1e-12), normals[sel])
    # Two-sided: face the normal towards the eye, i.e. against the sample's viewing ray.
    fx, fy, cx, cy = scene.intrinsics
    ray_x, ray_y = (x - cx) / fx, (cy - y) / fy
    flip = normals[:, 0] * ray_x + normals[:, 1] * ray_y - normals[:, 2] > 0
    normals[flip] *= -1
    return linear_to_srgb(np.multiply(base, irradiance(normals)[:, None])), alpha
