"""``pivot``: put the origin at the bottom centre of the bounding box (AR Quick Look, Shopify
and Amazon viewers stand assets on y = 0 around their origin)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from meshforge.asset import Asset
from meshforge.recipe import Options
from meshforge.transforms.base import Context, Transform


class PivotOptions(Options):
    position: Literal["bottom-center", "center"] = Field(
        default="bottom-center", description="Where the origin goes in the bounding box."
    )


def pivot(position: Literal["bottom-center", "center"] = "bottom-center") -> Transform:
    options = PivotOptions(position=position)
    return Transform(name="pivot", function=lambda a, c: _pivot(a, c, options), options=options)


def _pivot(asset: Asset, ctx: Context, options: PivotOptions) -> Asset:
    low, high = asset.bounds()
    anchor = (low + high) / 2
    if options.position == "bottom-center":
        anchor[1] = low[1]
    ctx.report.change("origin_offset_m", [0.0, 0.0, 0.0], [round(float(v), 6) for v in -anchor])
    return asset.apply_similarity(1.0, -np.asarray(anchor))
