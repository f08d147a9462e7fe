"""Shapes built on a triangulation of the outline: ``inflate``, ``slab`` and ``composite``.

Every vertex is placed in pixel space as ``(column, -row, height)``, height in framed pixels
towards the camera, then moved onto the ray through its pixel (``place``), so from the input
camera the mesh covers exactly the outline and each vertex's uv is the pixel it shows. The front
and back share the outline's vertices (``inflate.closed_surface``): closed and 2-manifold by
construction; the composite's tubes are joined to the body by a boolean union (``composite.py``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Camera
from meshforge.engines.silhouette.camera import camera_to_world, framed_intrinsics
from meshforge.engines.silhouette.composite import (
    TUBE_SEGMENTS,
    extend_into,
    find_thin_parts,
    tube_faces,
    tube_mesh,
    union,
)
from meshforge.engines.silhouette.inflate import (
    PlanarMesh,
    closed_surface,
    half_width_maps,
    inflation_heights,
    triangulate_outline,
)
from meshforge.engines.silhouette.options import SilhouetteOptions
from meshforge.engines.silhouette.outline import Outline, clean_mask, trace_outline
from meshforge.engines.silhouette.slab import shorter_side, slab_heights
from meshforge.errors import EngineError
from meshforge.image.frame import FramedImage
from meshforge.transforms.base import StageReport

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Built = tuple[FloatArray, IntArray, FloatArray]


def build_inflate(
    framed: FramedImage,
    camera: Camera,
    mask: NDArray[np.uint8],
    area: float,
    opts: SilhouetteOptions,
    report: StageReport,
    maps: tuple[NDArray[np.float32], NDArray[np.float32]] | None = None,
) -> Built:
    """The outline's triangulation inflated into a round-sectioned body (``inflate.py``);
    ``maps`` are the mask's ``half_width_maps`` when the caller has them already."""
    planar, outline = fit_budget(mask, area, opts.max_faces)
    dist, rho = maps if maps is not None else half_width_maps(mask)
    height = inflation_heights(planar, dist, rho, min_height=0.25) * opts.thickness
    return _closed_on_rays(framed, camera, planar, outline, height, opts, report)


def build_slab(
    framed: FramedImage,
    camera: Camera,
    mask: NDArray[np.uint8],
    area: float,
    opts: SilhouetteOptions,
    report: StageReport,
) -> Built:
    """The outline extruded to a prior thickness, its rim a quarter round (``slab.py``)."""
    planar, outline = fit_budget(mask, area, opts.max_faces)
    dist, rho = half_width_maps(mask)
    thickness = opts.slab_thickness * shorter_side(outline)
    height = slab_heights(planar, dist, rho, thickness / 2)
    # The back lies back_ratio times the front's height behind the outline's plane: share the
    # thickness out so that front and back together keep it.
    height *= 2 / (1 + opts.back_ratio)
    report.note("slab_thickness_px", round(thickness, 2))
    return _closed_on_rays(framed, camera, planar, outline, height, opts, report)


def _closed_on_rays(
    framed: FramedImage,
    camera: Camera,
    planar: PlanarMesh,
    outline: Outline,
    height: FloatArray,
    opts: SilhouetteOptions,
    report: StageReport,
) -> Built:
    xyz, faces = closed_xyz(planar, height, opts.back_ratio)
    vertices, uv = place(framed, camera, xyz, opts)
    report.note("outline_points", int(planar.on_outline.sum()))
    report.note("holes", len(outline.holes))
    return vertices, faces, uv


def build_composite(
    framed: FramedImage,
    camera: Camera,
    mask: NDArray[np.uint8],
    area: float,
    opts: SilhouetteOptions,
    report: StageReport,
) -> Built:
    """Thin parts as round tubes, the rest inflated, joined into one solid (``composite.py``)."""
    import cv2

    # Only the largest region, as the other shapes build.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = (labels == largest).astype(np.uint8)
    dist, rho = half_width_maps(mask)
    parts = find_thin_parts(mask, dist, rho, framed.alpha)
    report.note("thin_threshold_px", round(parts.threshold, 2))
    if not parts.tubes:
        report.note(
            "composite",
            f"no thin part (half-width below {parts.threshold:.1f} px): plain inflate",
        )
        return build_inflate(framed, camera, mask, float(mask.sum()), opts, report, (dist, rho))
    report.note("tubes", len(parts.tubes))
    report.note("tube_length_px", round(sum(t.length for t in parts.tubes), 1))
    report.note("tube_radii_px", [round(float(np.median(t.radii)), 2) for t in parts.tubes])

    body = clean_mask(((mask > 0) & ~parts.region).astype(np.float32))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(body, connectivity=8)
    # Scraps of body between tubes are covered by the tubes; only real pieces are inflated.
    keep = [k for k in range(1, count) if stats[k, cv2.CC_STAT_AREA] >= max(64.0, 0.01 * area)]
    body = np.isin(labels, keep).astype(np.uint8)
    tubes = extend_into(parts.tubes, body)
    segments = TUBE_SEGMENTS
    while segments > 8 and sum(tube_faces(t, segments) for t in tubes) > 0.4 * opts.max_faces:
        segments -= 4
    tube_total = sum(tube_faces(t, segments) for t in tubes)
    if tube_total > 0.7 * opts.max_faces:
        raise EngineError(
            f"the thin parts alone need {tube_total} faces",
            stage="reconstruct",
            hint="Raise --max-faces or use --shape inflate.",
        )
    report.note("body_parts", len(keep))
    # The union adds faces where the parts cut each other: keep some of the budget for them.
    budget = 0.95 * opts.max_faces - tube_total
    for _ in range(4):
        solids = [tube_mesh(t, segments) for t in tubes]
        body_area = max(float(body.sum()), 1.0)
        for k in keep:
            piece = (labels == k).astype(np.uint8)
            share = max(200, int(budget * float(stats[k, cv2.CC_STAT_AREA]) / body_area))
            solids.append(_inflated_part(piece, share, rho, opts))
        points, faces = union(solids)
        if len(faces) <= opts.max_faces:
            break
        budget -= 1.3 * (len(faces) - opts.max_faces)
    else:
        raise EngineError(
            f"could not fit the composite into {opts.max_faces} faces",
            stage="reconstruct",
            hint="Raise --max-faces.",
        )
    vertices, uv = place(framed, camera, points, opts)
    return vertices, faces, uv


def _inflated_part(
    mask: NDArray[np.uint8], max_faces: int, rho: NDArray[np.float32], opts: SilhouetteOptions
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """One piece of the body inflated, in the pixel space of ``composite.py``.

    ``rho`` is the whole subject's: a body pixel's largest inscribed disc lies in the body, not
    in a thin part, so only the distance to the piece's own outline needs computing again.
    """
    import cv2

    planar, _ = fit_budget(mask, float(mask.sum()), max_faces)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE).astype(np.float32)
    height = inflation_heights(planar, dist, rho, min_height=0.25) * opts.thickness
    return closed_xyz(planar, height, opts.back_ratio)


def closed_xyz(
    planar: PlanarMesh, height: FloatArray, back_ratio: float
) -> tuple[FloatArray, IntArray]:
    """The closed surface in pixel space: the front ``height`` above the outline's plane, the
    back ``back_ratio`` times as far behind it (outline points, at height 0, are shared)."""
    back_index, faces = closed_surface(planar)
    xyz = np.empty((int(back_index.max()) + 1, 3))
    n = len(planar.points)
    xyz[back_index, 0] = planar.points[:, 0]
    xyz[back_index, 1] = -planar.points[:, 1]
    xyz[back_index, 2] = -height * back_ratio
    xyz[:n, :2] = planar.points * [1.0, -1.0]
    xyz[:n, 2] = height
    return xyz, faces


def place(
    framed: FramedImage, camera: Camera, xyz: NDArray[np.float64], opts: SilhouetteOptions
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pixel-space points ``(column, -row, height)`` onto their pixels' rays, with their uv."""
    f, cx, cy = framed_intrinsics(camera, framed.scale, framed.offset)
    distance = opts.camera_distance
    col, row = xyz[:, 0], -xyz[:, 1]
    # Heights are in framed pixels; at the subject's depth one pixel spans distance / f.
    depth = distance - xyz[:, 2] * distance / f
    rays = np.column_stack([(col - cx) / f, -(row - cy) / f, -np.ones(len(xyz))])
    vertices = camera_to_world(camera, rays * depth[:, None])
    uv = np.clip(np.column_stack([col, row]) / framed.size, 0.0, 1.0)
    return vertices, uv


def min_hole_area(area: float) -> float:
    return max(16.0, area * 0.002)


def fit_budget(mask: NDArray[np.uint8], area: float, max_faces: int) -> tuple[PlanarMesh, Outline]:
    """Triangulate the outline as finely as the face budget allows (both sides count)."""
    smallest_hole = min_hole_area(area)
    spacing = 2.0
    outline = trace_outline(mask, spacing=spacing, min_hole_area=smallest_hole)
    perimeter = sum(len(loop) for loop in outline.loops) * spacing
    # Outline points bound the face count from below: keep them to ~15 % of the budget.
    wanted = max(spacing, perimeter / (0.15 * max_faces))
    if wanted > spacing:
        spacing = wanted
        outline = trace_outline(mask, spacing=spacing, min_hole_area=smallest_hole)
    max_area = max(2.0, area / (0.42 * max_faces))
    for _ in range(12):
        planar = triangulate_outline(outline, max_area)
        faces = 2 * len(planar.triangles)
        if faces <= max_faces:
            return planar, outline
        max_area *= 1.2 * faces / max_faces
        spacing *= 1.1
        outline = trace_outline(mask, spacing=spacing, min_hole_area=smallest_hole)
    raise EngineError(
        f"could not fit the mesh into {max_faces} faces",
        stage="reconstruct",
        hint="Raise --max-faces.",
    )
