"""Score one prediction file against one ground-truth folder, as the benchmark protocol does.

The prediction is normalised like the GT (bbox centre at the origin, longest side 1, no
rotation) and scored ``raw``, then ``aligned`` after the protocol's ICP (``align.py``). The
result has the reference scorer's shape: ``mesh`` facts, ``raw`` and ``aligned`` metrics
(``aligned.icp`` holds the transform), the GT's name and category and the seconds taken.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.evaluate.align import align
from meshforge.evaluate.meshes import (
    EvalPrimitive,
    load_primitives,
    merged_triangles,
    mesh_facts,
    normalise,
    transform_primitives,
)
from meshforge.evaluate.metrics import (
    chamfer_fscore,
    iou,
    occupancy,
    psnr,
    sample_surface,
    silhouette_iou,
    ssim,
)
from meshforge.evaluate.protocol import GroundTruth, input_camera, view_cameras
from meshforge.evaluate.render import render_view

__all__ = ["evaluate_primitives", "score"]


def evaluate_primitives(
    gt: GroundTruth, prims: list[EvalPrimitive]
) -> tuple[dict[str, Any], NDArray[np.float64]]:
    """Every metric of primitives already in the GT's frame; also returns their samples."""
    vertices, faces = merged_triangles(prims)
    samples = sample_surface(vertices, faces)
    out: dict[str, Any] = dict(chamfer_fscore(samples, gt.samples))
    out["volume_iou"] = iou(occupancy(vertices, faces), gt.occupancy)
    front = render_view(prims, input_camera())
    out["silhouette_iou"] = silhouette_iou(front.alpha, gt.mask)
    out["psnr_input"] = psnr(front.rgb, gt.input_rgb)
    out["ssim_input"] = ssim(front.rgb, gt.input_rgb)
    psnrs, ssims, silhouettes = [], [], []
    for az, camera in view_cameras().items():
        view = render_view(prims, camera)
        silhouettes.append(silhouette_iou(view.alpha, gt.view_masks[az]))
        psnrs.append(psnr(view.rgb, gt.views[az]))
        ssims.append(ssim(view.rgb, gt.views[az]))
    out["psnr_views"] = float(np.mean(psnrs))
    out["ssim_views"] = float(np.mean(ssims))
    out["silhouette_iou_views"] = float(np.mean(silhouettes))
    out["psnr"] = float(np.mean([*psnrs, out["psnr_input"]]))
    out["ssim"] = float(np.mean([*ssims, out["ssim_input"]]))
    return out, samples


def score(
    gt_dir: Path | str | GroundTruth,
    prediction: Path | str,
    *,
    aligned: bool = True,
) -> dict[str, Any]:
    """Score the mesh file ``prediction`` against the ground-truth folder ``gt_dir``.

    Returns a JSON-able dict: ``gt_dir``, ``pred``, ``name``, ``category``, ``mesh`` (faces,
    vertices, geometries, watertight, winding_consistent, has_uv, has_basecolor_texture,
    has_vertex_colors, file_bytes), ``raw`` and, unless ``aligned=False``, ``aligned`` (with
    ``icp``: start yaw, rotation angle, translation, 4x4 transform), and ``seconds``. Values are
    not rounded. A file that cannot be read or holds no triangles raises ``InputError``.
    """
    start = time.perf_counter()
    gt = gt_dir if isinstance(gt_dir, GroundTruth) else GroundTruth.load(gt_dir)
    path = Path(prediction)
    prims = load_primitives(path)
    result: dict[str, Any] = {
        "gt_dir": str(gt.directory.resolve()),
        "pred": str(path.resolve()),
        "name": gt.name,
        "category": gt.category,
        "mesh": mesh_facts(path, prims),
    }
    prims = normalise(prims)
    result["raw"], samples = evaluate_primitives(gt, prims)
    if aligned:
        alignment = align(samples, gt.samples)
        moved = transform_primitives(prims, alignment.matrix)
        result["aligned"], _ = evaluate_primitives(gt, moved)
        result["aligned"]["icp"] = alignment.to_dict()
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result
