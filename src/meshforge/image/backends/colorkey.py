"""The ``color-key`` backend: plain or white studio backgrounds, no model weights.

0. Uniform bars along the edges (letterboxing) that differ from the content inside them are
   background; the rest of the steps run inside them.
1. Fit the background colour as a smooth (quadratic) function of position to the pixels of a band
   around the border, in Lab, rejecting outliers: this follows studio gradients and vignetting.
2. Pixels far (in Delta E) from that model are probable foreground, the rest probable background;
   border-band pixels that match the model are certain background.
3. cv2.grabCut refines that on a copy downscaled to <= 512 px. Scaled back up, the staircase
   edge is re-decided at full resolution from each pixel's distance to the background model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.errors import NoForegroundError, SegmentationError

_WORK_SIZE = 512  # grabCut is O(pixels x iterations); 512 px keeps it well under a second
_BAND = 0.03  # border band width, as a fraction of the shorter side
_MIN_DELTA_E = 10.0  # a foreground pixel differs from the background by at least this much
_ITERATIONS = 4
_MAX_THRESHOLD = 40.0  # a background this noisy along the border is a scene, not a studio backdrop
_BAR_TOLERANCE = 8  # grey levels: a letterbox bar is one flat colour (JPEG noise aside)
_BAR_CONTRAST = 24  # ... and differs this much from the content next to it

NO_CONTRAST_HINT = (
    "photograph the product on a contrasting plain background, use --segmenter u2net "
    "(meshforge models install), or pass a photo with transparency"
)


@dataclass(frozen=True)
class BackgroundModel:
    """Lab background colour as a quadratic in normalised (x, y), and the foreground threshold."""

    coef: NDArray[np.float64]
    threshold: float

    def distance(
        self, lab: NDArray[np.float32], ys: NDArray[np.float32], xs: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        """Delta E between ``lab`` (N x 3) and the background at normalised ``ys``, ``xs``."""
        difference = lab - _design(ys, xs) @ self.coef
        return np.asarray(np.linalg.norm(difference, axis=-1), dtype=np.float32)


def _design(ys: NDArray[np.float32], xs: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=-1)


def _grid(height: int, width: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return ys / max(height - 1, 1) * 2 - 1, xs / max(width - 1, 1) * 2 - 1


def fit_background(lab: NDArray[np.float32], band: NDArray[np.bool_]) -> BackgroundModel:
    """Fit the background robustly to the pixels under ``band``."""
    ys, xs = _grid(*lab.shape[:2])
    design, samples = _design(ys[band], xs[band]), lab[band]
    # Start from the samples near the median colour, so a product touching the border does not
    # drag the first fit; then refit, dropping samples the surface does not explain.
    residual = np.linalg.norm(samples - np.median(samples, axis=0), axis=1)
    keep = residual <= max(float(np.median(residual)) * 3, 15.0)
    for _ in range(3):
        coef, *_ = np.linalg.lstsq(design[keep], samples[keep], rcond=None)
        residual = np.linalg.norm(samples - design @ coef, axis=1)
        keep = residual <= max(4 * 1.4826 * float(np.median(residual[keep])), 3.0)
    # The threshold rises with the background's own noise (JPEG, texture, grain).
    threshold = max(_MIN_DELTA_E, 3.0 * float(np.percentile(residual[keep], 95)))
    return BackgroundModel(coef=coef.astype(np.float64), threshold=threshold)


@dataclass(frozen=True)
class ColorKeyBackend:
    name: str = "color-key"
    soft: bool = False

    def available(self) -> bool:
        return True

    def probability(self, pixels: NDArray[np.uint8]) -> NDArray[np.float32]:
        import cv2

        full = np.ascontiguousarray(pixels[..., :3])
        top, bottom, left, right = _bars(full)
        rgb = np.ascontiguousarray(full[top : full.shape[0] - bottom, left : full.shape[1] - right])
        height, width = rgb.shape[:2]
        scale = min(1.0, _WORK_SIZE / max(height, width))
        small = rgb
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), np.uint8)
        mask, model = _grabcut(small, cv2)
        fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.float32)
        if scale < 1.0:
            fg = np.asarray(cv2.resize(fg, (width, height), interpolation=cv2.INTER_LINEAR))
            _refine_edge(fg, rgb, model, cv2)
        result = np.zeros(full.shape[:2], dtype=np.float32)
        result[top : top + height, left : left + width] = np.clip(fg, 0.0, 1.0)
        return result


def _bars(rgb: NDArray[np.uint8]) -> tuple[int, int, int, int]:
    """Rows/columns of letterbox bars at the top, bottom, left and right."""
    columns = rgb.transpose(1, 0, 2)
    top, bottom, left, right = (
        _bar_width(side) for side in (rgb, rgb[::-1], columns, columns[::-1])
    )
    return top, bottom, left, right


def _bar_width(lines: NDArray[np.uint8]) -> int:
    """How many leading lines (rows of ``lines``) form one flat bar unlike what follows."""
    colour = np.median(lines[0], axis=0)
    limit = len(lines) // 3
    count = 0
    # Line by line: bars are thin, and a whole-image difference would cost gigabytes at 40 MP.
    while count <= limit and np.abs(lines[count] - colour).max() <= _BAR_TOLERANCE:
        count += 1
    if count == 0 or count > limit:
        return 0
    inside = np.median(lines[count], axis=0)
    return count if float(np.abs(inside - colour).max()) >= _BAR_CONTRAST else 0


def _lab(rgb: NDArray[np.uint8], cv2: Any) -> NDArray[np.float32]:
    return np.asarray(cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab))


def _grabcut(rgb: NDArray[np.uint8], cv2: Any) -> tuple[NDArray[np.uint8], BackgroundModel]:
    height, width = rgb.shape[:2]
    lab = _lab(rgb, cv2)
    band_px = max(2, round(_BAND * min(height, width)))
    band = np.ones((height, width), dtype=bool)
    band[band_px:-band_px, band_px:-band_px] = False
    model = fit_background(lab, band)
    if model.threshold > _MAX_THRESHOLD:
        raise SegmentationError(
            "color-key needs a plain background, but this one varies by about "
            f"{model.threshold / 3:.0f} Delta E along the border",
            stage="segment",
            hint=NO_CONTRAST_HINT,
        )
    distance = model.distance(lab, *_grid(height, width))
    probable = distance > model.threshold
    if probable.sum() < max(16, 1e-4 * height * width):
        raise NoForegroundError(
            "color-key found nothing that differs enough from the background colour "
            f"(largest difference {distance.max():.1f} Delta E, needed {model.threshold:.1f}; "
            "white on white?)",
            stage="segment",
            hint=NO_CONTRAST_HINT,
        )
    mask = np.full((height, width), cv2.GC_PR_BGD, dtype=np.uint8)
    mask[probable] = cv2.GC_PR_FGD
    mask[band & ~probable] = cv2.GC_BGD
    if (mask != cv2.GC_PR_FGD).sum() < 0.005 * height * width:
        return mask, model  # no background left to model: post-processing reports it
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(rgb, mask, None, bgd_model, fgd_model, _ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error as exc:
        raise SegmentationError(
            f"color-key refinement (grabCut) failed: {exc}", stage="segment", hint=NO_CONTRAST_HINT
        ) from exc
    return mask, model


def _refine_edge(
    fg: NDArray[np.float32], rgb: NDArray[np.uint8], model: BackgroundModel, cv2: Any
) -> None:
    """Re-decide the upsampled edge pixels at full resolution, in place.

    Clearly off-background pixels become foreground, clearly background-coloured ones become
    background; the ambiguous rest keep the interpolated value.
    """
    rows, cols = np.nonzero((fg > 0.01) & (fg < 0.99))
    if rows.size == 0:
        return
    height, width = fg.shape
    lab = _lab(rgb[rows, cols][None], cv2)[0]
    ys = rows.astype(np.float32) / max(height - 1, 1) * 2 - 1
    xs = cols.astype(np.float32) / max(width - 1, 1) * 2 - 1
    distance = model.distance(lab, ys, xs)
    values = fg[rows, cols]
    values[distance > model.threshold] = 1.0
    values[distance < 0.5 * model.threshold] = 0.0
    fg[rows, cols] = values
