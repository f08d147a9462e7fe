"""The protocol's metrics as plain functions over arrays (PROTOCOL.md section 5).

Geometry: area-uniform surface samples, chamfer L1, F-score at 0.05 and 0.1, volume IoU from the
generalised winding number (libigl, ``pip install 'meshforge[bench]'``). Images: silhouette IoU,
PSNR (100 for identical images) and SSIM (Gaussian window, per channel, border cropped).
scipy and libigl are imported inside the functions that need them.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.errors import DependencyError
from meshforge.evaluate.protocol import (
    FSCORE_TAUS,
    SAMPLE_SEED,
    SURFACE_SAMPLES,
    VOXEL_HALF_RANGE,
    VOXEL_RES,
    WINDING_THRESHOLD,
)

__all__ = [
    "SSIM_K1",
    "SSIM_K2",
    "SSIM_SIGMA",
    "SSIM_TRUNCATE",
    "chamfer_fscore",
    "grid_points",
    "iou",
    "occupancy",
    "psnr",
    "sample_surface",
    "silhouette_iou",
    "ssim",
    "volume_iou",
]

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # the window reaches int(3.5 * 1.5 + 0.5) = 5 px: an 11 x 11 Gaussian
SSIM_K1 = 0.01
SSIM_K2 = 0.03
PSNR_IDENTICAL = 100.0  # the protocol's value for identical images (mse <= 1e-10)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def sample_surface(
    vertices: FloatArray, faces: IntArray, n: int = SURFACE_SAMPLES, seed: int = SAMPLE_SEED
) -> FloatArray:
    """``n`` area-uniform points on the triangles, with the protocol's exact random recipe.

    ``default_rng(seed)`` picks triangles with probability area / total area, then draws r1 and
    r2 (n each); a point is ``(1 - sqrt r1) a + sqrt r1 (1 - r2) b + sqrt r1 r2 c``.
    """
    rng = np.random.default_rng(seed)
    corners = np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]
    edge1, edge2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    area = 0.5 * np.linalg.norm(np.cross(edge1, edge2), axis=1)
    total = float(area.sum()) if len(area) else 0.0
    if not np.isfinite(area).all() or total <= 0:
        raise ValueError("evaluate: the mesh has no surface area to sample")
    chosen = rng.choice(len(area), size=n, p=area / area.sum())
    r1, r2 = rng.random(n), rng.random(n)
    s1 = np.sqrt(r1)
    t = corners[chosen]
    return np.asarray(
        (1 - s1)[:, None] * t[:, 0]
        + (s1 * (1 - r2))[:, None] * t[:, 1]
        + (s1 * r2)[:, None] * t[:, 2],
        dtype=np.float64,
    )


def nearest_distances(points: FloatArray, targets: FloatArray) -> FloatArray:
    """Distance from every point to its nearest target (Euclidean, not squared)."""
    from scipy.spatial import cKDTree

    distances, _ = cKDTree(targets).query(points, workers=-1)
    return np.asarray(distances, dtype=np.float64)


def chamfer_fscore(
    pred: FloatArray, gt: FloatArray, taus: tuple[float, ...] = FSCORE_TAUS
) -> dict[str, float]:
    """Chamfer L1 (mean of both directions), accuracy, completeness, and per tau F, P, R."""
    d_pg = nearest_distances(pred, gt)  # accuracy: prediction -> GT
    d_gp = nearest_distances(gt, pred)  # completeness: GT -> prediction
    out = {
        "chamfer_l1": float((d_pg.mean() + d_gp.mean()) / 2),
        "accuracy": float(d_pg.mean()),
        "completeness": float(d_gp.mean()),
    }
    for tau in taus:
        p, r = float((d_pg < tau).mean()), float((d_gp < tau).mean())
        out[f"fscore@{tau:g}"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
        out[f"precision@{tau:g}"] = p
        out[f"recall@{tau:g}"] = r
    return out


def grid_points(res: int = VOXEL_RES, half: float = VOXEL_HALF_RANGE) -> FloatArray:
    """The ``res^3`` cell centres over ``[-half, half]^3``, x slowest (``indexing='ij'``)."""
    c = -half + (np.arange(res) + 0.5) * (2 * half / res)
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), axis=-1).reshape(-1, 3)


def _igl() -> Any:
    try:
        return importlib.import_module("igl")
    except ImportError as exc:
        raise DependencyError(
            "volume IoU needs libigl's fast winding number, which is not installed",
            stage="evaluate",
            hint="pip install 'meshforge[bench]'",
        ) from exc


def occupancy(vertices: FloatArray, faces: IntArray) -> BoolArray:
    """Inside flags on the grid: generalised winding number over all triangles > 0.5."""
    igl = _igl()
    w = igl.fast_winding_number(
        np.ascontiguousarray(vertices, dtype=np.float64),
        np.ascontiguousarray(faces, dtype=np.int64),
        grid_points(),
    )
    return np.asarray(np.asarray(w) > WINDING_THRESHOLD)


def iou(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    """|A and B| / |A or B|, 0 when both are empty."""
    union = int(np.logical_or(a, b).sum())
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def silhouette_iou(alpha: NDArray[np.floating], mask: NDArray[np.bool_]) -> float:
    """IoU of a render's coverage (alpha > 0.5) with a reference mask."""
    return iou(np.asarray(alpha > 0.5), mask)


def volume_iou(
    pred: tuple[FloatArray, IntArray], gt: tuple[FloatArray, IntArray] | BoolArray
) -> float:
    """Volume IoU of two triangle soups (or of one and precomputed GT occupancy)."""
    gt_occ = gt if isinstance(gt, np.ndarray) else occupancy(*gt)
    return iou(occupancy(*pred), gt_occ)


def psnr(a: NDArray[np.floating], b: NDArray[np.floating]) -> float:
    """PSNR over all pixels and channels, data range 1; identical images give 100."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return PSNR_IDENTICAL if mse <= 1e-10 else 10.0 * math.log10(1.0 / mse)


def ssim(a: NDArray[np.floating], b: NDArray[np.floating]) -> float:
    """Mean SSIM (Wang et al. 2004) per channel, averaged; the 5 px border is cropped."""
    from scipy.ndimage import gaussian_filter

    c1, c2 = SSIM_K1**2, SSIM_K2**2
    r = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)

    def blur(z: FloatArray) -> FloatArray:
        out = gaussian_filter(z, SSIM_SIGMA, truncate=SSIM_TRUNCATE, mode="reflect")
        return np.asarray(out, dtype=np.float64)

    a3 = a if a.ndim == 3 else a[..., None]
    b3 = b if b.ndim == 3 else b[..., None]
    values = []
    for ch in range(a3.shape[2]):
        x, y = a3[..., ch].astype(np.float64), b3[..., ch].astype(np.float64)
        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        num = (2 * mx * my + c1) * (2 * sxy + c2)
        den = (mx * mx + my * my + c1) * (sxx + syy + c2)
        values.append(float((num / den)[r:-r, r:-r].mean()))
    return float(np.mean(values))
