"""Options of the built-in ``silhouette`` engine, with their defaults in one place."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from meshforge.engines.silhouette.slab import DEFAULT_SLAB_THICKNESS
from meshforge.recipe import Options

# The default lens: a 40 degree vertical field of view, as in a typical catalogue shot with a
# normal lens (about 30 mm in 35 mm terms on a 3:2 frame); EXIF focal length overrides it.
DEFAULT_FOV_Y_DEG = 40.0
# The inflated shape is built in the image plane, so assuming a level camera keeps it upright;
# the shape-fitting engines estimate the real elevation.
DEFAULT_ELEVATION_DEG = 0.0


class SilhouetteOptions(Options):
    """How the silhouette engine turns a mask into a closed, textured mesh."""

    shape: Literal["auto", "revolve", "inflate", "box", "slab", "composite"] = Field(
        default="auto",
        description=(
            "Shape hypothesis: 'revolve' (a body of revolution: cans, bottles, jars), 'inflate'"
            " (a rounded, pillow-like body), 'box' (a cuboid: cartons, packaging), 'slab' (the"
            " outline extruded with rounded rims: signs, boards, phone cases; see"
            " slab_thickness), 'composite' (an inflated body with round tubes for its thin"
            " parts: legs, handles, stems), or 'auto' (box when the outline has straight sides"
            " and square ends, else revolve when it is symmetric with no hole or handle, else"
            " inflate)."
        ),
    )
    max_faces: int = Field(
        default=20_000, ge=500, le=500_000, description="Face budget of the output mesh."
    )
    thickness: float = Field(
        default=1.0,
        gt=0.0,
        le=4.0,
        description="Depth of the inflated shape relative to a round cross-section (1 = round).",
    )
    slab_thickness: float = Field(
        default=DEFAULT_SLAB_THICKNESS,
        gt=0.0,
        le=1.0,
        description=(
            "Thickness of a 'slab' as a fraction of the outline's shorter side (its minimum-area"
            " rectangle's); the rims are rounded with half of it."
        ),
    )
    back_ratio: float = Field(
        default=1.0, gt=0.0, le=2.0, description="Depth of the back half relative to the front."
    )
    fov_y_deg: float | None = Field(
        default=None,
        gt=1.0,
        lt=120.0,
        description="Vertical field of view of the photo; default: from EXIF, else 40 degrees.",
    )
    elevation_deg: float = Field(
        default=DEFAULT_ELEVATION_DEG,
        ge=-60.0,
        le=60.0,
        description="How far above the subject the camera was, in degrees.",
    )
    camera_distance: float = Field(
        default=2.2, gt=0.0, description="Camera distance in engine units (scale is set later)."
    )
    delight: bool = Field(
        default=True,
        description=(
            "Reduce the lighting baked into the photo (divide by the shading the reconstructed"
            " normals explain) so that the asset can be relit."
        ),
    )
