"""The ``silhouette`` engine: one photo's mask becomes a closed, textured, inflated mesh.

The mesh is built in the photo's camera: every vertex lies on the ray through its pixel, so seen
from the input camera the mesh covers exactly the outline, whatever the depths are.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Asset, Camera, Material, Mesh, Provenance, Texture
from meshforge.engines.base import Capabilities, GenerationRequest, ProgressFn
from meshforge.engines.silhouette.camera import photo_camera
from meshforge.engines.silhouette.inflate import (
    PlanarMesh,
    closed_surface,
    half_width_maps,
    inflation_heights,
    triangulate_outline,
)
from meshforge.engines.silhouette.options import SilhouetteOptions
from meshforge.engines.silhouette.outline import Outline, clean_mask, trace_outline
from meshforge.engines.silhouette.texture import bleed_subject_colours
from meshforge.errors import EngineError
from meshforge.image.frame import FramedImage
from meshforge.transforms.base import StageReport


class SilhouetteEngine:
    name: ClassVar[str] = "silhouette"
    version: ClassVar[str] = "1"
    capabilities: ClassVar[Capabilities] = Capabilities(image=True, textured=True)
    options_model: ClassVar[type[SilhouetteOptions]] = SilhouetteOptions

    def __init__(self, options: SilhouetteOptions | None = None) -> None:
        self.options = options or SilhouetteOptions()

    def generate(
        self, request: GenerationRequest, report: StageReport, progress: ProgressFn
    ) -> Asset:
        framed = request.image
        if framed is None:
            raise EngineError(
                "the silhouette engine needs a photo",
                stage="reconstruct",
                hint="Pass a photo; text prompts need a remote engine.",
            )
        opts = self.options
        photo_w, photo_h = request.photo_size or (framed.size, framed.size)
        camera = photo_camera(
            photo_w,
            photo_h,
            fov_y_deg=opts.fov_y_deg,
            focal_35mm=request.focal_length_35mm,
            distance=opts.camera_distance,
            elevation_deg=opts.elevation_deg,
        )
        report.note(
            "camera",
            {
                "fov_y_deg": round(camera.fov_y_deg, 3),
                "source": camera.source,
                "elevation_deg": opts.elevation_deg,
            },
        )
        report.note("shape", "inflate")

        mask = clean_mask(framed.alpha)
        area = float(mask.sum())
        if area < 64:
            raise EngineError(
                "the subject covers too few pixels to reconstruct",
                stage="reconstruct",
                hint="Use a larger --foreground-ratio.",
            )
        progress(0.1, "outline")
        planar, outline = _fit_budget(mask, area, opts.max_faces)
        progress(0.5, "inflate")

        dist, rho = half_width_maps(mask)
        height = inflation_heights(planar, dist, rho, min_height=0.25) * opts.thickness
        back_index, faces = closed_surface(planar)
        vertices, uv = _lift(framed, camera, planar.points, height, back_index, opts)
        report.change("faces", 0, len(faces))
        report.note("outline_points", int(planar.on_outline.sum()))
        report.note("holes", len(outline.holes))
        progress(0.8, "texture")

        texture = Texture(image=bleed_subject_colours(framed.pixels), name="base_color")
        mesh = Mesh(vertices=vertices, faces=faces, uv=uv, name="subject")
        mesh.normals = vertex_normals(mesh.vertices, mesh.faces)
        material = Material(
            name="subject", base_color_texture=texture, metallic_factor=0.0, roughness_factor=0.8
        )
        return Asset(
            meshes=[mesh],
            materials=[material],
            camera=camera,
            metadata={"shape": "inflate"},
            provenance=Provenance(
                engine=self.name,
                engine_version=self.version,
                engine_options=opts.model_dump(mode="json"),
            ),
        )


def _fit_budget(mask: NDArray[np.uint8], area: float, max_faces: int) -> tuple[PlanarMesh, Outline]:
    """Triangulate the outline as finely as the face budget allows (both sides count)."""
    min_hole_area = max(16.0, area * 0.002)
    spacing = 2.0
    outline = trace_outline(mask, spacing=spacing, min_hole_area=min_hole_area)
    perimeter = sum(len(loop) for loop in outline.loops) * spacing
    # Outline points bound the face count from below: keep them to ~15 % of the budget.
    wanted = max(spacing, perimeter / (0.15 * max_faces))
    if wanted > spacing:
        spacing = wanted
        outline = trace_outline(mask, spacing=spacing, min_hole_area=min_hole_area)
    max_area = max(2.0, area / (0.42 * max_faces))
    for _ in range(12):
        planar = triangulate_outline(outline, max_area)
        faces = 2 * len(planar.triangles)
        if faces <= max_faces:
            return planar, outline
        max_area *= 1.2 * faces / max_faces
        spacing *= 1.1
        outline = trace_outline(mask, spacing=spacing, min_hole_area=min_hole_area)
    raise EngineError(
        f"could not fit the mesh into {max_faces} faces",
        stage="reconstruct",
        hint="Raise --max-faces.",
    )


def _lift(
    framed: FramedImage,
    camera: Camera,
    points: NDArray[np.float64],
    height: NDArray[np.float64],
    back_index: NDArray[np.int64],
    opts: SilhouetteOptions,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Place front and back vertices on their pixels' rays, offset along the view axis."""
    # The camera in framed pixels: framed = scale * photo + offset.
    f = camera.fy * framed.scale
    cx = camera.cx * framed.scale + framed.offset[0]
    cy = camera.cy * framed.scale + framed.offset[1]
    distance = opts.camera_distance
    # Heights are in framed pixels; at the subject's depth one pixel spans distance / f.
    front_w = height * distance / f
    back_w = -front_w * opts.back_ratio

    n_all = int(back_index.max()) + 1
    xy = np.empty((n_all, 2))
    w = np.empty(n_all)
    xy[: len(points)] = points
    w[: len(points)] = front_w
    xy[back_index] = points
    w[back_index[back_index >= len(points)]] = back_w[back_index >= len(points)]

    depth = distance - w
    rays = np.column_stack([(xy[:, 0] - cx) / f, -(xy[:, 1] - cy) / f, -np.ones(n_all)])
    in_camera = rays * depth[:, None]
    pose = camera.camera_to_world
    vertices = in_camera @ pose[:3, :3].T + pose[:3, 3]
    uv = xy / framed.size
    return vertices, uv


def vertex_normals(vertices: NDArray[np.float64], faces: NDArray[np.int64]) -> NDArray[np.float64]:
    """Area-weighted vertex normals."""
    tri = vertices[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_n)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.asarray(normals / np.maximum(length, 1e-12), dtype=np.float64)
