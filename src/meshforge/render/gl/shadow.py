"""A soft contact shadow: how close the asset comes to the ground under it, blurred.

The asset is drawn orthographically from below into a height map (the lowest surface over each
ground point wins); ground points under the asset darken as ``exp(-height / falloff)`` and the
map is blurred, so feet and bases leave dark, soft contacts and raised parts only a faint
shade. The ground is the plane through the asset's lowest point; the shadow is a quad on it,
drawn as black with the map as alpha, so it composites over white or stays translucent on a
transparent background.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.render.gl import shaders

__all__ = ["ContactShadow", "contact_shadow"]

MAP_SIZE = 256
MARGIN = 0.35  # fraction of the footprint's larger half-side added around it
FALLOFF = 0.12  # height, as a fraction of the footprint's larger side, where darkness is 1/e
BLUR = 0.012  # Gaussian sigma, as a fraction of the map's side
GROUND_OFFSET = 1e-4  # the quad sits this fraction of the asset's size below its lowest point


@dataclass
class ContactShadow:
    """The shadow's quad and texture on the GPU."""

    program: Any
    vao: Any
    buffers: list[Any]
    texture: Any

    def draw(self, view: NDArray[np.float64], clip: NDArray[np.float64], strength: float) -> None:
        matrix = np.ascontiguousarray((clip @ view).T, dtype="f4")
        self.program["u_view_projection"].write(matrix.tobytes())
        self.program["u_strength"].value = float(strength)
        self.texture.use(location=0)
        self.program["u_shadow"].value = 0
        self.vao.render()

    def release(self) -> None:
        for obj in (self.vao, *self.buffers, self.texture, self.program):
            obj.release()


def _height_map(
    ctx: Any, meshes: list[tuple[Any, Any]], centre: NDArray[np.float64], half: float, ground: float
) -> NDArray[np.float32]:
    """Height above the ground of the lowest surface over each texel (inf: none)."""
    program = ctx.program(vertex_shader=shaders.VERTEX, fragment_shader=shaders.HEIGHT)
    span = 4.0 * max(half, 1e-6)  # heights the map keeps: up to twice the footprint
    # Clip space: x from world x, y from world z, depth from the height (lower is nearer).
    matrix = np.array(
        [
            [1 / half, 0, 0, -centre[0] / half],
            [0, 0, 1 / half, -centre[2] / half],
            [0, 2 / span, 0, -2 * ground / span - 1],
            [0, 0, 0, 1],
        ]
    )
    program["u_view_projection"].write(np.ascontiguousarray(matrix.T, dtype="f4").tobytes())
    program["u_ground_y"].value = ground
    colour = ctx.renderbuffer((MAP_SIZE, MAP_SIZE), 1, dtype="f4")
    depth = ctx.depth_renderbuffer((MAP_SIZE, MAP_SIZE))
    fbo = ctx.framebuffer(color_attachments=[colour], depth_attachment=depth)
    fbo.use()
    ctx.viewport = (0, 0, MAP_SIZE, MAP_SIZE)
    fbo.clear(np.inf, 0.0, 0.0, 0.0, depth=1.0)
    ctx.enable(ctx.DEPTH_TEST)
    ctx.disable(ctx.BLEND)
    for vbo, ibo in meshes:
        vao = ctx.vertex_array(program, [(vbo, "3f 36x", "in_position")], ibo)
        vao.render()
        vao.release()
    data = np.frombuffer(fbo.read(components=1, dtype="f4"), np.float32)
    for obj in (fbo, colour, depth, program):
        obj.release()
    return data.reshape(MAP_SIZE, MAP_SIZE).copy()


def contact_shadow(
    ctx: Any, meshes: list[tuple[Any, Any]], bounds: NDArray[np.float64]
) -> ContactShadow:
    """Build the shadow of meshes given as (vertex buffer, index buffer) pairs in the renderer's
    vertex format, under the box ``bounds``."""
    import cv2

    low, high = bounds
    centre = (low + high) / 2
    size = float(max(high[0] - low[0], high[2] - low[2], 1e-6))
    half = size / 2 * (1 + 2 * MARGIN)
    ground = float(low[1]) - GROUND_OFFSET * float(np.linalg.norm(high - low))
    heights = _height_map(ctx, meshes, centre, half, ground)
    darkness = np.where(np.isfinite(heights), np.exp(-np.maximum(heights, 0) / (FALLOFF * size)), 0)
    darkness = cv2.GaussianBlur(darkness.astype(np.float32), (0, 0), BLUR * MAP_SIZE)
    texture = ctx.texture((MAP_SIZE, MAP_SIZE), 1, darkness.astype("f4").tobytes(), dtype="f4")
    texture.repeat_x = texture.repeat_y = False
    x0, x1 = centre[0] - half, centre[0] + half
    z0, z1 = centre[2] - half, centre[2] + half
    # position, normal (up), uv, tangent: the renderer's vertex format
    quad = np.array(
        [
            [x0, ground, z0, 0, 1, 0, 0, 0, 1, 0, 0, 1],
            [x1, ground, z0, 0, 1, 0, 1, 0, 1, 0, 0, 1],
            [x1, ground, z1, 0, 1, 0, 1, 1, 1, 0, 0, 1],
            [x0, ground, z1, 0, 1, 0, 0, 1, 1, 0, 0, 1],
        ],
        dtype="f4",
    )
    program = ctx.program(vertex_shader=shaders.VERTEX, fragment_shader=shaders.SHADOW)
    vbo = ctx.buffer(quad.tobytes())
    ibo = ctx.buffer(np.array([0, 1, 2, 0, 2, 3], dtype="i4").tobytes())
    vao = ctx.vertex_array(
        program,
        [(vbo, "3f 3f 2f 4f", "in_position", "in_normal", "in_uv", "in_tangent")],
        ibo,
        skip_errors=True,
    )
    return ContactShadow(program=program, vao=vao, buffers=[vbo, ibo], texture=texture)
