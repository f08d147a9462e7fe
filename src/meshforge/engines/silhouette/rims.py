"""Rim ellipses of a can or jar seen from above, and the camera elevation they imply.

A level circle seen from a camera whose ray to its centre descends by ``alpha`` projects, up to
perspective, to an ellipse whose minor/major ratio is ``sin(alpha)``. The outline's top is the
upper half of the top rim's ellipse, its bottom the lower half of the bottom rim's: the rows'
half-widths there follow ``a * sqrt(1 - (1 - t / b) ** 2)`` (``t`` rows from the end) and stay at
``a`` past the ellipse's centre (up to a linear taper: perspective). ``fit_rim`` fits ``a`` and
``b`` over the end half of the rows and accepts the fit only when it is clear (small residual,
a straight body beyond it, ``b`` at least 2 px and 3 % of ``a``): a bottle's neck or a level view
give none.

The ray to a rim's centre row ``v`` leaves the optical axis by ``theta = atan((cy - v) / f)``
(up positive); with the camera ``e`` above, it descends by ``e - theta``. The bottom rim is seen
from above (``e = theta + alpha``); the top rim from above or, for a tall can close by, from below
(``e = theta - alpha``): with both rims found the sign nearer the bottom's estimate is taken and
the two are averaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from meshforge.engines.silhouette.symmetry import RowProfile

FloatArray = NDArray[np.float64]

RIM_WINDOW = 0.5  # fraction of the rows, from each end, the rim fit looks at
MAX_RIM_RESIDUAL = 0.02  # RMS of the fit, relative to the half-width a
MIN_RIM_PX = 2.0
MIN_RIM_RATIO = 0.03
MAX_RIM_RATIO = 0.8


@dataclass
class Rim:
    """A rim's ellipse: half-axes (px), its centre row and the view angle it implies."""

    a: float
    b: float
    centre_row: float
    residual: float

    @property
    def view_deg(self) -> float:
        return math.degrees(math.asin(min(self.b / self.a, 1.0)))


def fit_rim(half_width: FloatArray, edge_row: float, *, from_top: bool) -> Rim | None:
    """The rim ellipse at one end of the outline (rows ordered top to bottom), or None."""
    n = len(half_width)
    w = np.asarray(half_width if from_top else half_width[::-1], dtype=np.float64)
    m = int(RIM_WINDOW * n)
    if m < 6:
        return None
    w = w[:m]
    t = np.arange(m) + 0.5  # row centres measured from the outline's end
    best: tuple[float, float, float] | None = None
    for b in np.linspace(1.0, 0.9 * m, 200):
        g = np.sqrt(np.clip(t * (2 * b - t), 0.0, None)) / b
        g[t > b] = 1.0
        # The body beyond the rim may taper a little (perspective): a linear term there.
        design = np.column_stack([g, np.maximum(t - b, 0.0)])
        coef = np.linalg.lstsq(design, w, rcond=None)[0]
        a = float(coef[0])
        err = float(np.sqrt(np.mean((w - design @ coef) ** 2)))
        if best is None or err < best[2]:
            best = (a, float(b), err)
    assert best is not None
    a, b, err = best
    if a <= 0 or err / a > MAX_RIM_RESIDUAL or b < MIN_RIM_PX:
        return None
    if not MIN_RIM_RATIO <= b / a <= MAX_RIM_RATIO or b > 0.75 * m:
        return None
    centre = edge_row + b if from_top else edge_row - b
    return Rim(a=a, b=b, centre_row=centre, residual=err / a)


@dataclass
class RimFit:
    top: Rim | None
    bottom: Rim | None
    elevation_deg: float
    how: str


def estimate_elevation(profile: RowProfile, focal: float, centre_row: float) -> RimFit | None:
    """Both rims and the camera's elevation, or None when no clear rim is seen."""
    half = profile.half_width
    top_edge = float(profile.top)
    bottom_edge = top_edge + len(half)
    top = fit_rim(half, top_edge, from_top=True)
    bottom = fit_rim(half, bottom_edge, from_top=False)

    def theta(row: float) -> float:
        return math.degrees(math.atan((centre_row - row) / focal))

    estimates: list[float] = []
    parts: list[str] = []
    if bottom is not None:
        e_bottom = theta(bottom.centre_row) + bottom.view_deg
        estimates.append(e_bottom)
        parts.append(f"bottom rim b/a {bottom.b / bottom.a:.3f} -> {e_bottom:.1f}")
    if top is not None:
        above = theta(top.centre_row) + top.view_deg
        below = theta(top.centre_row) - top.view_deg
        e_top = above
        if estimates and abs(below - estimates[0]) < abs(above - estimates[0]):
            e_top = below
        estimates.append(e_top)
        parts.append(f"top rim b/a {top.b / top.a:.3f} -> {e_top:.1f}")
    if not estimates:
        return None
    elevation = float(np.mean(estimates))
    if not 2.0 <= elevation <= 60.0:
        return None
    how = "rim ellipses (minor/major = sin of the view angle, perspective-corrected): "
    return RimFit(top=top, bottom=bottom, elevation_deg=elevation, how=how + "; ".join(parts))
