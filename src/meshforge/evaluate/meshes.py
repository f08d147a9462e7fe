"""Mesh files as the protocol sees them: every triangle, node transforms applied, no welding.

``load_primitives`` reads any file trimesh reads (GLB, glTF, OBJ, PLY, STL ...) into
:class:`EvalPrimitive` objects in world space, keeping what the benchmark's renderer uses: the
base colour factor (linear) and texture, vertex colours (sRGB in every format, as the protocol
says), the alpha mode and cut-off, and the normals stored in the file (none: flat shading).
Per-face colours are unshared into per-vertex ones. ``meshforge.load`` is not used: it drops
vertex colours, alpha modes and file normals, which the renders need.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from meshforge.errors import InputError

if TYPE_CHECKING:
    import trimesh

__all__ = [
    "DEFAULT_BASE_COLOR",
    "EvalPrimitive",
    "load_primitives",
    "merged_triangles",
    "mesh_facts",
    "normalisation_transform",
    "normalise",
    "transform_primitives",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
AlphaMode = Literal["OPAQUE", "MASK", "BLEND"]
RGBA = tuple[float, float, float, float]

DEFAULT_BASE_COLOR: RGBA = (0.8, 0.8, 0.8, 1.0)  # linear, for meshes with no colour at all


@dataclass(frozen=True)
class EvalPrimitive:
    """One drawable triangle set in world space with a base-colour-only material."""

    positions: FloatArray  # (N, 3)
    faces: IntArray  # (M, 3)
    normals: FloatArray | None = None  # (N, 3) from the file; None: flat shading
    uv: FloatArray | None = None  # (N, 2) glTF convention: v runs down from the top row
    colors: FloatArray | None = None  # (N, 4) sRGB vertex colours in [0, 1]
    base_color_factor: RGBA = DEFAULT_BASE_COLOR  # linear RGBA
    texture: NDArray[np.uint8] | None = None  # (H, W, 4) sRGB base colour
    alpha_mode: AlphaMode = "OPAQUE"
    alpha_cutoff: float = 0.5
    name: str = ""

    def transformed(self, matrix: NDArray[np.floating]) -> EvalPrimitive:
        """A copy moved by a 4x4 affine map; normals by the inverse transpose, renormalised.

        A mirroring map reverses the faces, so the winding (and the winding number) is kept.
        """
        m = np.asarray(matrix, dtype=np.float64)
        positions = self.positions @ m[:3, :3].T + m[:3, 3]
        normals = None
        if self.normals is not None:
            normals = self.normals @ np.linalg.inv(m[:3, :3])
            normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        faces = self.faces if np.linalg.det(m[:3, :3]) > 0 else self.faces[:, ::-1]
        return dataclasses.replace(self, positions=positions, faces=faces, normals=normals)


def transform_primitives(
    prims: list[EvalPrimitive], matrix: NDArray[np.floating]
) -> list[EvalPrimitive]:
    return [p.transformed(matrix) for p in prims]


def _srgb_to_linear(c: FloatArray) -> FloatArray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _linear_factor(value: Any) -> RGBA:
    """A material's base colour factor as linear floats (trimesh keeps it as uint8 RGBA)."""
    f = np.asarray(value).ravel()
    integer = f.dtype.kind in "ui" and f.size != 3  # a 3-vector is padded as floats first
    f = f.astype(np.float64)
    if f.size == 3:
        f = np.append(f, 1.0 if f.max() <= 1.0 else 255.0)
    if integer or f.max() > 1.0 + 1e-6:
        f = f / 255.0
    return (float(f[0]), float(f[1]), float(f[2]), float(f[3]))


def _rgba_texture(image: Any) -> NDArray[np.uint8]:
    return np.ascontiguousarray(np.asarray(image.convert("RGBA"), dtype=np.uint8))


def _primitive(geometry: trimesh.Trimesh, name: str) -> EvalPrimitive:
    """One trimesh geometry (in its own frame) as an EvalPrimitive."""
    import trimesh

    visual: Any = geometry.visual  # ColorVisuals or TextureVisuals, told apart by ``kind``
    positions = np.asarray(geometry.vertices, dtype=np.float64)
    faces = np.asarray(geometry.faces, dtype=np.int64)
    normals = None
    if "vertex_normals" in geometry._cache.cache:  # only normals stored in the file count
        normals = np.asarray(geometry.vertex_normals, dtype=np.float64)
    uv = colors = None
    texture: NDArray[np.uint8] | None = None
    factor = DEFAULT_BASE_COLOR
    alpha_mode: str = "OPAQUE"
    cutoff = 0.5
    kind = getattr(visual, "kind", None)
    if kind == "texture":
        material = visual.material
        visual_uv = getattr(visual, "uv", None)
        if visual_uv is not None and len(visual_uv) == len(positions):
            uv = np.asarray(visual_uv, dtype=np.float64).copy()
            uv[:, 1] = 1.0 - uv[:, 1]  # trimesh flips v on import; back to glTF
        image = None
        if isinstance(material, trimesh.visual.material.PBRMaterial):
            image = material.baseColorTexture
            if material.baseColorFactor is not None:
                factor = _linear_factor(material.baseColorFactor)
            else:
                factor = (1.0, 1.0, 1.0, 1.0)
            alpha_mode = str(material.alphaMode or "OPAQUE").upper()
            cutoff = 0.5 if material.alphaCutoff is None else float(material.alphaCutoff)
        elif isinstance(material, trimesh.visual.material.SimpleMaterial):
            image = material.image
            if image is None and material.diffuse is not None:
                d = np.asarray(material.diffuse, dtype=np.float64) / 255.0
                r, g, b = _srgb_to_linear(d[:3])
                factor = (float(r), float(g), float(b), float(d[3]))
            else:
                factor = (1.0, 1.0, 1.0, 1.0)  # map_Kd replaces Kd
        if image is not None and uv is not None:
            texture = _rgba_texture(image)
        attributes = getattr(visual, "vertex_attributes", None)
        if attributes and "color" in attributes:
            colors = np.asarray(attributes["color"], dtype=np.float64)
            colors = colors / (255.0 if colors.max() > 1.0 else 1.0)
            if colors.shape[1] == 3:
                colors = np.hstack([colors, np.ones((len(colors), 1))])
    elif kind == "face":  # unshare the vertices so that every face keeps its colour
        face_colors = np.asarray(visual.face_colors, dtype=np.float64) / 255.0
        positions = positions[faces].reshape(-1, 3)
        if normals is not None:
            normals = normals[faces].reshape(-1, 3)
        colors = np.repeat(face_colors, 3, axis=0)
        faces = np.arange(len(positions), dtype=np.int64).reshape(-1, 3)
        factor = (1.0, 1.0, 1.0, 1.0)
    elif kind == "vertex":
        colors = np.asarray(visual.vertex_colors, dtype=np.float64) / 255.0
        factor = (1.0, 1.0, 1.0, 1.0)
    if alpha_mode not in ("OPAQUE", "MASK", "BLEND"):
        alpha_mode = "OPAQUE"
    if colors is not None and alpha_mode == "OPAQUE" and colors[:, 3].min() < 1.0:
        colors = colors.copy()
        colors[:, 3] = 1.0
    return EvalPrimitive(
        positions=positions,
        faces=faces,
        normals=normals,
        uv=uv,
        colors=colors,
        base_color_factor=factor,
        texture=texture,
        alpha_mode=alpha_mode,  # type: ignore[arg-type]
        alpha_cutoff=cutoff,
        name=name,
    )


def load_primitives(path: str | Path) -> list[EvalPrimitive]:
    """Every triangle mesh of a file in world space (node transforms applied, instances kept).

    Point clouds, lines and meshes without faces are skipped; a file with no triangle at all is
    an :class:`~meshforge.errors.InputError`.
    """
    import trimesh

    source = Path(path)
    if not source.is_file():
        raise InputError(f"{source} does not exist", stage="evaluate", hint="Check the path.")
    try:
        scene = trimesh.load_scene(source, process=False)
    except Exception as exc:  # trimesh raises many types for unreadable files
        raise InputError(
            f"cannot read {source}: {exc}",
            stage="evaluate",
            hint="Pass a GLB, glTF, OBJ, PLY or STL file.",
        ) from exc
    prims = []
    for node in scene.graph.nodes_geometry:
        matrix, geometry_name = scene.graph[node]
        geometry = scene.geometry[geometry_name]
        if not isinstance(geometry, trimesh.Trimesh) or len(geometry.faces) == 0:
            continue
        prim = _primitive(geometry, str(geometry_name))
        prims.append(prim.transformed(np.asarray(matrix, dtype=np.float64)))
    if not prims:
        raise InputError(
            f"{source} holds no triangles", stage="evaluate", hint="Pass a triangle mesh file."
        )
    return prims


def merged_triangles(prims: list[EvalPrimitive]) -> tuple[FloatArray, IntArray]:
    """All primitives as one triangle soup ``(V, F)``; vertices are not welded."""
    if not prims:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    offsets = np.cumsum([0] + [len(p.positions) for p in prims[:-1]])
    vertices = np.concatenate([p.positions for p in prims])
    faces = np.concatenate([p.faces + o for p, o in zip(prims, offsets, strict=True)])
    return vertices, faces.astype(np.int64)


def used_bounds(prims: list[EvalPrimitive]) -> FloatArray:
    """``[[min], [max]]`` of the vertices that some face refers to."""
    used = [p.positions[np.unique(p.faces)] for p in prims if len(p.faces)]
    if not used:
        raise InputError("the mesh has no faces, so it has no bounds", stage="evaluate")
    points = np.concatenate(used)
    return np.stack([points.min(axis=0), points.max(axis=0)])


def normalisation_transform(prims: list[EvalPrimitive], longest: float = 1.0) -> FloatArray:
    """The 4x4 similarity taking the bounding-box centre to the origin, the longest side to 1."""
    lo, hi = used_bounds(prims)
    scale = longest / max(float((hi - lo).max()), 1e-12)
    matrix = np.eye(4)
    matrix[:3, :3] *= scale
    matrix[:3, 3] = -(lo + hi) / 2.0 * scale
    return matrix


def normalise(prims: list[EvalPrimitive]) -> list[EvalPrimitive]:
    """The protocol's normalisation: no rotation, bbox centred, longest side 1."""
    return transform_primitives(prims, normalisation_transform(prims))


def mesh_facts(path: str | Path, prims: list[EvalPrimitive]) -> dict[str, Any]:
    """Facts of a prediction file: counts as loaded; watertightness after welding by position."""
    import trimesh

    vertices, faces = merged_triangles(prims)
    welded = trimesh.Trimesh(vertices, faces, process=False)
    welded.merge_vertices(merge_tex=True, merge_norm=True)  # by position only
    return {
        "faces": len(faces),
        "vertices": sum(len(p.positions) for p in prims),
        "geometries": len(prims),
        "watertight": bool(welded.is_watertight),
        "winding_consistent": bool(welded.is_winding_consistent),
        "has_uv": any(p.uv is not None for p in prims),
        "has_basecolor_texture": any(p.texture is not None for p in prims),
        "has_vertex_colors": any(p.colors is not None for p in prims),
        "file_bytes": Path(path).stat().st_size,
    }
