"""Composable post-processing: ``asset.transform(scale(height=0.3), pivot())``."""

from meshforge.transforms.base import Context, StageReport, Transform
from meshforge.transforms.pivot import pivot
from meshforge.transforms.scale import scale

__all__ = ["Context", "StageReport", "Transform", "pivot", "scale"]
