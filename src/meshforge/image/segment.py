"""Background removal: one call, several backends, one shared post-processing.

``segment(pixels, has_alpha=...)`` picks a backend (``auto``: the photo's own alpha if it has
transparency, else u2net if installed, else color-key), gets a foreground probability from it and
turns that into the alpha of the single product in the photo:

* threshold at 0.5 and keep the largest connected object; warn ("multiple-objects") when another
  one is large, since only one product can become an asset;
* fill small holes (specks the backend missed inside the object);
* soften the edge: a backend with soft values (u2net, alpha) keeps them near the kept object;
  a hard one (color-key) gets a ``feather_px`` Gaussian.

An empty result, or one that covers the whole photo, is NoForegroundError: both mean the backend
could not tell the product from its background.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.errors import NoForegroundError, SegmentationError
from meshforge.image.backends import BACKENDS, SegmentBackend, get_backend
from meshforge.image.backends.alpha import ALPHA_HINT, has_transparency
from meshforge.transforms.base import Notice

STAGE = "segment"
NO_FOREGROUND_HINT = (
    "use a plainer background, a different --segmenter, or a photo with transparency"
)
MIN_OBJECT_FRACTION = 0.001  # below 0.1 % of the photo there is no product to speak of
MAX_OBJECT_FRACTION = 0.98  # above this no background was found at all
SECOND_OBJECT_RATIO = 0.15  # another object this large (vs the largest) is worth a warning
HOLE_FRACTION = 0.01  # holes smaller than this fraction of the object are filled


@dataclass
class Segmentation:
    """The product's soft mask and how it was found."""

    alpha: NDArray[np.float32]
    """H x W in [0, 1]: the kept object only, with a soft edge."""
    backend: str
    warnings: list[Notice] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def mask(self) -> NDArray[np.bool_]:
        """The binary mask (alpha >= 0.5)."""
        return np.asarray(self.alpha >= 0.5)


def prefetch(backend: str = "auto") -> None:
    """Let a model-based backend start loading its model now, before the photo is read.

    For ``auto`` that is u2net when installed (a photo with transparency will not need it, and
    then only a background thread's work is lost).
    """
    name = "u2net" if backend == "auto" else backend
    if name not in BACKENDS:
        return
    warm_up = getattr(BACKENDS[name], "prefetch", None)
    if callable(warm_up):
        warm_up()


def segment(
    pixels: NDArray[np.uint8],
    *,
    has_alpha: bool,
    backend: str = "auto",
    feather_px: float = 1.0,
) -> Segmentation:
    """Separate the product in ``pixels`` (H x W x 4 RGBA, or H x W x 3 RGB) from its background.

    ``has_alpha`` says whether the photo came with an alpha channel; ``backend`` is ``auto`` or a
    name in :data:`meshforge.image.backends.BACKENDS`; ``feather_px`` is the Gaussian sigma that
    softens hard-edged masks (0 keeps them binary).
    """
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or pixels.dtype != np.uint8:
        raise ValueError(
            f"segment expects H x W x 4 uint8 pixels, got {pixels.shape} {pixels.dtype}"
        )
    if feather_px < 0:
        raise ValueError(f"feather_px must be >= 0, got {feather_px}")
    start = time.perf_counter()
    chosen, reason = choose_backend(pixels, has_alpha=has_alpha, backend=backend)
    if has_alpha and chosen.name != "alpha" and pixels.shape[2] == 4:
        pixels = _over_white(pixels)  # what a viewer shows; hidden RGB under alpha 0 is arbitrary
    probability = chosen.probability(pixels)
    inference = time.perf_counter() - start
    alpha, warnings, details = refine(
        probability, soft=chosen.soft, feather_px=feather_px, backend=chosen.name
    )
    details = {
        "backend": chosen.name,
        "backend_reason": reason,
        "image_size": [int(pixels.shape[1]), int(pixels.shape[0])],
        **details,
        "inference_seconds": round(inference, 4),
        "seconds": round(time.perf_counter() - start, 4),
    }
    return Segmentation(alpha=alpha, backend=chosen.name, warnings=warnings, details=details)


def choose_backend(
    pixels: NDArray[np.uint8], *, has_alpha: bool, backend: str = "auto"
) -> tuple[SegmentBackend, str]:
    """The backend to run and why (``auto``: alpha, else u2net if installed, else color-key)."""
    if backend != "auto":
        if backend == "alpha" and not has_alpha:
            raise SegmentationError(
                "the photo has no alpha channel, so it cannot be the mask",
                stage=STAGE,
                hint=ALPHA_HINT,
            )
        return get_backend(backend), "requested"
    if has_alpha and has_transparency(pixels):
        return BACKENDS["alpha"], "the photo has transparency"
    prefix = "the alpha channel has no transparent pixels; " if has_alpha else ""
    if BACKENDS["u2net"].available():
        return BACKENDS["u2net"], prefix + "u2net is installed"
    return BACKENDS["color-key"], prefix + "u2net not installed (run: meshforge models install)"


def refine(
    probability: NDArray[np.float32],
    *,
    soft: bool,
    feather_px: float = 1.0,
    backend: str = "",
) -> tuple[NDArray[np.float32], list[Notice], dict[str, Any]]:
    """The shared post-processing: (alpha of the largest object, warnings, details)."""
    import cv2

    height, width = probability.shape
    total = height * width
    binary = (probability >= 0.5).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.int64)
    largest_area = int(areas.max()) if areas.size else 0
    by = f" ({backend})" if backend else ""
    if largest_area < MIN_OBJECT_FRACTION * total:
        raise NoForegroundError(
            f"no product found in the photo{by}: the largest object covers "
            f"{largest_area / total:.2%} of it",
            stage=STAGE,
            hint=NO_FOREGROUND_HINT,
        )
    order = np.argsort(areas)[::-1]
    kept = labels == int(order[0]) + 1
    second = int(areas[order[1]]) if areas.size > 1 else 0
    objects = int((areas > SECOND_OBJECT_RATIO * largest_area).sum())
    warnings: list[Notice] = []
    if objects > 1:
        warnings.append(
            Notice(
                code="multiple-objects",
                message=(
                    f"found {objects} separate objects; kept the largest "
                    f"({largest_area / total:.1%} of the photo) and dropped the rest (the next "
                    f"is {second / largest_area:.0%} of its size). Crop the photo to one product "
                    "or pass a mask (a photo with transparency)"
                ),
                stage=STAGE,
            )
        )
    kept, holes = fill_holes(kept, max_area=HOLE_FRACTION * largest_area)
    kept_fraction = float(kept.sum()) / total
    if kept_fraction > MAX_OBJECT_FRACTION:
        raise NoForegroundError(
            f"the whole photo looks like the product{by} ({kept_fraction:.1%} of it), "
            "so there is no background to remove",
            stage=STAGE,
            hint=NO_FOREGROUND_HINT,
        )
    alpha = _soft_alpha(probability, kept, cv2) if soft else _feather(kept, feather_px, cv2)
    details = {
        "objects": objects,
        "components": int(areas.size),
        "kept_fraction": round(kept_fraction, 5),
        "second_largest_ratio": round(second / largest_area, 4),
        "holes_filled": holes,
    }
    return alpha, warnings, details


def fill_holes(mask: NDArray[np.bool_], *, max_area: float) -> tuple[NDArray[np.bool_], int]:
    """Fill enclosed background regions smaller than ``max_area`` pixels; return (mask, count)."""
    import cv2

    # 4-connected background is the complement of an 8-connected object.
    _, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    small = stats[:, cv2.CC_STAT_AREA] < max_area
    small[0] = False  # label 0 is the object itself
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    small[np.unique(border)] = False  # open to the border: background, not a hole
    if not small.any():
        return mask, 0
    return mask | small[labels], int(small.sum())


def _over_white(pixels: NDArray[np.uint8]) -> NDArray[np.uint8]:
    alpha = pixels[..., 3:4].astype(np.float32) / 255.0
    rgb = pixels[..., :3] * alpha + 255.0 * (1.0 - alpha)
    return np.dstack([np.round(rgb).astype(np.uint8), np.full(pixels.shape[:2], 255, np.uint8)])


def _feather(kept: NDArray[np.bool_], sigma: float, cv2: Any) -> NDArray[np.float32]:
    alpha = kept.astype(np.float32)
    if sigma > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return np.clip(alpha, 0.0, 1.0).astype(np.float32)


def _soft_alpha(
    probability: NDArray[np.float32], kept: NDArray[np.bool_], cv2: Any
) -> NDArray[np.float32]:
    """The backend's own soft values, near the kept object only; filled holes are opaque."""
    height, width = kept.shape
    # u2net works at 320 px, so its soft edge widens with the photo: reach ~1 % of the size.
    radius = max(3, math.ceil(0.01 * max(height, width)))
    # A distance transform is linear in pixels; dilating with a 40 px disc at 12 MP takes seconds.
    outside = cv2.distanceTransform((~kept).astype(np.uint8), cv2.DIST_L2, 3)
    near = outside <= radius
    alpha = np.where(near, np.clip(probability, 0.0, 1.0), 0.0).astype(np.float32)
    alpha[kept & (probability < 0.5)] = 1.0
    return alpha
