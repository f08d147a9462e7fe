"""``Asset``: the one in-memory type that travels from the engine to the exporters.

Conventions (docs/architecture.md): metres, +Y up, the product's front faces +Z. Texture
coordinates follow glTF: ``u`` to the right, ``v`` downwards from the image's top-left corner, so
``texture[int(v * h), int(u * w)]`` is the texel. Colour textures hold sRGB ``uint8`` pixels.
Assets are treated as values: transforms return a new Asset and leave their input unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from meshforge.transforms.base import (
        ProgressCallback,
        StageReport,
        Transform,
        TransformFunction,
    )

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
ImageArray = NDArray[np.uint8]


@dataclass
class Texture:
    """An image used by a material (``H x W x C`` uint8; colour maps are sRGB)."""

    image: ImageArray
    name: str = "texture"

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


@dataclass
class Material:
    """A glTF 2.0 metallic-roughness material."""

    name: str = "material"
    base_color_factor: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    base_color_texture: Texture | None = None
    metallic_factor: float = 0.0
    roughness_factor: float = 0.8
    normal_texture: Texture | None = None
    occlusion_roughness_metallic_texture: Texture | None = None
    alpha_mode: Literal["OPAQUE", "MASK", "BLEND"] = "OPAQUE"
    alpha_cutoff: float = 0.5  # MASK: fragments with a lower alpha are cut away
    double_sided: bool = False


@dataclass
class Mesh:
    """A triangle mesh with one material; ``uv`` and ``normals`` are per vertex when present."""

    vertices: FloatArray
    faces: IntArray
    uv: FloatArray | None = None
    normals: FloatArray | None = None
    material: int = 0
    name: str = "mesh"

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float64).reshape(-1, 3)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int64).reshape(-1, 3)
        if self.uv is not None:
            self.uv = np.ascontiguousarray(self.uv, dtype=np.float64).reshape(-1, 2)
            if len(self.uv) != len(self.vertices):
                raise ValueError("mesh: uv must have one row per vertex")
        if self.normals is not None:
            self.normals = np.ascontiguousarray(self.normals, dtype=np.float64).reshape(-1, 3)
        if len(self.faces) and (self.faces.min() < 0 or self.faces.max() >= len(self.vertices)):
            raise ValueError("mesh: a face refers to a vertex that does not exist")


@dataclass
class Camera:
    """A pinhole camera in the asset's frame, with intrinsics in the input photo's pixels.

    OpenGL convention: the camera looks down its local -Z, +Y up, +X right;
    ``camera_to_world`` is a 4x4 pose. Pixel centres sit at +0.5 (column, row).
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    camera_to_world: FloatArray
    source: str = "default"

    @property
    def fov_y_deg(self) -> float:
        return float(np.degrees(2 * np.arctan(self.height / 2 / self.fy)))

    def project(self, points: FloatArray) -> FloatArray:
        """Pixel coordinates (column, row) and depth in front of the camera, one row per point."""
        world_to_camera = np.linalg.inv(self.camera_to_world)
        p = points @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
        depth = -p[:, 2]
        col = self.cx + self.fx * p[:, 0] / depth
        row = self.cy - self.fy * p[:, 1] / depth
        return np.column_stack([col, row, depth])

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "fx": self.fx,
            "fy": self.fy,
            "cx": self.cx,
            "cy": self.cy,
            "fov_y_deg": round(self.fov_y_deg, 4),
            "camera_to_world": np.asarray(self.camera_to_world).round(9).tolist(),
            "source": self.source,
        }


@dataclass
class RealSize:
    """The asset's bounding-box extents in metres and where the scale came from."""

    width: float
    height: float
    depth: float
    source: Literal["user", "default", "engine"] = "default"

    def to_dict(self) -> dict[str, Any]:
        return {
            "width_m": self.width,
            "height_m": self.height,
            "depth_m": self.depth,
            "source": self.source,
        }


@dataclass(frozen=True)
class InputRecord:
    """One input as it was read: kind, path (none for a prompt), content digest."""

    kind: str
    path: str
    sha256: str
    bytes: int
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        where = {"path": self.path} if self.path else {}
        return {
            "kind": self.kind,
            **where,
            "sha256": self.sha256,
            "bytes": self.bytes,
            **self.details,
        }


@dataclass
class Provenance:
    """Where the asset came from: inputs, the engine that made it and its options."""

    inputs: list[InputRecord] = field(default_factory=list)
    engine: str = ""
    engine_version: str = ""
    engine_options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [i.to_dict() for i in self.inputs],
            "engine": self.engine,
            "engine_version": self.engine_version,
            "engine_options": self.engine_options,
        }


@dataclass
class Asset:
    """Meshes with PBR materials, a real-world size, the input camera, provenance and reports."""

    meshes: list[Mesh]
    materials: list[Material] = field(default_factory=lambda: [Material()])
    size: RealSize | None = None
    camera: Camera | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)
    reports: list[StageReport] = field(default_factory=list)

    @property
    def face_count(self) -> int:
        return sum(len(m.faces) for m in self.meshes)

    @property
    def vertex_count(self) -> int:
        return sum(len(m.vertices) for m in self.meshes)

    def bounds(self) -> FloatArray:
        """Axis-aligned bounds as ``[[xmin, ymin, zmin], [xmax, ymax, zmax]]``."""
        used = [m.vertices[np.unique(m.faces)] for m in self.meshes if len(m.faces)]
        if not used:
            raise ValueError("asset: it has no faces, so it has no bounds")
        points = np.concatenate(used)
        return np.stack([points.min(axis=0), points.max(axis=0)])

    def extents(self) -> FloatArray:
        b = self.bounds()
        return np.asarray(b[1] - b[0], dtype=np.float64)

    def copy(self) -> Asset:
        return copy.deepcopy(self)

    def with_report(self, report: StageReport) -> Asset:
        return dataclasses.replace(self, reports=[*self.reports, report])

    def transform(
        self,
        *steps: Transform | TransformFunction,
        on_progress: ProgressCallback | None = None,
    ) -> Asset:
        """Apply transforms in order; each appends its StageReport. The original is unchanged."""
        from meshforge.transforms.base import run_transform

        asset = self
        for step in steps:
            asset = run_transform(asset, step, on_progress)
        return asset

    def apply_similarity(self, scale: float, translation: Iterable[float]) -> Asset:
        """``p -> scale * p + translation`` for every vertex and the camera (projection kept)."""
        t = np.asarray(list(translation), dtype=np.float64)
        meshes = [dataclasses.replace(m, vertices=m.vertices * scale + t) for m in self.meshes]
        camera = None
        if self.camera is not None:
            pose = np.array(self.camera.camera_to_world, dtype=np.float64)
            pose[:3, 3] = pose[:3, 3] * scale + t
            camera = dataclasses.replace(self.camera, camera_to_world=pose)
        return dataclasses.replace(self, meshes=meshes, camera=camera)

    def warnings(self) -> list[Any]:
        """Every warning any stage raised, in order."""
        return [w for r in self.reports for w in r.warnings]
