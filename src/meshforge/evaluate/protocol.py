"""The benchmark protocol's rig, constants and ground-truth folders (``eval/PROTOCOL.md``).

Cameras sit on an orbit of radius 2.2 around the origin, 10 degrees above the horizon, with a
vertical field of view of 40 degrees: the input view (512 px) at azimuth 0, the +Z side where the
product's front faces, and twelve turntable views (320 px) every 30 degrees, azimuth 90 being the
+X side. They are ordinary :class:`~meshforge.asset.Camera` objects (OpenGL convention, pixel
centres at +0.5), built with :func:`meshforge.render.camera.look_at_camera`.

A ground-truth folder holds ``gt.glb`` (canonical: +Y up, front +Z, bounding box centred, longest
side 1), ``input.png``, ``mask.png``, ``views/azAAA.png`` (RGBA) and ``meta.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Camera
from meshforge.errors import InputError
from meshforge.render.camera import look_at_camera

if TYPE_CHECKING:
    from meshforge.evaluate.meshes import EvalPrimitive

__all__ = [
    "FSCORE_TAUS",
    "ICP_ITERATIONS",
    "ICP_SAMPLES",
    "ICP_SEED",
    "ICP_START_YAWS_DEG",
    "ICP_TOLERANCE",
    "INPUT_AZIMUTH_DEG",
    "INPUT_RES",
    "RIG_DISTANCE",
    "RIG_ELEVATION_DEG",
    "RIG_FOV_DEG",
    "SAMPLE_SEED",
    "SURFACE_SAMPLES",
    "VIEW_AZIMUTHS_DEG",
    "VIEW_RES",
    "VOXEL_HALF_RANGE",
    "VOXEL_RES",
    "WINDING_THRESHOLD",
    "Z_NEAR",
    "GroundTruth",
    "input_camera",
    "rig_camera",
    "view_cameras",
]

RIG_FOV_DEG = 40.0
RIG_DISTANCE = 2.2
RIG_ELEVATION_DEG = 10.0
INPUT_AZIMUTH_DEG = 0.0
INPUT_RES = 512
VIEW_RES = 320
VIEW_AZIMUTHS_DEG: tuple[int, ...] = tuple(range(0, 360, 30))
Z_NEAR = 0.05

SURFACE_SAMPLES = 20_000  # area-uniform samples per mesh
SAMPLE_SEED = 0  # numpy default_rng seed of the samples, GT and prediction alike
FSCORE_TAUS = (0.05, 0.1)  # normalised units: the longest bounding-box side is 1
VOXEL_RES = 64  # volume IoU: VOXEL_RES^3 cell centres ...
VOXEL_HALF_RANGE = 0.6  # ... over [-0.6, 0.6]^3
WINDING_THRESHOLD = 0.5  # inside <=> generalised winding number > 0.5
ICP_SAMPLES = 5_000  # points a side inside ICP, drawn from the surface samples
ICP_SEED = 1  # one default_rng draws the prediction subset, then the GT subset
ICP_ITERATIONS = 40
ICP_TOLERANCE = 1e-6  # stop when the symmetric chamfer changes by less
ICP_START_YAWS_DEG = (0.0, 90.0, 180.0, 270.0)

ImageF = NDArray[np.float32]
Mask = NDArray[np.bool_]


def rig_camera(azimuth_deg: float, resolution: int) -> Camera:
    """A square camera of the rig at ``azimuth_deg``, looking at the origin."""
    camera = look_at_camera(
        (0.0, 0.0, 0.0),
        RIG_DISTANCE,
        azimuth_deg,
        RIG_ELEVATION_DEG,
        RIG_FOV_DEG,
        resolution,
        resolution,
    )
    camera.source = "protocol"
    return camera


def input_camera() -> Camera:
    """The camera of ``input.png`` and ``mask.png``: azimuth 0, 512 x 512."""
    return rig_camera(INPUT_AZIMUTH_DEG, INPUT_RES)


def view_cameras() -> dict[int, Camera]:
    """The twelve turntable cameras (320 x 320), keyed by azimuth in degrees."""
    return {az: rig_camera(float(az), VIEW_RES) for az in VIEW_AZIMUTHS_DEG}


def read_rgb_over_white(path: Path) -> ImageF:
    """A PNG as float RGB in [0, 1]; images with alpha are composited over white."""
    from PIL import Image

    with Image.open(path) as im:
        has_alpha = im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info)
        if has_alpha:
            rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / np.float32(255)
            a = rgba[..., 3:]
            return np.asarray(rgba[..., :3] * a + (np.float32(1) - a), dtype=np.float32)
        return np.asarray(im.convert("RGB"), dtype=np.float32) / np.float32(255)


def read_mask(path: Path, *, alpha: bool = False) -> Mask:
    """``mask.png`` (grey > 127), or with ``alpha=True`` an RGBA view's alpha > 127."""
    from PIL import Image

    with Image.open(path) as im:
        if alpha:
            return np.asarray(np.asarray(im.convert("RGBA"))[..., 3] > 127)
        return np.asarray(np.asarray(im.convert("L")) > 127)


@dataclass
class GroundTruth:
    """One ground-truth asset folder; images are read at once, geometry on first use."""

    directory: Path
    meta: dict[str, Any]
    mask: Mask
    input_rgb: ImageF
    views: dict[int, ImageF] = field(repr=False)
    view_masks: dict[int, Mask] = field(repr=False)

    @classmethod
    def load(cls, directory: str | Path) -> GroundTruth:
        """Read a folder with ``gt.glb``, ``input.png``, ``mask.png``, ``views/``, ``meta.json``."""
        root = Path(directory)
        needed = [root / "gt.glb", root / "input.png", root / "mask.png"]
        needed += [root / "views" / f"az{az:03d}.png" for az in VIEW_AZIMUTHS_DEG]
        missing = [str(p.relative_to(root)) for p in needed if not p.is_file()]
        if missing:
            raise InputError(
                f"{root} is not a ground-truth folder: missing {', '.join(missing)}",
                stage="evaluate",
                hint="Pass a folder laid out as PROTOCOL.md section 4 describes.",
            )
        meta_path = root / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        view_paths = {az: root / "views" / f"az{az:03d}.png" for az in VIEW_AZIMUTHS_DEG}
        return cls(
            directory=root,
            meta=meta,
            mask=read_mask(root / "mask.png"),
            input_rgb=read_rgb_over_white(root / "input.png"),
            views={az: read_rgb_over_white(p) for az, p in view_paths.items()},
            view_masks={az: read_mask(p, alpha=True) for az, p in view_paths.items()},
        )

    @property
    def name(self) -> str | None:
        value = self.meta.get("name")
        return None if value is None else str(value)

    @property
    def category(self) -> str | None:
        value = self.meta.get("category")
        return None if value is None else str(value)

    @cached_property
    def primitives(self) -> list[EvalPrimitive]:
        """``gt.glb`` as render primitives (already canonical: not normalised again)."""
        from meshforge.evaluate.meshes import load_primitives

        return load_primitives(self.directory / "gt.glb")

    @cached_property
    def samples(self) -> NDArray[np.float64]:
        """The GT's surface samples (``SURFACE_SAMPLES`` x 3)."""
        from meshforge.evaluate.meshes import merged_triangles
        from meshforge.evaluate.metrics import sample_surface

        return sample_surface(*merged_triangles(self.primitives))

    @cached_property
    def occupancy(self) -> Mask:
        """Inside flags of the GT on the volume-IoU grid."""
        from meshforge.evaluate.meshes import merged_triangles
        from meshforge.evaluate.metrics import occupancy

        return occupancy(*merged_triangles(self.primitives))
