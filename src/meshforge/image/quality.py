"""Input checks that warn, never fail: a soft photo, a subject lost in its background, a subject
cut by the frame. Each check is a plain function returning a number; ``check_quality`` turns the
numbers into :class:`~meshforge.transforms.base.Notice` objects for the ``check`` stage.

Blur and contrast are measured on the subject's bounding box (plus a margin) scaled down so its
longer side is at most ``WORK_SIZE`` px, so a score means "sharp / distinct with the subject at
512 px" and barely depends on the photo's resolution. Never upscaled: that would make small, sharp
subjects look soft. The thresholds were measured on the renders and photos of the evaluation set
(the numbers are next to each constant).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from meshforge.image.distance import nearest_source
from meshforge.transforms.base import Notice

STAGE = "check"
WORK_SIZE = 512
# Variance of the Laplacian (grey 0..255, 4-neighbour kernel) inside the subject at WORK_SIZE.
# Measured on the 27 evaluation renders and photos: sharp 19.7 (a plain banana) to 34,000, median
# 586; blurred with a 4 px Gaussian 0.8 to 5.5; 2 px 1.6 to 34 (17 of 27 below 12); 4 px and then
# JPEG quality 70, 2.4 to 15.9 (25 of 27 below 12: block edges read as detail). 12 sits between the
# sharp and the 4 px groups, a factor 1.6 and 2 from each. Sensor noise adds about 20 x its
# variance, so a very noisy soft photo can pass.
BLUR_THRESHOLD = 12.0
# Median CIE76 colour difference between pixels just inside the outline and the nearest pixels just
# outside. Evaluation set: 19.9 (a grey model on white) to 97. 10 is a light grey (L* 90) on white;
# a (240, 240, 240) box on white measures 5.4.
CONTRAST_THRESHOLD = 10.0
# Fraction of the subject's outline on the image border, and of one side's length covered. The
# evaluation renders touch nothing; a microphone photo whose stand grazes the bottom edge measures
# 0.9% / 1.4% (no warning); a tightly cropped headphone photo 20% / 26% (warning).
CONTACT_OUTLINE_THRESHOLD = 0.02
CONTACT_SIDE_THRESHOLD = 0.05
ERODE_PX = 2  # keeps the blur measure off the soft mask edge and the background
RING_GAP_PX = 2  # skips the anti-aliased pixels on the edge itself
RING_WIDTH_PX = 6
MIN_REGION_PX = 64  # fewer pixels than this and a score means nothing: no score, no warning

# The subject crop at WORK_SIZE and its 0/1 mask.
_View = tuple[NDArray[np.uint8], NDArray[np.uint8]]


@dataclass(frozen=True)
class BorderContact:
    """How much of the subject lies on the image border (fractions 0..1)."""

    outline: float
    top: float
    bottom: float
    left: float
    right: float

    @property
    def worst_side(self) -> tuple[str, float]:
        sides = {"top": self.top, "bottom": self.bottom, "left": self.left, "right": self.right}
        name = max(sides, key=lambda k: sides[k])
        return name, sides[name]


def check_quality(rgb: NDArray[np.uint8], alpha: NDArray[np.floating]) -> list[Notice]:
    """Warnings about the photo ``rgb`` (H x W x 3) given the subject's soft mask ``alpha`` (0..1).

    ``rgb`` should show the real background: for a cut-out that came with its own alpha the
    contrast check compares the subject with whatever colour lies under the transparent pixels.
    """
    notices: list[Notice] = []
    view = _subject_view(rgb, alpha)  # shared by the blur and contrast checks
    sharpness = _blur_score(view)
    if sharpness is not None and sharpness < BLUR_THRESHOLD:
        notices.append(
            Notice(
                "blur",
                f"the subject looks out of focus (sharpness {sharpness:.1f}, below "
                f"{BLUR_THRESHOLD:g}); textures and edges will be soft. Retake the photo in "
                "focus, with the camera steady and the product well lit",
                STAGE,
            )
        )
    contrast = _edge_contrast(view)
    if contrast is not None and contrast < CONTRAST_THRESHOLD:
        notices.append(
            Notice(
                "low-contrast",
                f"the subject is hard to tell from its background (colour difference "
                f"{contrast:.1f} along its outline, below {CONTRAST_THRESHOLD:g}); the cut-out "
                "may be wrong. Photograph it against a background of a clearly different colour",
                STAGE,
            )
        )
    contact = border_contact(alpha)
    side, covered = contact.worst_side
    if contact.outline > CONTACT_OUTLINE_THRESHOLD or covered > CONTACT_SIDE_THRESHOLD:
        notices.append(
            Notice(
                "subject-cropped",
                f"the subject runs off the {side} edge of the photo ({covered:.0%} of that edge, "
                f"{contact.outline:.0%} of its outline); the hidden part will be guessed. Step "
                "back or zoom out so the whole product is in the frame with a margin",
                STAGE,
            )
        )
    return notices


def blur_score(rgb: NDArray[np.uint8], alpha: NDArray[np.floating]) -> float | None:
    """Variance of the Laplacian of the grey image inside the slightly eroded subject.

    Higher is sharper; None when the subject is too small to measure.
    """
    return _blur_score(_subject_view(rgb, alpha))


def _blur_score(view: _View | None) -> float | None:
    if view is None:
        return None
    crop, mask = view
    grey = cv2.cvtColor(crop.astype(np.float32), cv2.COLOR_RGB2GRAY)
    laplacian = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)
    inside = cv2.erode(mask, _disk(ERODE_PX)).astype(bool)
    if np.count_nonzero(inside) < MIN_REGION_PX:
        return None
    return float(np.var(laplacian[inside], dtype=np.float64))


def edge_contrast(rgb: NDArray[np.uint8], alpha: NDArray[np.floating]) -> float | None:
    """Median CIE76 difference (Lab) between each pixel of a thin ring just inside the outline and
    the nearest pixel of a ring just outside it.

    Pairing neighbours, not comparing mean colours, keeps a product that is half dark, half light
    on a mid-grey background from looking invisible. None when either ring is too small.
    """
    return _edge_contrast(_subject_view(rgb, alpha))


def _edge_contrast(view: _View | None) -> float | None:
    if view is None:
        return None
    crop, mask = view
    near, far = _disk(RING_GAP_PX), _disk(RING_GAP_PX + RING_WIDTH_PX)
    inner = cv2.erode(mask, near).astype(bool) & ~cv2.erode(mask, far).astype(bool)
    outer = cv2.dilate(mask, far).astype(bool) & ~cv2.dilate(mask, near).astype(bool)
    if np.count_nonzero(inner) < MIN_REGION_PX or np.count_nonzero(outer) < MIN_REGION_PX:
        return None
    lab = cv2.cvtColor(crop.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    ny, nx = nearest_source(outer)
    iy, ix = np.nonzero(inner)
    diff = lab[iy, ix] - lab[ny[iy, ix], nx[iy, ix]]
    return float(np.median(np.linalg.norm(diff, axis=1)))


def border_contact(alpha: NDArray[np.floating]) -> BorderContact:
    """The share of the subject's outline (alpha > 0.5) on the image border, and of each side."""
    mask = _binary(alpha)
    height, width = mask.shape
    # Eroding with a zero border makes mask pixels on the image edge part of the outline.
    eroded = cv2.erode(mask, _disk(1), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    perimeter = int(np.count_nonzero(mask.astype(bool) & ~eroded.astype(bool)))
    top, bottom = int(np.count_nonzero(mask[0])), int(np.count_nonzero(mask[-1]))
    left, right = int(np.count_nonzero(mask[:, 0])), int(np.count_nonzero(mask[:, -1]))
    touching = top + bottom + left + right
    return BorderContact(
        outline=min(1.0, touching / perimeter) if perimeter else 0.0,
        top=top / width,
        bottom=bottom / width,
        left=left / height,
        right=right / height,
    )


def _subject_view(rgb: NDArray[np.uint8], alpha: NDArray[np.floating]) -> _View | None:
    """The subject's box plus a margin, scaled down to WORK_SIZE: (rgb crop, 0/1 mask)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[:2] != alpha.shape:
        raise ValueError(f"expected H x W x 3 rgb and H x W alpha, got {rgb.shape}, {alpha.shape}")
    mask = _binary(alpha)
    if np.count_nonzero(mask) < MIN_REGION_PX:
        return None
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    scale = min(1.0, WORK_SIZE / max(y1 - y0, x1 - x0))
    margin = int(np.ceil((RING_GAP_PX + RING_WIDTH_PX + 4) / scale))
    y0, x0 = max(0, y0 - margin), max(0, x0 - margin)
    y1, x1 = min(mask.shape[0], y1 + margin), min(mask.shape[1], x1 + margin)
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    soft = np.ascontiguousarray(alpha[y0:y1, x0:x1], dtype=np.float32)
    if scale < 1.0:
        size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
        crop = np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        soft = np.asarray(cv2.resize(soft, size, interpolation=cv2.INTER_AREA), dtype=np.float32)
    return crop, _binary(soft)


def _binary(alpha: NDArray[np.floating]) -> NDArray[np.uint8]:
    if alpha.ndim != 2:
        raise ValueError(f"alpha must be H x W, got shape {alpha.shape}")
    return (np.asarray(alpha) > 0.5).astype(np.uint8)


def _disk(radius: int) -> NDArray[np.uint8]:
    size = 2 * radius + 1
    return np.asarray(cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)), dtype=np.uint8)


__all__ = [
    "BLUR_THRESHOLD",
    "CONTACT_OUTLINE_THRESHOLD",
    "CONTACT_SIDE_THRESHOLD",
    "CONTRAST_THRESHOLD",
    "BorderContact",
    "blur_score",
    "border_contact",
    "check_quality",
    "edge_contrast",
]
