"""Background-removal backends, looked up by name: ``alpha``, ``color-key``, ``u2net``, ``u2netp``.

A backend turns an RGB(A) photo into a per-pixel foreground probability; the shared
post-processing in :mod:`meshforge.image.segment` makes the final mask. Backend modules import
their heavy dependencies (cv2, onnxruntime) inside functions, so importing this package is cheap.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from meshforge.errors import RecipeError
from meshforge.image.backends.alpha import AlphaBackend
from meshforge.image.backends.colorkey import ColorKeyBackend
from meshforge.image.backends.u2net import U2NetBackend


class SegmentBackend(Protocol):
    """What :func:`meshforge.image.segment.segment` needs from a backend."""

    @property
    def name(self) -> str: ...

    @property
    def soft(self) -> bool:
        """True if the probability map has a meaningful soft edge worth keeping as alpha."""
        ...

    def available(self) -> bool: ...

    def probability(self, pixels: NDArray[np.uint8]) -> NDArray[np.float32]:
        """H x W float32 in [0, 1] from H x W x 3 (RGB) or H x W x 4 (RGBA) uint8 pixels."""
        ...


BACKENDS: dict[str, SegmentBackend] = {}


def register_backend(backend: SegmentBackend) -> None:
    """Add (or replace) a backend under ``backend.name``."""
    BACKENDS[backend.name] = backend


def get_backend(name: str) -> SegmentBackend:
    try:
        return BACKENDS[name]
    except KeyError:
        known = ", ".join(["auto", *sorted(BACKENDS)])
        raise RecipeError(
            f"unknown segmenter {name!r}", stage="segment", hint=f"choose one of: {known}"
        ) from None


for _backend in (AlphaBackend(), ColorKeyBackend(), U2NetBackend("u2net"), U2NetBackend("u2netp")):
    register_backend(_backend)

__all__ = ["BACKENDS", "SegmentBackend", "get_backend", "register_backend"]
