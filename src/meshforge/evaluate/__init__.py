"""The benchmark protocol's metrics (``eval/PROTOCOL.md``), to score engines on ground truth.

>>> from meshforge.evaluate import score
>>> result = score("eval/WaterBottle", "out/bottle.glb")  # doctest: +SKIP
>>> result["aligned"]["chamfer_l1"], result["raw"]["psnr"]  # doctest: +SKIP

Modules: ``protocol`` (rig, constants, :class:`GroundTruth`), ``meshes`` (loading, normalisation,
mesh facts), ``metrics`` (samples, chamfer, F-score, volume IoU, silhouette IoU, PSNR, SSIM),
``align`` (ICP), ``render`` (the protocol's renders with meshforge's rasteriser) and ``score``.
Importing this package loads numpy only; trimesh, scipy and libigl load when first needed.
Volume IoU needs libigl: ``pip install 'meshforge[bench]'``.
"""

from __future__ import annotations

from meshforge.evaluate.protocol import GroundTruth, input_camera, view_cameras
from meshforge.evaluate.render import ViewRender, render_view, render_views
from meshforge.evaluate.score import evaluate_primitives, score

__all__ = [
    "GroundTruth",
    "ViewRender",
    "evaluate_primitives",
    "input_camera",
    "render_view",
    "render_views",
    "score",
    "view_cameras",
]
