"""The ``silhouette`` engine: one photo's mask becomes a closed, textured mesh.

Five shape hypotheses: a surface of revolution (``revolve``, for cans and bottles), a cuboid
(``box``, for packaging), an inflated outline (``inflate``), the outline extruded with rounded
rims (``slab``, for boards and signs, ``slab.py``) or an inflated body with round tubes for its
thin parts (``composite``, for legs and stems, ``composite.py``); ``auto`` boxes outlines with
straight sides and square ends and revolves other symmetric ones (``symmetry.py``). All are built
in the photo's camera. An inflated vertex lies on the ray through its pixel, so from the input
camera the mesh covers exactly the outline; a revolved ring matches its row's width exactly
(``revolve.py``); a box's front face spans the outline's rectangle (``box.py``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, cast

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Asset, Camera, Material, Mesh, Provenance, Texture
from meshforge.engines.base import Capabilities, GenerationRequest, ProgressFn
from meshforge.engines.silhouette.box import (
    BOX_VIEW_ELEVATION_DEG,
    DEPTH_PRIOR,
    build_box,
    depth_from_top_band,
    find_top_edge,
    front_rectangle,
    outline_top,
)
from meshforge.engines.silhouette.camera import (
    camera_to_world,
    framed_intrinsics,
    photo_camera,
    rotate_pixels,
)
from meshforge.engines.silhouette.freeform import (
    build_composite,
    build_inflate,
    build_slab,
    min_hole_area,
)
from meshforge.engines.silhouette.options import SilhouetteOptions
from meshforge.engines.silhouette.outline import clean_mask, trace_outline
from meshforge.engines.silhouette.revolve import revolve_profile, revolve_upright
from meshforge.engines.silhouette.rims import estimate_elevation, taper_elevation
from meshforge.engines.silhouette.symmetry import (
    RowProfile,
    Shape,
    choose_shape,
    row_profile,
    shape_scores,
)
from meshforge.engines.silhouette.texture import bake_texture
from meshforge.errors import EngineError
from meshforge.geometry import vertex_normals
from meshforge.image.frame import FramedImage
from meshforge.render.camera import orbit_pose
from meshforge.transforms.base import StageReport

# A box's taper is believed between these elevations: below, the sides' slope is within the
# outline's noise (a level or long-lens shot); above, the box is seen more from the top than the
# front and the front face no longer spans the outline.
MIN_BOX_TAPER_DEG, MAX_BOX_TAPER_DEG = 2.0, 45.0


class SilhouetteEngine:
    name: ClassVar[str] = "silhouette"
    version: ClassVar[str] = "4"  # 2: shape hypotheses (revolve); 3: box; 4: slab, composite
    capabilities: ClassVar[Capabilities] = Capabilities(image=True, textured=True)
    options_model: ClassVar[type[SilhouetteOptions]] = SilhouetteOptions
    face_budget_option: ClassVar[str | None] = "max_faces"

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
        mask = clean_mask(framed.alpha)
        area = float(mask.sum())
        if area < 64:
            raise EngineError(
                "the subject covers too few pixels to reconstruct",
                stage="reconstruct",
                hint="Use a larger --foreground-ratio.",
            )
        progress(0.1, "outline")
        profile = row_profile(mask, framed.alpha)
        shape = _choose(profile, mask, area, opts.shape, report)
        progress(0.3, shape)
        if shape == "revolve":
            vertices, faces, uv, camera = _revolve(framed, camera, profile, opts, report)
        elif shape == "box":
            vertices, faces, uv, camera = _box(framed, camera, profile, opts, report)
        elif shape == "slab":
            vertices, faces, uv = build_slab(framed, camera, mask, area, opts, report)
        elif shape == "composite":
            vertices, faces, uv = build_composite(framed, camera, mask, area, opts, report)
        else:
            vertices, faces, uv = build_inflate(framed, camera, mask, area, opts, report)
        # The camera as finally used: revolve may have replaced the assumed elevation.
        view_axis = camera.camera_to_world[:3, 2]
        report.note(
            "camera",
            {
                "fov_y_deg": round(camera.fov_y_deg, 3),
                "source": camera.source,
                "elevation_deg": round(float(np.degrees(np.arcsin(view_axis[1]))), 3),
            },
        )
        report.change("faces", 0, len(faces))
        progress(0.8, "texture")

        mesh = Mesh(vertices=vertices, faces=faces, uv=uv, name="subject")
        mesh.normals = vertex_normals(mesh.vertices, mesh.faces)
        bake_notes: dict[str, object] = {}
        image = bake_texture(
            framed,
            camera,
            mesh.vertices,
            mesh.faces,
            mesh.normals,
            delight=opts.delight,
            notes=bake_notes,
        )
        report.note("texture", bake_notes)
        texture = Texture(image=image, name="base_color")
        material = Material(
            name="subject", base_color_texture=texture, metallic_factor=0.0, roughness_factor=0.8
        )
        return Asset(
            meshes=[mesh],
            materials=[material],
            camera=camera,
            metadata={"shape": shape},
            provenance=Provenance(
                engine=self.name,
                engine_version=self.version,
                engine_options=opts.model_dump(mode="json"),
            ),
        )


def _choose(
    profile: RowProfile, mask: NDArray[np.uint8], area: float, wanted: str, report: StageReport
) -> Shape:
    """The user's shape, else the symmetry test's; the scores are reported either way."""
    scores = shape_scores(profile)
    holes = len(trace_outline(mask, spacing=2.0, min_hole_area=min_hole_area(area)).holes)
    report.note("shape_scores", {**{k: round(v, 4) for k, v in scores.items()}, "holes": holes})
    shape: Shape
    if wanted != "auto":
        shape, reason = cast(Shape, wanted), "chosen by the user"
    else:
        shape, reason = choose_shape(scores, holes)
    report.note("shape", shape)
    report.note("shape_reason", reason)
    return shape


def _revolve(
    framed: FramedImage,
    camera: Camera,
    profile: RowProfile,
    opts: SilhouetteOptions,
    report: StageReport,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64], Camera]:
    """A surface of revolution through the mask's rows (``revolve.py``).

    When rim ellipses show the camera above a can or jar (``rims.py``) and no elevation was
    given, the body is built upright between the rim planes for the estimated elevation, and the
    returned camera carries that elevation; otherwise rings are level in the given camera. When
    both rims together measure a cross-section clearly not round, the rings are ellipses of that
    depth/width aspect.
    """
    f, cx, cy = framed_intrinsics(camera, framed.scale, framed.offset)
    rims = estimate_elevation(profile, f, cy) if opts.elevation_deg == 0 else None
    aspect, aspect_source = 1.0, "assumed round: no rim ellipse measured"
    if rims is not None:
        aspect, aspect_source = rims.aspect, rims.aspect_how
        report.note("elevation_deg_estimated", round(rims.elevation_deg, 2))
        report.note("elevation_source", rims.how)
        if rims.aspect_measured is not None and rims.aspect_uncertainty is not None:
            report.note("cross_section_aspect_measured", round(rims.aspect_measured, 4))
            report.note("cross_section_aspect_uncertainty", round(rims.aspect_uncertainty, 4))
        camera = replace(
            camera,
            camera_to_world=orbit_pose(
                (0.0, 0.0, 0.0), opts.camera_distance, 0.0, rims.elevation_deg
            ),
        )
        mesh = revolve_upright(
            profile,
            top_row=rims.top.centre_row if rims.top else None,
            bottom_row=rims.bottom.centre_row if rims.bottom else None,
            focal=f,
            centre=(cx, cy),
            distance=opts.camera_distance,
            elevation_deg=rims.elevation_deg,
            max_faces=opts.max_faces,
            aspect=aspect,
        )
    else:
        mesh = revolve_profile(
            profile,
            focal=f,
            centre=(cx, cy),
            distance=opts.camera_distance,
            max_faces=opts.max_faces,
        )
    report.note("cross_section_aspect", round(aspect, 4))
    report.note("cross_section_aspect_source", aspect_source)
    report.note("rings", mesh.rings)
    report.note("segments", mesh.segments)
    uv = np.clip(mesh.pixels / framed.size, 0.0, 1.0)
    return camera_to_world(camera, mesh.vertices), mesh.faces, uv, camera


def _box(
    framed: FramedImage,
    camera: Camera,
    profile: RowProfile,
    opts: SilhouetteOptions,
    report: StageReport,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64], Camera]:
    """A cuboid on the outline's rectangle; depth from a visible top face, else a prior.

    With no elevation given, the sides converging downwards give it (``rims.taper_elevation``).
    With an elevation the box is built upright, in a level camera at the photo camera's place
    (the outline turned into that camera's view, ``rotate_pixels``), and the returned camera
    carries the elevation; no measurable taper keeps the box square to a level camera.
    """
    f, cx, cy = framed_intrinsics(camera, framed.scale, framed.offset)
    rect = front_rectangle(profile)
    left, right, top, bottom = rect
    level: NDArray[np.float64] | None = None  # the photo camera's frame to the level camera's
    elevation = opts.elevation_deg
    if elevation == 0:
        taper = taper_elevation(profile, f, cy, top, bottom)
        if taper is not None and MIN_BOX_TAPER_DEG <= taper <= MAX_BOX_TAPER_DEG:
            elevation = taper
            report.note("elevation_deg_estimated", round(taper, 2))
            report.note("elevation_source", "the box's sides converging downwards")
    if elevation != 0:
        camera = replace(
            camera,
            camera_to_world=orbit_pose((0.0, 0.0, 0.0), opts.camera_distance, 0.0, elevation),
        )
        level = camera.camera_to_world[:3, :3]
    depth_elevation = elevation if elevation > 0 else BOX_VIEW_ELEVATION_DEG
    edge = find_top_edge(framed.pixels, rect)
    ratio = None
    if edge is not None:
        top = outline_top(framed.alpha, rect)
        ratio = depth_from_top_band(
            (top, edge, bottom),
            width_px=right - left,
            focal=f,
            centre_row=cy,
            distance=opts.camera_distance,
            elevation_deg=depth_elevation,
        )
    if ratio is not None and edge is not None:
        source = (
            f"top face seen above the front (rows {top:.0f}-{edge:.0f}), {depth_elevation:.3g} deg"
        )
        rect = (left, right, edge, bottom)
    else:
        ratio = DEPTH_PRIOR
        source = "prior (no top face seen)" if edge is None else "prior (top band implausible)"
    if level is not None:
        rect, top = _level_rectangle(profile, rect, top, level, f, (cx, cy))
    mesh = build_box(
        rect,
        outline_top=top,
        depth_ratio=ratio,
        band=source.startswith("top"),
        focal=f,
        centre=(cx, cy),
        distance=opts.camera_distance,
        max_faces=opts.max_faces,
    )
    report.note("box_depth_ratio", round(ratio, 4))
    report.note("box_depth_source", source)
    report.note("box_cells", list(mesh.cells))
    pixels, vertices = mesh.pixels, mesh.vertices
    if level is not None:
        # Built in the level camera: its vertices and pixels back into the photo camera's.
        pixels = rotate_pixels(pixels, level.T, f, (cx, cy))
        vertices = vertices @ level  # level frame -> photo camera frame
    uv = np.clip(pixels / framed.size, 0.0, 1.0)
    return camera_to_world(camera, vertices), mesh.faces, uv, camera


def _level_rectangle(
    profile: RowProfile,
    rect: tuple[float, float, float, float],
    outline_top: float,
    level: NDArray[np.float64],
    focal: float,
    centre: tuple[float, float],
) -> tuple[tuple[float, float, float, float], float]:
    """The front face's trapezoid (straight lines through the sides' middle rows) seen by the
    level camera: a rectangle there, since the face is upright; and the outline top's row."""
    n = len(profile.left)
    middle = slice(int(0.1 * n), max(int(0.9 * n), int(0.1 * n) + 2))
    rows = profile.rows[middle]
    left_line = np.polyfit(rows, profile.left[middle], 1)
    right_line = np.polyfit(rows, profile.right[middle], 1)
    _, _, top, bottom = rect
    corners = np.array(
        [
            [np.polyval(left_line, top), top],
            [np.polyval(right_line, top), top],
            [np.polyval(left_line, bottom), bottom],
            [np.polyval(right_line, bottom), bottom],
            [(np.polyval(left_line, top) + np.polyval(right_line, top)) / 2, outline_top],
        ]
    )
    turned = rotate_pixels(corners, level, focal, centre)
    square = (
        float((turned[0, 0] + turned[2, 0]) / 2),
        float((turned[1, 0] + turned[3, 0]) / 2),
        float((turned[0, 1] + turned[1, 1]) / 2),
        float((turned[2, 1] + turned[3, 1]) / 2),
    )
    return square, float(turned[4, 1])
