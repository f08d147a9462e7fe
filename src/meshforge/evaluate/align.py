"""Rigid alignment of a prediction onto the GT: the protocol's symmetric ICP (no scaling).

``default_rng(1)`` draws 5000 of the prediction's samples, then 5000 of the GT's (without
replacement). Each iteration pairs every prediction point with its nearest GT point and every GT
point with its nearest prediction point, and solves one rotation + translation for all pairs
(Kabsch, no reflection); at most 40 iterations, stopping when the symmetric chamfer changes by
less than 1e-6. ICP starts from yaws of 0, 90, 180 and 270 degrees about +Y; the unrefined raw
pose is a candidate too, so an aligned prediction stays as it is. The lowest chamfer wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.evaluate.protocol import (
    ICP_ITERATIONS,
    ICP_SAMPLES,
    ICP_SEED,
    ICP_START_YAWS_DEG,
    ICP_TOLERANCE,
)

__all__ = ["Alignment", "align", "icp", "kabsch", "rotation_about_y"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Alignment:
    """The winning rigid transform and how it was found (``start_yaw_deg`` None: raw pose)."""

    rotation: FloatArray  # (3, 3)
    translation: FloatArray  # (3,)
    start_yaw_deg: float | None
    icp_chamfer: float  # symmetric chamfer on the ICP subsets

    @property
    def matrix(self) -> FloatArray:
        m = np.eye(4)
        m[:3, :3], m[:3, 3] = self.rotation, self.translation
        return m

    @property
    def rotation_angle_deg(self) -> float:
        cosine = np.clip((np.trace(self.rotation) - 1) / 2, -1.0, 1.0)
        return math.degrees(math.acos(float(cosine)))

    def to_dict(self) -> dict[str, Any]:
        """As the reference scorer reports it under ``aligned.icp``."""
        yaw = self.start_yaw_deg
        return {
            "start_yaw_deg": None if yaw is None else (int(yaw) if yaw.is_integer() else yaw),
            "rotation_angle_deg": round(self.rotation_angle_deg, 3),
            "translation": [round(float(x), 5) for x in self.translation],
            "transform": [[round(float(x), 6) for x in row] for row in self.matrix],
        }


def rotation_about_y(degrees: float) -> FloatArray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def kabsch(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """R, t minimising sum |R a_i + t - b_i|^2 over paired rows, a proper rotation."""
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.diag([1.0, 1.0, float(np.sign(np.linalg.det(vt.T @ u.T)))])
    rotation = vt.T @ d @ u.T
    return rotation, cb - rotation @ ca


def _symmetric_chamfer(moved: FloatArray, gt: FloatArray, gt_tree: Any) -> float:
    from scipy.spatial import cKDTree

    there = gt_tree.query(moved, workers=-1)[0].mean()
    back = cKDTree(moved).query(gt, workers=-1)[0].mean()
    return float((there + back) / 2)


def icp(
    pred: FloatArray, gt: FloatArray, start: FloatArray, iterations: int = ICP_ITERATIONS
) -> tuple[FloatArray, FloatArray, float]:
    """Symmetric point-to-point ICP from rotation ``start``: (R, t, final symmetric chamfer)."""
    from scipy.spatial import cKDTree

    gt_tree = cKDTree(gt)
    rotation, translation = start.copy(), np.zeros(3)
    previous: float | None = None
    chamfer = math.inf
    for _ in range(iterations):
        moved = pred @ rotation.T + translation
        _, to_gt = gt_tree.query(moved, workers=-1)
        _, to_pred = cKDTree(moved).query(gt, workers=-1)
        source = np.concatenate([pred, pred[to_pred]])
        target = np.concatenate([gt[to_gt], gt])
        rotation, translation = kabsch(source, target)
        chamfer = _symmetric_chamfer(pred @ rotation.T + translation, gt, gt_tree)
        if previous is not None and abs(previous - chamfer) < ICP_TOLERANCE:
            break
        previous = chamfer
    return rotation, translation, chamfer


def align(pred_samples: FloatArray, gt_samples: FloatArray) -> Alignment:
    """The best rigid transform of the prediction's samples onto the GT's."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(ICP_SEED)
    pred = pred_samples[rng.choice(len(pred_samples), min(ICP_SAMPLES, len(pred_samples)), False)]
    gt = gt_samples[rng.choice(len(gt_samples), min(ICP_SAMPLES, len(gt_samples)), False)]
    best = Alignment(np.eye(3), np.zeros(3), None, _symmetric_chamfer(pred, gt, cKDTree(gt)))
    for yaw in ICP_START_YAWS_DEG:
        rotation, translation, chamfer = icp(pred, gt, rotation_about_y(yaw))
        if chamfer < best.icp_chamfer:
            best = Alignment(rotation, translation, yaw, chamfer)
    return best
