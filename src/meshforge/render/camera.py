"""Orbit cameras for the renderer, with the evaluation protocol's conventions.

Orbit: ``eye = centre + d * (cos e sin a, sin e, cos e cos a)``; azimuth 0 is the +Z side (the
product's front), 90 the +X side; the camera looks at the centre with +Y as the up hint. Poses are
OpenGL ``camera_to_world`` matrices; intrinsics put the principal point at the image centre.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from meshforge.asset import Camera

FloatArray = NDArray[np.float64]

__all__ = ["fit_camera", "look_at_camera", "orbit_pose"]


def orbit_pose(
    center: ArrayLike, distance: float, azimuth_deg: float, elevation_deg: float
) -> FloatArray:
    """The 4x4 ``camera_to_world`` of a camera on the orbit, looking at ``center``, +Y up."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    direction = np.array([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)])
    target = np.asarray(center, dtype=np.float64).reshape(3)
    z = direction / np.linalg.norm(direction)  # camera +Z points away from the target
    x = np.cross([0.0, 1.0, 0.0], z)
    if np.linalg.norm(x) < 1e-9:  # straight above or below: +Y is no use as an up hint
        x = np.cross([0.0, 0.0, -np.sign(z[1])], z)
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = x, np.cross(z, x), z
    pose[:3, 3] = target + distance * z
    return pose


def _intrinsics(fov_y_deg: float, width: int, height: int) -> tuple[float, float, float]:
    if not 0.0 < fov_y_deg < 180.0:
        raise ValueError(f"render: fov_y_deg must be in (0, 180), got {fov_y_deg}")
    if width < 1 or height < 1:
        raise ValueError(f"render: image size must be positive, got {width}x{height}")
    f = (height / 2.0) / float(np.tan(np.radians(fov_y_deg) / 2.0))
    return f, width / 2.0, height / 2.0


def look_at_camera(
    center: ArrayLike,
    distance: float,
    azimuth_deg: float,
    elevation_deg: float,
    fov_y_deg: float,
    width: int,
    height: int,
) -> Camera:
    """A pinhole camera on the orbit around ``center`` (square pixels, centred principal point)."""
    f, cx, cy = _intrinsics(fov_y_deg, width, height)
    pose = orbit_pose(center, distance, azimuth_deg, elevation_deg)
    return Camera(width, height, f, f, cx, cy, pose, source="orbit")


def fit_camera(
    bounds: ArrayLike | Sequence[Sequence[float]],
    azimuth_deg: float,
    elevation_deg: float,
    fov_y_deg: float = 30.0,
    size: int = 512,
    margin: float = 1.1,
) -> Camera:
    """A square camera on the orbit around the box centre, as close as the box allows.

    ``bounds`` is ``[[xmin, ymin, zmin], [xmax, ymax, zmax]]``. The distance is the smallest at
    which every corner of the box projects inside the central ``1 / margin`` of the frame, so the
    object (which lies inside its box) never touches the edges when ``margin > 1``.
    """
    b = np.asarray(bounds, dtype=np.float64).reshape(2, 3)
    centre = (b[0] + b[1]) / 2.0
    pose = orbit_pose(centre, 1.0, azimuth_deg, elevation_deg)
    corners = np.array([[x, y, z] for x in b[:, 0] for y in b[:, 1] for z in b[:, 2]])
    local = (corners - centre) @ pose[:3, :3]  # corner coordinates along the camera axes
    tan_half = float(np.tan(np.radians(fov_y_deg) / 2.0))
    # A corner at lateral offset r and depth offset z fits when |r| * margin <= tan * (d - z).
    lateral = np.abs(local[:, :2]).max(axis=1)
    needed = local[:, 2] + lateral * margin / tan_half
    extent = float(np.linalg.norm(b[1] - b[0]))
    distance = max(float(needed.max()), float(local[:, 2].max()) + 0.1 * extent, 1e-3)
    return look_at_camera(centre, distance, azimuth_deg, elevation_deg, fov_y_deg, size, size)
