"""``pivot``: put the origin where the target expects it.

* ``bottom-center`` (default): the bottom centre of the bounding box, so the asset stands on
  y = 0 around its origin (AR Quick Look, Shopify and Amazon viewers);
* ``center``: the centre of the bounding box (turntables, games that rotate props in place);
* ``origin``: the asset's own origin is kept and nothing moves (the report says where the
  bounding box lies), for files whose origin was placed on purpose.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from meshforge.asset import Asset
from meshforge.errors import TransformError
from meshforge.recipe import Options
from meshforge.transforms.base import Context, Transform

PivotPosition = Literal["bottom-center", "center", "origin"]


class PivotOptions(Options):
    position: PivotPosition = Field(
        default="bottom-center", description="Where the origin goes in the bounding box."
    )


def pivot(position: PivotPosition = "bottom-center") -> Transform:
    options = PivotOptions(position=position)
    return Transform(name="pivot", function=lambda a, c: _pivot(a, c, options), options=options)


def _pivot(asset: Asset, ctx: Context, options: PivotOptions) -> Asset:
    if asset.face_count == 0:
        raise TransformError(
            "the asset has no faces, so it has no size or bounds to move",
            stage="pivot",
            hint="Check the engine's output or the input file.",
        )
    low, high = asset.bounds()
    if options.position == "origin":
        ctx.report.note("bounds_m", [[round(float(v), 6) for v in row] for row in (low, high)])
        return asset
    anchor = (low + high) / 2
    if options.position == "bottom-center":
        anchor[1] = low[1]
    ctx.report.change("origin_offset_m", [0.0, 0.0, 0.0], [round(float(v), 6) for v in -anchor])
    return asset.apply_similarity(1.0, -np.asarray(anchor))
