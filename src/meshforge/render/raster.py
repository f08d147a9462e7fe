"""A small, dependency-free (numpy only) software renderer for previews, thumbnails and tests.

``render`` draws triangle meshes with a pinhole :class:`~meshforge.asset.Camera`: two-sided (no
culling), perspective-correct interpolation, a z-buffer, textured Lambert shading with the
evaluation protocol's lights (see ``shading.py``) and ``supersample x supersample`` samples per
pixel, box-filtered; alpha is the covered fraction of the samples. Triangles with a vertex in front
of the near plane are dropped, not clipped (see ``scan.py``). BLEND materials are depth-peeled
(up to four layers) over the opaque result, or over white where there is none, as the protocol's
renderer composites glass over white; MASK materials are cut at alpha 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Asset, Camera, Material
from meshforge.render.camera import fit_camera, look_at_camera
from meshforge.render.scan import Fragments, Primitive, Scene, build_scene, scan_convert
from meshforge.render.shading import shade

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

__all__ = [
    "Primitive",
    "coverage",
    "fit_camera",
    "look_at_camera",
    "primitives_from_asset",
    "render",
    "render_asset",
    "silhouette",
]

MeshLike = Primitive | tuple[FloatArray, IntArray, FloatArray | None, FloatArray | None, Material]


def primitives_from_asset(asset: Asset) -> list[Primitive]:
    """One Primitive per mesh of the asset, with the material the mesh refers to."""
    prims = []
    for mesh in asset.meshes:
        if not 0 <= mesh.material < len(asset.materials):
            raise ValueError(
                f"render: mesh {mesh.name!r} uses material {mesh.material}, "
                f"but the asset has {len(asset.materials)}"
            )
        material = asset.materials[mesh.material]
        prims.append(Primitive(mesh.vertices, mesh.faces, mesh.uv, mesh.normals, material))
    return prims


def _primitives(meshes: Asset | Sequence[MeshLike]) -> list[Primitive]:
    if isinstance(meshes, Asset):
        return primitives_from_asset(meshes)
    return [m if isinstance(m, Primitive) else Primitive(*m) for m in meshes]


def box_filter(image: NDArray[np.float32], factor: int) -> NDArray[np.float32]:
    """Average each ``factor`` x ``factor`` block (the supersampling resolve)."""
    if factor == 1:
        return image
    # Strided slices add up far faster than a mean over a reshaped view.
    total = np.zeros_like(image[::factor, ::factor])
    for dy in range(factor):
        for dx in range(factor):
            total += image[dy::factor, dx::factor]
    return np.asarray(total / np.float32(factor * factor), dtype=np.float32)


def _samples(frags: IntArray, width: int) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Covered samples of a fragment buffer: index, triangle, and the sample centre x and y."""
    idx = np.flatnonzero(frags >= 0).astype(np.int64)
    x = np.asarray((idx % width) + 0.5, dtype=np.float64)
    return idx, frags[idx], x, np.asarray((idx // width) + 0.5, dtype=np.float64)


def _shade_samples(
    scene: Scene, frags: Fragments, backdrop: NDArray[np.floating], lit: bool
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """sRGB colour (n, 3) of every raster sample, zero where uncovered, and the coverage (n,)."""
    colour = np.zeros((scene.width * scene.height, 3), dtype=np.float32)
    idx, tri, x, y = _samples(frags.opaque, scene.width)
    colour[idx] = shade(scene, tri, x, y, lit)[0]
    covered = frags.opaque >= 0
    for layer in reversed(frags.blend_layers):  # back to front, "over"
        idx, tri, x, y = _samples(layer, scene.width)
        rgb, alpha = shade(scene, tri, x, y, lit)
        a = np.clip(alpha, 0.0, 1.0)[:, None]
        behind = np.where(covered[idx, None], colour[idx], backdrop)
        colour[idx] = rgb * a + behind * (1 - a)
        covered[idx] = True
    return colour, covered


def render(
    meshes: Asset | Sequence[MeshLike],
    camera: Camera,
    *,
    supersample: int = 2,
    background: tuple[int, int, int] | None = None,
    lit: bool = True,
    near: float = 0.05,
) -> NDArray[np.uint8]:
    """Render to ``camera.height x camera.width x 4`` RGBA (uint8, not premultiplied).

    ``meshes`` are Primitives or ``(vertices, faces, uv | None, normals | None, material)``
    tuples in world space (or an Asset). With ``background=None`` alpha is the coverage and the
    colour is the object's own; with a background colour the image is composited over it and
    alpha is 255 everywhere. ``lit=False`` shows the base colour without lighting. Triangles
    with a vertex nearer than ``near`` (camera-space depth) are dropped, not clipped.
    """
    if supersample < 1:
        raise ValueError(f"render: supersample must be >= 1, got {supersample}")
    scene = build_scene(_primitives(meshes), camera, supersample, near)
    frags = scan_convert(scene)
    bg = np.array(background if background is not None else (255, 255, 255), np.float32) / 255
    colour, covered = _shade_samples(scene, frags, bg, lit)
    shape = (scene.height, scene.width)
    alpha = box_filter(covered.reshape(shape).astype(np.float32), supersample)
    premult = box_filter(colour.reshape(*shape, 3), supersample)  # coverage is 0 or 1 per sample
    out = np.empty((camera.height, camera.width, 4), dtype=np.float32)
    if background is not None:
        out[..., :3] = premult + (1 - alpha[..., None]) * bg
        out[..., 3] = 1.0
    else:
        a = alpha[..., None]
        out[..., :3] = np.divide(premult, a, out=np.zeros_like(premult), where=a > 0)
        out[..., 3] = alpha
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


def render_asset(asset: Asset, camera: Camera, **kwargs: Any) -> NDArray[np.uint8]:
    """``render`` for every mesh of an asset with its material; keywords as for ``render``."""
    return render(primitives_from_asset(asset), camera, **kwargs)


def coverage(
    meshes: Asset | Sequence[MeshLike], camera: Camera, supersample: int = 1, near: float = 0.05
) -> NDArray[np.float32]:
    """Fraction (H, W) of each pixel's samples covered by geometry (MASK cut-outs respected)."""
    scene = build_scene(_primitives(meshes), camera, supersample, near)
    frags = scan_convert(scene)
    covered = frags.opaque >= 0
    for layer in frags.blend_layers:
        covered |= layer >= 0
    return box_filter(covered.astype(np.float32).reshape(scene.height, scene.width), supersample)


def silhouette(
    meshes: Asset | Sequence[MeshLike], camera: Camera, supersample: int = 1
) -> NDArray[np.bool_]:
    """Pixels (H, W) more than half covered; with ``supersample=1``, pixel centres covered."""
    return np.asarray(coverage(meshes, camera, supersample) > 0.5)
