"""Composable post-processing: ``asset.transform(scale(height=0.3), pivot())``."""

from meshforge.transforms.bake import bake
from meshforge.transforms.base import Context, StageReport, Transform
from meshforge.transforms.decimate import decimate
from meshforge.transforms.dedup import dedup
from meshforge.transforms.lods import lods
from meshforge.transforms.orient import orient
from meshforge.transforms.pivot import pivot
from meshforge.transforms.remesh import remesh
from meshforge.transforms.repair import repair
from meshforge.transforms.resize import resize
from meshforge.transforms.scale import scale
from meshforge.transforms.solidify import solidify
from meshforge.transforms.unwrap import unwrap
from meshforge.transforms.weld import weld

__all__ = [
    "Context",
    "StageReport",
    "Transform",
    "bake",
    "decimate",
    "dedup",
    "lods",
    "orient",
    "pivot",
    "remesh",
    "repair",
    "resize",
    "scale",
    "solidify",
    "unwrap",
    "weld",
]
