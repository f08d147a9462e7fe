"""Rim ellipses of a can or jar seen from above: the camera's elevation and the cross-section's
depth/width aspect they imply.

A level rim whose cross-section is ``k`` times as deep (along the view) as it is wide, seen from
a camera whose ray to its centre descends by ``alpha``, projects, up to perspective, to an ellipse
whose minor/major ratio is ``k * sin(alpha)`` (``k = 1``: round). The outline's top is the upper
half of the top rim's ellipse, its bottom the lower half of the bottom rim's: the rows'
half-widths there follow ``a * sqrt(1 - (1 - u / b) ** 2)`` (``u`` rows from the ellipse's apex,
which lies within a row of the outline's end row) and stay at ``a`` past the ellipse's centre (up
to a linear taper: perspective). ``fit_rim`` fits ``a``, ``b`` and the apex over the end half of
the rows and accepts the fit only when it is clear (small residual, a straight body beyond it,
``b`` at least 2 px and 3 % of ``a``): a bottle's neck or a level view give none.

The ray to a rim's centre row ``v`` leaves the optical axis by ``theta = atan((cy - v) / f)``
(up positive); with the camera ``e`` above, it descends by ``e - theta``. The bottom rim is seen
from above (``e = theta + alpha``); the top rim from above or, for a tall can close by, from below
(``e = theta - alpha``).

Elevation, assuming a round section: each rim gives ``e``; with both, the top's sign nearer the
bottom's estimate is taken and the two are averaged.

Aspect: both rims give ``r_top = k sin(e - theta_top)`` (sign flipped when seen from below) and
``r_bottom = k sin(e - theta_bottom)``: two samples of one sinusoid ``delta = theta_top -
theta_bottom`` apart, so ``k = sqrt(r_b^2 + r_t^2 - 2 r_b r_t cos delta) / sin delta`` and
``e`` follows in closed form. The top's two signs give two solutions; the one whose elevation is
nearer the body's taper is taken (the sides are vertical lines, which converge on the vertical
vanishing point ``f / tan(e)`` below the principal point), else the one nearer round. Errors:
each ``b`` is uncertain by ``hypot(EDGE_PX, fit RMS)`` (the outline's end row is quantised to a
pixel; the RMS covers what the model misses) and each ratio by ``MODEL_RATIO_SIGMA`` more (real
rims are bevelled, and perspective bends the ``k sin(alpha)`` law), propagated to ``k``. The
aspect's uncertainty is two of those standard deviations; ``k`` is kept only when it differs
from 1 by more, and the system is ill-conditioned (a long lens, a short can: ``delta`` small)
when one standard deviation exceeds ``MAX_ASPECT_SIGMA`` of ``k``: then ``k = 1`` and the round
elevation stand. A well-conditioned pair gives the elevation even when ``k`` is kept at 1.
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
# Half a row: how far the outline's end row may sit from the ellipse's apex, so the least error
# of a fitted b. On rendered cylinders at 40 degrees the fitted b is within 1.1 px of the exact
# projection, and within 1.7 * hypot(EDGE_PX, RMS).
EDGE_PX = 0.5
# Real rims are not sharp circles: a rolled seam or a bevelled base rounds the outline's corners
# and the ellipse that fits reads more open (the benchmark's round tomato soup can, 10 degrees
# above: its bottom rim's b/a is 0.44 where a sharp rim gives 0.37, +20 %). That error is as
# large as the ratio's and does not show in the fit's RMS, so every ratio carries 10 % on top
# (which also covers the k sin(alpha) law ignoring perspective: up to 2.3 % at 40 degrees).
MODEL_RATIO_SIGMA = 0.1
MAX_ASPECT_SIGMA = 0.15  # relative: beyond it the two rims cannot tell the aspect
MIN_ASPECT, MAX_ASPECT = 0.25, 4.0
TAPER_MARGIN = 0.15  # fraction of the span between the rims' centres left out at each end
MIN_TAPER_ROWS = 10
MAX_TAPER_RESIDUAL = 0.01  # RMS of the sides' straight line, relative to the half-width


@dataclass
class Rim:
    """A rim's ellipse: half-axes (px), its centre row, the fit's relative RMS and b's error."""

    a: float
    b: float
    centre_row: float
    residual: float
    b_sigma: float = EDGE_PX

    @property
    def ratio(self) -> float:
        return self.b / self.a

    @property
    def ratio_sigma(self) -> float:
        """The ratio's error: the fit's, and the model's (``MODEL_RATIO_SIGMA``)."""
        return math.hypot(self.b_sigma / self.a, MODEL_RATIO_SIGMA * self.ratio)

    @property
    def view_deg(self) -> float:
        """The view angle for a round rim."""
        return math.degrees(math.asin(min(self.ratio, 1.0)))


def _rim_errors(t: FloatArray, w: FloatArray, b: FloatArray, t0: FloatArray) -> FloatArray:
    """RMS of the best ``a * ellipse + taper`` for every (b, apex) pair, and its ``a``."""
    u = t[None, :] - t0[:, None]
    bb = b[:, None]
    g = np.where(u < bb, np.sqrt(np.clip(u * (2 * bb - u), 0.0, None)) / bb, 1.0)
    h = np.maximum(u - bb, 0.0)
    # The 2x2 normal equations of (a, taper), solved for all pairs at once.
    sgg, sgh, shh = (g * g).sum(1), (g * h).sum(1), (h * h).sum(1)
    sgw, shw = g @ w, h @ w
    det = sgg * shh - sgh**2
    flat = det <= 1e-9 * np.maximum(sgg * shh, 1e-12)  # no row past the rim: no taper term
    safe = np.where(flat, 1.0, det)
    a = np.where(flat, sgw / np.maximum(sgg, 1e-12), (shh * sgw - sgh * shw) / safe)
    s = np.where(flat, 0.0, (sgg * shw - sgh * sgw) / safe)
    r = w[None, :] - a[:, None] * g - s[:, None] * h
    return np.asarray(np.stack([np.sqrt(np.mean(r**2, axis=1)), a]), dtype=np.float64)


def fit_rim(half_width: FloatArray, edge_row: float, *, from_top: bool) -> Rim | None:
    """The rim ellipse at one end of the outline (rows ordered top to bottom), or None."""
    n = len(half_width)
    w = np.asarray(half_width if from_top else half_width[::-1], dtype=np.float64)
    m = int(RIM_WINDOW * n)
    if m < 6:
        return None
    w = w[:m]
    t = np.arange(m, dtype=np.float64) + 0.5  # row centres measured from the outline's end
    # A coarse grid of b and the apex (within a row of the end row), then finer ones around the
    # best: b to a few hundredths of a pixel.
    b_step, t0_step = 0.9 * m / 199, 0.25
    b_grid, t0_grid = np.meshgrid(np.linspace(1.0, 0.9 * m, 200), np.linspace(-1, 1, 9))
    b_try = np.asarray(b_grid.ravel(), dtype=np.float64)
    t0_try = np.asarray(t0_grid.ravel(), dtype=np.float64)
    for _ in range(5):
        err, a_fit = _rim_errors(t, w, b_try, t0_try)
        i = int(np.argmin(err))
        b, t0 = float(b_try[i]), float(t0_try[i])
        b_grid, t0_grid = np.meshgrid(
            np.linspace(b - b_step, b + b_step, 11), np.linspace(t0 - t0_step, t0 + t0_step, 11)
        )
        b_try = np.asarray(np.maximum(b_grid.ravel(), 0.5), dtype=np.float64)
        t0_try = np.asarray(t0_grid.ravel(), dtype=np.float64)
        b_step, t0_step = b_step / 5, t0_step / 5
    rms, a = float(err[i]), float(a_fit[i])
    if a <= 0 or rms / a > MAX_RIM_RESIDUAL or b < MIN_RIM_PX:
        return None
    if not MIN_RIM_RATIO <= b / a <= MAX_RIM_RATIO or b > 0.75 * m:
        return None
    centre = edge_row + t0 + b if from_top else edge_row - t0 - b
    return Rim(a=a, b=b, centre_row=centre, residual=rms / a, b_sigma=math.hypot(EDGE_PX, rms))


@dataclass
class RimFit:
    """The rims found, the elevation and aspect they give, and how each was obtained.

    ``aspect`` is the cross-section's depth/width (1: round, assumed unless measured);
    ``aspect_measured`` the two-rim estimate before that decision (None with fewer than two
    rims) and ``aspect_uncertainty`` its two-standard-deviation error.
    """

    top: Rim | None
    bottom: Rim | None
    elevation_deg: float
    how: str
    aspect: float = 1.0
    aspect_how: str = "assumed round"
    aspect_measured: float | None = None
    aspect_uncertainty: float | None = None
    taper_elevation_deg: float | None = None


@dataclass
class _Aspect:
    k: float
    elevation_deg: float
    sigma: float
    from_below: bool


def _two_rim_solutions(
    top: Rim, bottom: Rim, theta_top: float, theta_bottom: float
) -> list[_Aspect]:
    """(k, e) for the top seen from above and from below; angles in radians."""
    delta = theta_top - theta_bottom
    rb, sb = bottom.ratio, bottom.ratio_sigma
    out: list[_Aspect] = []
    if delta <= 1e-6:
        return out
    for below in (False, True):
        rt = -top.ratio if below else top.ratio
        k = math.sqrt(max(rb * rb + rt * rt - 2 * rb * rt * math.cos(delta), 0.0)) / math.sin(delta)
        if k <= 0:
            continue
        beta = math.atan2(rb * math.sin(delta), rb * math.cos(delta) - rt)  # bottom's view angle
        # dk/dr_t and dk/dr_b of the closed form; r_t's sign flips with the branch.
        sin2 = k * math.sin(delta) ** 2
        dk_t = (rt - rb * math.cos(delta)) / sin2
        dk_b = (rb - rt * math.cos(delta)) / sin2
        sigma = math.hypot(dk_t * top.ratio_sigma, dk_b * sb)
        elevation = math.degrees(beta + theta_bottom)
        out.append(_Aspect(k=k, elevation_deg=elevation, sigma=sigma, from_below=below))
    return out


def taper_elevation(
    profile: RowProfile, focal: float, centre_row: float, top_row: float, bottom_row: float
) -> float | None:
    """The elevation from the body's straight sides converging downwards, or None."""
    span = bottom_row - top_row
    rows = profile.rows
    body = (rows > top_row + TAPER_MARGIN * span) & (rows < bottom_row - TAPER_MARGIN * span)
    if body.sum() < MIN_TAPER_ROWS:
        return None
    half = profile.half_width[body]
    slope, level = (float(c) for c in np.polyfit(rows[body], half, 1))
    rms = float(np.sqrt(np.mean((half - (level + slope * rows[body])) ** 2)))
    if slope >= 0 or rms > MAX_TAPER_RESIDUAL * float(half.mean()):
        return None
    vanishing = -level / slope  # the row where the sides meet: f / tan(e) below the centre
    return math.degrees(math.atan2(focal, vanishing - centre_row))


def estimate_elevation(profile: RowProfile, focal: float, centre_row: float) -> RimFit | None:
    """Both rims, the camera's elevation and the cross-section's aspect, or None when no clear
    rim is seen."""
    half = profile.half_width
    top_edge = float(profile.top)
    bottom_edge = top_edge + len(half)
    top = fit_rim(half, top_edge, from_top=True)
    bottom = fit_rim(half, bottom_edge, from_top=False)

    def theta(row: float) -> float:
        return math.atan((centre_row - row) / focal)

    estimates: list[float] = []
    parts: list[str] = []
    if bottom is not None:
        e_bottom = math.degrees(theta(bottom.centre_row)) + bottom.view_deg
        estimates.append(e_bottom)
        parts.append(f"bottom rim b/a {bottom.ratio:.3f} -> {e_bottom:.1f}")
    if top is not None:
        above = math.degrees(theta(top.centre_row)) + top.view_deg
        below = math.degrees(theta(top.centre_row)) - top.view_deg
        e_top = above
        if estimates and abs(below - estimates[0]) < abs(above - estimates[0]):
            e_top = below
        estimates.append(e_top)
        parts.append(f"top rim b/a {top.ratio:.3f} -> {e_top:.1f}")
    if not estimates:
        return None
    elevation = float(np.mean(estimates))
    how = "rim ellipses (minor/major = sin of the view angle, perspective-corrected): "
    fit = RimFit(top=top, bottom=bottom, elevation_deg=elevation, how=how + "; ".join(parts))
    if top is None or bottom is None:
        fit.aspect_how = "assumed round: only one rim seen, which cannot separate aspect and view"
    else:
        angles = (theta(top.centre_row), theta(bottom.centre_row))
        _measure_aspect(fit, top, bottom, angles, profile, focal, centre_row)
    if not 2.0 <= fit.elevation_deg <= 60.0:
        return None
    return fit


def _measure_aspect(
    fit: RimFit,
    top: Rim,
    bottom: Rim,
    angles: tuple[float, float],
    profile: RowProfile,
    focal: float,
    centre_row: float,
) -> None:
    """Fill in the aspect (and, when it is kept, the joint elevation) from both rims; ``angles``
    are the rims' centre rays (radians, up positive)."""
    t_top, t_bottom = angles
    taper = taper_elevation(profile, focal, centre_row, top.centre_row, bottom.centre_row)
    fit.taper_elevation_deg = taper
    solutions = _two_rim_solutions(top, bottom, t_top, t_bottom)
    if not solutions:
        fit.aspect_how = "assumed round: the rims' centre rays coincide"
        return
    if taper is not None:
        pick = min(solutions, key=lambda s: abs(s.elevation_deg - taper))
        chose = f"the top seen from {'below' if pick.from_below else 'above'} (taper {taper:.1f})"
    else:
        pick = min(solutions, key=lambda s: abs(math.log(s.k)))
        chose = f"the top seen from {'below' if pick.from_below else 'above'} (nearer round)"
    fit.aspect_measured, fit.aspect_uncertainty = pick.k, 2 * pick.sigma
    delta = math.degrees(t_top - t_bottom)
    measured = (
        f"two rims {delta:.1f} deg apart: aspect {pick.k:.3f} +- {2 * pick.sigma:.3f}"
        f" at elevation {pick.elevation_deg:.1f}, {chose}"
    )
    if pick.sigma > MAX_ASPECT_SIGMA * pick.k:
        fit.aspect_how = f"assumed round: ill-conditioned, {measured}"
    elif not MIN_ASPECT <= pick.k <= MAX_ASPECT or not 2.0 <= pick.elevation_deg <= 60.0:
        fit.aspect_how = f"assumed round: implausible, {measured}"
    else:
        # The joint elevation stands either way: a bias both ratios share moves k, not e, and an
        # edge-on top rim pins e whatever the bottom's bevel does to its ratio.
        fit.elevation_deg = pick.elevation_deg
        fit.how = (
            "rim ellipses (minor/major = aspect * sin of the view angle, both rims solved"
            f" together): {measured}"
        )
        if abs(pick.k - 1.0) <= 2 * pick.sigma:
            fit.aspect_how = f"round within the uncertainty: {measured}"
        else:
            fit.aspect = pick.k
            fit.aspect_how = f"measured: {measured}"
