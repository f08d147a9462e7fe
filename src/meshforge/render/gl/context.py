"""The OpenGL context: headless EGL (a GPU's driver where there is one, else Mesa's llvmpipe on
the CPU), created once per process and shared.

Without EGL, or without moderngl, rendering fails with a :class:`DependencyError` that names
what to install; nothing falls back silently to another renderer.
"""

from __future__ import annotations

import threading
from typing import Any

from meshforge.errors import DependencyError

__all__ = ["EGL_PACKAGES", "gl_context", "renderer_name"]

# Debian/Ubuntu packages that provide libEGL and a software OpenGL driver (llvmpipe).
EGL_PACKAGES = "libegl1 libgl1-mesa-dri"
MIN_GL_VERSION = 330

_lock = threading.Lock()
_context: Any = None


def _create() -> Any:
    try:
        import moderngl
    except ImportError as error:
        raise DependencyError(
            f"the OpenGL renderer needs the moderngl package ({error})",
            stage="render",
            hint="Install it with: pip install 'moderngl>=5.10'",
        ) from error
    try:
        create: Any = moderngl.create_context  # its stubs type ``backend`` too narrowly
        context = create(standalone=True, backend="egl", require=MIN_GL_VERSION)
    except Exception as error:  # glcontext raises plain Exceptions for a missing libEGL
        raise DependencyError(
            f"no headless OpenGL {MIN_GL_VERSION // 100}.{MIN_GL_VERSION % 100 // 10} context"
            f" could be created through EGL ({error})",
            stage="render",
            hint=(
                f"Install EGL and Mesa's drivers (Debian/Ubuntu: apt-get install {EGL_PACKAGES};"
                " Fedora: dnf install mesa-libEGL mesa-dri-drivers), or a GPU driver with EGL"
            ),
        ) from error
    return context


def gl_context() -> Any:
    """The process's shared moderngl context (created on first use)."""
    global _context
    with _lock:
        if _context is None:
            _context = _create()
        return _context


def renderer_name() -> str:
    """What draws: e.g. ``llvmpipe (LLVM 15.0.6, 256 bits)`` or a GPU's name."""
    return str(gl_context().info["GL_RENDERER"])
