"""The camera the engine assumes: a pinhole whose lens comes from EXIF or a default."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Camera
from meshforge.render.camera import orbit_pose

# The diagonal of a 36 x 24 mm frame, for EXIF's 35 mm equivalent focal length.
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)


def focal_from_fov(height_px: int, fov_y_deg: float) -> float:
    return height_px / 2 / math.tan(math.radians(fov_y_deg) / 2)


def focal_from_35mm(width_px: int, height_px: int, focal_35mm: float) -> float:
    """Pixels per unit focal length, matching the image diagonal to the 35 mm frame's."""
    return focal_35mm / FULL_FRAME_DIAGONAL_MM * math.hypot(width_px, height_px)


def photo_camera(
    width: int,
    height: int,
    *,
    fov_y_deg: float | None,
    focal_35mm: float | None,
    distance: float,
    elevation_deg: float,
) -> Camera:
    """The photo's camera: user's field of view, else EXIF focal length, else the default."""
    from meshforge.engines.silhouette.options import DEFAULT_FOV_Y_DEG

    if fov_y_deg is not None:
        focal, source = focal_from_fov(height, fov_y_deg), "option"
    elif focal_35mm:
        focal, source = focal_from_35mm(width, height, focal_35mm), "exif"
    else:
        focal, source = focal_from_fov(height, DEFAULT_FOV_Y_DEG), "default"
    return Camera(
        width=width,
        height=height,
        fx=focal,
        fy=focal,
        cx=width / 2,
        cy=height / 2,
        camera_to_world=orbit_pose((0.0, 0.0, 0.0), distance, 0.0, elevation_deg),
        source=source,
    )


def framed_intrinsics(
    camera: Camera, scale: float, offset: tuple[float, float]
) -> tuple[float, float, float]:
    """Focal length and principal point in framed pixels (framed = scale * photo + offset)."""
    return camera.fy * scale, camera.cx * scale + offset[0], camera.cy * scale + offset[1]


def camera_to_world(camera: Camera, points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points in the camera's frame to the asset's frame."""
    pose = camera.camera_to_world
    return np.asarray(points @ pose[:3, :3].T + pose[:3, 3], dtype=np.float64)


def rotate_pixels(
    points: NDArray[np.float64],
    rotation: NDArray[np.float64],
    focal: float,
    centre: tuple[float, float],
) -> NDArray[np.float64]:
    """Pixels (column, row) of a camera to those of a camera at the same place turned by
    ``rotation`` (3x3, the first camera's frame to the second's): the homography K R K^-1."""
    cx, cy = centre
    rays = np.column_stack(
        [(points[:, 0] - cx) / focal, -(points[:, 1] - cy) / focal, -np.ones(len(points))]
    )
    turned = rays @ np.asarray(rotation, dtype=np.float64).T
    ahead = -turned[:, 2]
    return np.column_stack([cx + focal * turned[:, 0] / ahead, cy - focal * turned[:, 1] / ahead])
