"""Composable post-processing: ``asset.transform(scale(height=0.3), pivot())``."""

from meshforge.transforms.base import Context, StageReport, Transform
from meshforge.transforms.decimate import decimate
from meshforge.transforms.dedup import dedup
from meshforge.transforms.lods import lods
from meshforge.transforms.pivot import pivot
from meshforge.transforms.repair import repair
from meshforge.transforms.scale import scale
from meshforge.transforms.weld import weld

__all__ = [
    "Context",
    "StageReport",
    "Transform",
    "decimate",
    "dedup",
    "lods",
    "pivot",
    "repair",
    "scale",
    "weld",
]
