"""The OpenGL renderer (moderngl over headless EGL): physically based shading, light rigs,
contact shadows, anti-aliasing, and mask, depth and normal passes."""

from meshforge.render.gl.context import EGL_PACKAGES, gl_context, renderer_name
from meshforge.render.gl.renderer import RenderResult, RenderSettings, SceneRenderer

__all__ = [
    "EGL_PACKAGES",
    "RenderResult",
    "RenderSettings",
    "SceneRenderer",
    "gl_context",
    "renderer_name",
]
