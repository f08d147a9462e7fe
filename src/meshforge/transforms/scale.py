"""``scale``: make the asset its real size, in metres, from one known dimension or a box.

With ``box=(w, h, d)`` the asset is scaled uniformly to the largest size that fits inside the box;
the axis that limits it is the one reported.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
from pydantic import Field, PositiveFloat, model_validator

from meshforge.asset import Asset, FloatArray, RealSize
from meshforge.errors import TransformError
from meshforge.recipe import DEFAULT_HEIGHT_M, Options
from meshforge.transforms.base import Context, Transform

AXES = {"width": 0, "height": 1, "depth": 2}


class ScaleOptions(Options):
    """Give one of height, width, depth or box in metres; with none, ``default_height`` is used
    and the report says that the size is a guess."""

    height: float | None = Field(default=None, gt=0, description="Real height (Y) in metres.")
    width: float | None = Field(default=None, gt=0, description="Real width (X) in metres.")
    depth: float | None = Field(default=None, gt=0, description="Real depth (Z) in metres.")
    box: tuple[PositiveFloat, PositiveFloat, PositiveFloat] | None = Field(
        default=None,
        description="Fit inside this (width, height, depth) box in metres, keeping proportions.",
    )
    default_height: float = Field(
        default=DEFAULT_HEIGHT_M, gt=0, description="Height used when no size is given."
    )

    @model_validator(mode="after")
    def _one_axis(self) -> ScaleOptions:
        if sum(v is not None for v in (self.height, self.width, self.depth, self.box)) > 1:
            raise ValueError("give only one of height, width, depth or box")
        return self

    def target(
        self, extents: FloatArray | None = None
    ) -> tuple[Literal["width", "height", "depth"], float, bool]:
        """(axis, metres, given by the user); with a box, the axis that limits the fit to
        ``extents``."""
        if self.box is not None and extents is not None:
            names: tuple[Literal["width", "height", "depth"], ...] = ("width", "height", "depth")
            ratios = [
                b / float(e) if e > 0 else np.inf for b, e in zip(self.box, extents, strict=True)
            ]
            index = int(np.argmin(ratios))
            return names[index], self.box[index], True
        if self.width is not None:
            return "width", self.width, True
        if self.depth is not None:
            return "depth", self.depth, True
        if self.height is not None:
            return "height", self.height, True
        return "height", self.default_height, False


def scale(
    height: float | None = None,
    width: float | None = None,
    depth: float | None = None,
    default_height: float = DEFAULT_HEIGHT_M,
    box: tuple[float, float, float] | None = None,
) -> Transform:
    options = ScaleOptions(
        height=height, width=width, depth=depth, box=box, default_height=default_height
    )
    return Transform(name="scale", function=lambda a, c: _scale(a, c, options), options=options)


def _scale(asset: Asset, ctx: Context, options: ScaleOptions) -> Asset:
    if asset.face_count == 0:
        raise TransformError(
            "the asset has no faces, so it has no size or bounds to scale",
            stage="scale",
            hint="Check the engine's output or the input file.",
        )
    extents = asset.extents()
    axis, metres, given = options.target(extents)
    current = float(extents[AXES[axis]])
    if current <= 0:
        raise TransformError(
            f"the asset has no {axis} to scale",
            stage="scale",
            hint="Give the size along another axis.",
        )
    factor = metres / current
    result = asset.apply_similarity(factor, (0.0, 0.0, 0.0))
    new = extents * factor
    source: Literal["user", "default"] = "user" if given else "default"
    result = dataclasses.replace(
        result,
        size=RealSize(
            width=float(new[0]), height=float(new[1]), depth=float(new[2]), source=source
        ),
    )
    ctx.report.change(f"{axis}_m", round(current, 6), round(metres, 6))
    ctx.report.note("size_m", [round(float(v), 6) for v in new])
    if options.box is not None:
        ctx.report.note("box_m", list(options.box))
    if not given:
        ctx.warn(
            "default-size",
            f"no real size was given, so the asset is {metres} m tall by "
            "default; pass --height, --width or --depth for a true-to-size asset",
        )
    return result
