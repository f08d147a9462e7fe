"""``orient``: turn the asset so that it follows the convention: +Y up, its front facing +Z.

``up`` and ``front`` name the source axes that point up and to the front (``orient(up="+z")``
reads a Z-up file). The rotation moves vertices, normals and the camera together; winding is
kept (a rotation never mirrors), and the report notes the 3x3 matrix it applied.

``up="auto"`` guesses the up axis from the flattest large base: for each of the six directions
of the bounding box, the area of faces lying flat on that side (within 1e-4 of the box's
largest side) and facing out of it is summed; the side with the largest such area is the base,
and up is its opposite. The current +Y is kept unless another side's base is clearly larger
(more than 1.5 times, as the ``up_axis`` check reads it), so round or ambiguous shapes do not
turn. With ``front`` left out it is +Z, or -Y when up is along Z (Blender's and most Z-up
tools' front), which is the usual Z-up to Y-up turn ``(x, y, z) -> (x, z, -y)``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from meshforge.asset import Asset, FloatArray, RealSize
from meshforge.errors import TransformError
from meshforge.recipe import Options
from meshforge.transforms.base import Context, Transform

Axis = Literal["+x", "-x", "+y", "-y", "+z", "-z"]
AXIS_VECTORS: dict[str, FloatArray] = {
    f"{sign}{name}": np.eye(3)[index] * (1.0 if sign == "+" else -1.0)
    for index, name in enumerate("xyz")
    for sign in "+-"
}
BASE_ORDER = ("-y", "-z", "-x", "+y", "+z", "+x")
# A base must be this many times larger than the current one (-Y) to turn the asset.
AUTO_MARGIN = 1.5


class OrientOptions(Options):
    up: Axis | Literal["auto"] = Field(
        default="+y", description="The source axis that points up, or auto to guess it."
    )
    front: Axis | None = Field(
        default=None,
        description="The source axis the product's front faces; default +Z (-Y when up is Z).",
    )

    @model_validator(mode="after")
    def _perpendicular(self) -> OrientOptions:
        if self.up != "auto" and self.front is not None and self.up[1] == self.front[1]:
            raise ValueError(f"up ({self.up}) and front ({self.front}) must be different axes")
        return self


def orient(up: Axis | Literal["auto"] = "+y", front: Axis | None = None) -> Transform:
    options = OrientOptions(up=up, front=front)
    return Transform(name="orient", function=lambda a, c: _orient(a, c, options), options=options)


def default_front(up: str) -> str:
    """+Z, or -Y when up lies along Z."""
    return "-y" if up[1] == "z" else "+z"


def rotation_for(up: str, front: str) -> FloatArray:
    """The rotation taking the source ``up`` axis to +Y and ``front`` to +Z."""
    u, f = AXIS_VECTORS[up], AXIS_VECTORS[front]
    # + 0.0 turns -0.0 into 0.0, so the matrix reads cleanly in reports.
    return np.asarray(np.stack([np.cross(u, f), u, f]), dtype=np.float64) + 0.0


def base_areas(asset: Asset) -> dict[str, float]:
    """Per direction (``"-y"`` is the bottom), the area of faces lying flat on that side of the
    bounding box and facing out of it."""
    low, high = asset.bounds()
    tolerance = 1e-4 * max(float(np.max(high - low)), 1e-12)
    areas = dict.fromkeys(AXIS_VECTORS, 0.0)
    for mesh in asset.meshes:
        if not len(mesh.faces):
            continue
        tri = mesh.vertices[mesh.faces]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]) / 2
        for axis, name in enumerate("xyz"):
            for sign, level in (("-", low[axis]), ("+", high[axis])):
                flat = np.all(np.abs(tri[:, :, axis] - level) <= tolerance, axis=1)
                outward = normal[flat, axis] * (1.0 if sign == "+" else -1.0)
                areas[f"{sign}{name}"] += float(np.sum(np.maximum(outward, 0.0)))
    return areas


def guess_up(asset: Asset) -> tuple[str, dict[str, float]]:
    """The up axis read from the flattest large base (see the module docstring)."""
    areas = base_areas(asset)
    # On a tie the low side wins (a box lying flat stands on its bottom), Z-up files next.
    bottom = max(BASE_ORDER, key=lambda k: areas[k])
    if areas[bottom] == 0.0 or areas[bottom] <= AUTO_MARGIN * areas["-y"]:
        return "+y", areas
    opposite = ("-" if bottom[0] == "+" else "+") + bottom[1]
    return opposite, areas


def rotate_asset(asset: Asset, rotation: FloatArray) -> Asset:
    """Apply a 3x3 rotation about the origin to vertices, normals, the camera and the size."""
    r = np.asarray(rotation, dtype=np.float64)
    meshes = [
        dataclasses.replace(
            m,
            vertices=m.vertices @ r.T,
            normals=None if m.normals is None else m.normals @ r.T,
        )
        for m in asset.meshes
    ]
    camera = None
    if asset.camera is not None:
        pose = np.array(asset.camera.camera_to_world, dtype=np.float64)
        pose[:3, :3] = r @ pose[:3, :3]
        pose[:3, 3] = r @ pose[:3, 3]
        camera = dataclasses.replace(asset.camera, camera_to_world=pose)
    size = asset.size
    if size is not None:
        dims = np.abs(r) @ np.array([size.width, size.height, size.depth])
        size = RealSize(float(dims[0]), float(dims[1]), float(dims[2]), source=size.source)
    return dataclasses.replace(asset, meshes=meshes, camera=camera, size=size)


def _orient(asset: Asset, ctx: Context, options: OrientOptions) -> Asset:
    up: str = options.up
    if up == "auto":
        if not asset.face_count:
            raise TransformError("the asset has no faces to orient", stage="orient")
        up, areas = guess_up(asset)
        ctx.report.note("base_area", {k: round(v, 9) for k, v in areas.items()})
    front = options.front or default_front(up)
    if up[1] == front[1]:
        raise TransformError(
            f"the guessed up axis {up} lies along front {front}",
            stage="orient",
            hint="Give up= explicitly, or a front on another axis.",
        )
    rotation = rotation_for(up, front)
    ctx.report.note("up", up)
    ctx.report.note("front", front)
    ctx.report.note("rotation", rotation.round(12).tolist())
    if np.array_equal(rotation, np.eye(3)):
        return asset
    ctx.report.change("up_axis", up, "+y")
    if front != "+z":
        ctx.report.change("front_axis", front, "+z")
    return rotate_asset(asset, rotation)
