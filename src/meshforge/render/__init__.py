"""Offscreen rendering with numpy only: previews, thumbnails, silhouettes.

Pillow is imported only when a PNG is written (``save_png``).
"""

from meshforge.render.camera import fit_camera, look_at_camera, orbit_pose
from meshforge.render.raster import (
    Primitive,
    coverage,
    primitives_from_asset,
    render,
    render_asset,
    silhouette,
)
from meshforge.render.thumbnail import render_thumbnail, save_png

__all__ = [
    "Primitive",
    "coverage",
    "fit_camera",
    "look_at_camera",
    "orbit_pose",
    "primitives_from_asset",
    "render",
    "render_asset",
    "render_thumbnail",
    "save_png",
    "silhouette",
]
