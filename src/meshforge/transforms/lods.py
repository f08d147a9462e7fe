"""``lods``: a chain of decimated levels of detail, kept beside the full-detail asset.

Following glTF practice (``MSFT_lod``: one node at full detail, coarser meshes listed beside it,
all using the same materials), the asset itself stays level 0 and every level is listed in
``asset.metadata["lods"]`` as a :class:`LodLevel` holding its own meshes. The levels share the
asset's materials and textures (decimation keeps the UVs), so no image is copied. Each level is
decimated from the one before it, which is faster than starting from full detail every time and
keeps the levels consistent with each other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from itertools import pairwise

from pydantic import Field, field_validator

from meshforge.asset import Asset, Mesh
from meshforge.recipe import Options
from meshforge.transforms.base import Context, StageReport, Transform
from meshforge.transforms.decimate import DecimateOptions, decimate_asset

DEFAULT_RATIOS = (1.0, 0.5, 0.25, 0.125)


@dataclass(frozen=True)
class LodLevel:
    """One level of detail: its place in the chain, the kept fraction and its meshes."""

    level: int
    ratio: float
    faces: int
    vertices: int
    meshes: list[Mesh]


class LodsOptions(Options):
    ratios: tuple[float, ...] = Field(
        default=DEFAULT_RATIOS,
        min_length=1,
        description="Fraction of the faces each level keeps, from level 0 down, each in (0, 1] "
        "and strictly decreasing; level 0 is the asset itself.",
    )
    preserve_border: bool = Field(
        default=True, description="Lock open borders and UV seams in every level."
    )

    @field_validator("ratios")
    @classmethod
    def _decreasing(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0.0 < r <= 1.0 for r in value):
            raise ValueError("every ratio must be in (0, 1]")
        if any(b >= a for a, b in pairwise(value)):
            raise ValueError("ratios must decrease strictly from level 0 down")
        return value


def lods(ratios: tuple[float, ...] = DEFAULT_RATIOS, preserve_border: bool = True) -> Transform:
    options = LodsOptions(ratios=tuple(ratios), preserve_border=preserve_border)
    return Transform(name="lods", function=lambda a, c: _lods(a, c, options), options=options)


def _lods(asset: Asset, ctx: Context, options: LodsOptions) -> Asset:
    full = asset.face_count
    levels: list[LodLevel] = []
    current = asset
    for level, ratio in enumerate(options.ratios):
        ctx.progress(level / len(options.ratios), f"level {level}")
        target = max(round(ratio * full), 4)
        step = DecimateOptions(target_faces=target, preserve_border=options.preserve_border)
        sub = StageReport(stage=f"{ctx.report.stage}[{level}]")
        current = decimate_asset(current, Context(report=sub), step)
        for notice in sub.warnings:
            ctx.warn(notice.code, f"level {level}: {notice.message}")
        levels.append(
            LodLevel(
                level=level,
                ratio=ratio,
                faces=current.face_count,
                vertices=current.vertex_count,
                meshes=current.meshes,
            )
        )
        if level:
            ctx.report.change(f"lod{level}_faces", full, current.face_count)
    ctx.progress(1.0, "levels built")
    ctx.report.note(
        "levels",
        [
            {"level": lv.level, "ratio": lv.ratio, "faces": lv.faces, "vertices": lv.vertices}
            for lv in levels
        ],
    )
    base = levels[0]
    return dataclasses.replace(
        asset, meshes=base.meshes, metadata={**asset.metadata, "lods": levels}
    )
