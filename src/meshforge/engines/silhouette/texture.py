"""The base-colour texture: the framed photo, relit to albedo, refilled where it is seen poorly.

Every vertex's uv is the pixel it projects to in the framed photo (a hidden vertex reuses the
pixel of the front point it mirrors), so the texture is the photo itself, baked in three steps
(``bake_texture``), each working on the surface seen at every pixel, rasterised from the input
camera:

1. Baked lighting is reduced (``delight.py``): the photo is divided by the shading that the
   geometry's normals explain, so the renderer's own lights are not applied on top of the
   photo's.
2. Texels of surface seen at a grazing angle are replaced. A pixel there covers a long strip of
   surface, which the turntable's other views see face-on as a smeared streak of the outline's
   colours (darkened by the grazing light, mixed with the background). How poorly a pixel is
   seen is ``n.v`` over the best ``n.v`` any camera circling the subject at the photo's
   elevation would get: 1 on a front face, on a top face seen from above and on a lid, towards
   0 at a can's or an inflated body's outline. Those pixels take a push-pull average of the
   well-seen pixels around them, blended in over a ramp; back vertices reuse these texels, so
   the seam where the mirrored back meets the front is blended too, not a crease.
3. The subject's colours are bled past its edge (``bleed_subject_colours``), because bilinear
   filtering and mip-mapping near the outline would otherwise mix in the background (a white
   halo around the rim).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Camera, Material
from meshforge.engines.silhouette.camera import framed_intrinsics
from meshforge.engines.silhouette.delight import estimate_shading, linear_to_srgb, srgb_to_linear
from meshforge.image.distance import nearest_source
from meshforge.image.frame import FramedImage
from meshforge.render.scan import Primitive, barycentrics, build_scene, scan_convert

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# The geometry is rasterised at this size (shading and visibility are smooth; 4x fewer samples
# than the 512 px texture keeps the step at a few tens of milliseconds).
RASTER_SIZE = 256
# Seen ratio (n.v / best n.v round the turntable) below which a texel is replaced, and above
# which it is kept as photographed; linear in between.
GRAZING = (0.2, 0.4)


def bleed_subject_colours(rgba: NDArray[np.uint8], threshold: int = 128) -> NDArray[np.uint8]:
    """RGB where every background pixel takes the colour of the nearest subject pixel."""
    rgb = rgba[..., :3]
    background = rgba[..., 3] < threshold
    if not background.any() or background.all():
        return np.ascontiguousarray(rgb)
    iy, ix = nearest_source(~background)
    return np.ascontiguousarray(rgb[iy, ix])


def bake_texture(
    framed: FramedImage,
    camera: Camera,
    vertices: FloatArray,
    faces: IntArray,
    normals: FloatArray,
    *,
    delight: bool = True,
    notes: dict[str, Any] | None = None,
) -> NDArray[np.uint8]:
    """The base-colour texture (framed size, RGB) for a mesh textured by projection.

    ``camera`` is the photo's camera (as finally used), ``vertices`` and ``normals`` are in the
    asset's frame. ``notes`` receives what was done (the shading fit and the share refilled).
    """
    import cv2

    size = framed.size
    subject = framed.pixels[..., 3] >= 128
    pixels = np.flatnonzero(subject)
    surface = (
        _seen_surface(framed, camera, vertices, faces, normals, pixels) if len(pixels) else None
    )
    if surface is None:
        return bleed_subject_colours(framed.pixels)
    cam_normals, seen, covered = surface
    rgb = framed.pixels[..., :3].reshape(-1, 3)
    linear = srgb_to_linear(rgb[pixels])
    info: dict[str, Any] = {}
    if delight:
        shading = estimate_shading(linear, cam_normals, covered & (seen >= GRAZING[1]))
        if shading is None:
            info["delight"] = "skipped (too few well-seen pixels)"
        else:
            linear = np.minimum(linear * shading.gain[:, None].astype(np.float32), 1.0)
            info["delight"] = {
                "fit_pixels": shading.fit_pixels,
                "explained": round(shading.explained, 3),
                "residual": round(shading.residual, 3),
                "gain_p1_p99": [round(float(g), 3) for g in np.percentile(shading.gain, [1, 99])],
                "clamped": round(shading.clamped, 4),
            }
    weight = np.clip((seen - GRAZING[0]) / (GRAZING[1] - GRAZING[0]), 0.0, 1.0)
    refill = np.flatnonzero(weight < 1.0)
    if len(pixels) - len(refill) >= 16 and len(refill):
        source = np.zeros((size * size, 4), dtype=np.float32)
        well_seen = weight >= 1.0
        source[pixels[well_seen], :3] = linear[well_seen]
        source[pixels[well_seen], 3] = 1.0
        # The fill is smooth, so push-pull at half resolution (a quarter of the pixels) suffices.
        half = cv2.resize(
            source.reshape(size, size, 4), (size // 2, size // 2), interpolation=cv2.INTER_AREA
        )
        fill = cv2.resize(
            push_pull(np.asarray(half, dtype=np.float32)),
            (size, size),
            interpolation=cv2.INTER_LINEAR,
        )
        fill = fill.reshape(-1, 3)[pixels[refill]]
        w = weight[refill, None].astype(np.float32)
        linear[refill] = w * linear[refill] + (1 - w) * fill
    info["refilled"] = round(len(refill) / max(len(pixels), 1), 4)
    if notes is not None:
        notes.update(info)
    rgba = framed.pixels.copy()
    rgba.reshape(-1, 4)[pixels, :3] = linear_to_srgb(linear)
    return bleed_subject_colours(rgba)


def push_pull(premultiplied: NDArray[np.float32]) -> NDArray[np.float32]:
    """Colour (H, W, 3) from premultiplied colour + weight (H, W, 4): a pixel's own where its
    weight is 1, else blended with the weighted average of the sources around it, drawn from
    ever coarser levels until some source is found."""
    import cv2

    levels: list[NDArray[np.float32]] = [premultiplied]
    while min(levels[-1].shape[:2]) > 2:
        h, w = levels[-1].shape[:2]
        half = ((w + 1) // 2, (h + 1) // 2)
        levels.append(np.asarray(cv2.resize(levels[-1], half, interpolation=cv2.INTER_AREA)))
    top = levels[-1]
    filled = top[..., :3] / np.maximum(top[..., 3:], 1e-8)
    for level in reversed(levels[:-1]):
        h, w = level.shape[:2]
        up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
        # Premultiplied: where sources cover the whole pixel its own average wins outright.
        cover = np.minimum(level[..., 3:], 1.0)
        filled = level[..., :3] / np.maximum(level[..., 3:], 1e-8) * cover + up * (1 - cover)
    return np.asarray(filled, dtype=np.float32)


def _seen_surface(
    framed: FramedImage,
    camera: Camera,
    vertices: FloatArray,
    faces: IntArray,
    normals: FloatArray,
    pixels: NDArray[np.intp],
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]] | None:
    """At each of the framed image's ``pixels`` (flat indices): the camera-space unit normal
    (z towards the viewer) of the surface seen there, how well it is seen (``n.v`` / the best
    ``n.v`` round the turntable) and whether the mesh covers it. Pixels the mesh misses take
    the values of the nearest covered one."""
    import cv2

    size = framed.size
    s = RASTER_SIZE / size
    f, cx, cy = framed_intrinsics(camera, framed.scale, framed.offset)
    small = Camera(
        width=RASTER_SIZE,
        height=RASTER_SIZE,
        fx=f * s,
        fy=f * s,
        cx=cx * s,
        cy=cy * s,
        camera_to_world=camera.camera_to_world,
    )
    scene = build_scene([Primitive(vertices, faces, None, normals, Material())], small)
    tri = scan_convert(scene).opaque
    idx = np.flatnonzero(tri >= 0)
    if len(idx) < 16:
        return None
    x = (idx % RASTER_SIZE) + 0.5
    y = (idx // RASTER_SIZE) + 0.5
    bary = barycentrics(scene, tri[idx], x, y)
    corners = scene.faces[tri[idx]]
    cam_n = np.einsum("nk,nkc->nc", bary, scene.cam_normals[corners].astype(np.float64))
    cam_n /= np.maximum(np.sqrt(np.einsum("nc,nc->n", cam_n, cam_n)), 1e-12)[:, None]
    view = np.column_stack([(small.cx - x) / small.fx, (y - small.cy) / small.fy, np.ones(len(x))])
    view /= np.sqrt(np.einsum("nc,nc->n", view, view))[:, None]
    facing = np.einsum("nc,nc->n", cam_n, view)
    cam_n[facing < 0] *= -1  # two-sided, as the renderer shades
    facing = np.abs(facing)
    # The best view round a vertical turntable at the same elevation: the view direction turned
    # about world up until its horizontal part lines up with the normal's.
    rot = np.asarray(camera.camera_to_world, dtype=np.float64)[:3, :3]
    n_world, v_world = cam_n @ rot.T, view @ rot.T
    best = np.hypot(n_world[:, 0], n_world[:, 2]) * np.hypot(v_world[:, 0], v_world[:, 2])
    best += n_world[:, 1] * v_world[:, 1]
    seen = np.where(best > 1e-3, np.clip(facing / np.maximum(best, 1e-3), 0.0, 1.0), 1.0)

    maps = np.zeros((RASTER_SIZE * RASTER_SIZE, 4), dtype=np.float32)
    maps[idx, :3] = cam_n
    maps[idx, 3] = seen
    covered_small = (tri >= 0).reshape(RASTER_SIZE, RASTER_SIZE)
    # Spread the covered values outwards first, so that upsampling does not blend the
    # outline's normals with the zeros beyond it.
    iy, ix = nearest_source(covered_small)
    grid = maps.reshape(RASTER_SIZE, RASTER_SIZE, 4)[iy, ix]
    full = cv2.resize(grid, (size, size), interpolation=cv2.INTER_LINEAR).reshape(-1, 4)[pixels]
    covered_full = cv2.resize(
        covered_small.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST
    )
    normal_map = full[:, :3].astype(np.float64)
    normal_map /= np.maximum(np.linalg.norm(normal_map, axis=1, keepdims=True), 1e-9)
    return normal_map, full[:, 3].astype(np.float64), covered_full.reshape(-1)[pixels] > 0
