"""GLB, glTF, OBJ, PLY and STL through trimesh, with node transforms applied.

From glTF's metallic-roughness materials it keeps the base colour texture (with its alpha) and
factor, the metallic and roughness factors, the normal texture, the occlusion and
metallic-roughness textures packed into one ORM texture, alphaMode and doubleSided; vertex
normals are kept when the file has them. OBJ materials give the ``map_Kd`` texture and the
``Kd``/``d`` colour. STL carries no units or axes and is read as millimetres, +Z up.

trimesh shares one material and one image between the primitives that use them, so nothing
read from it is modified in place: every array here is a new one.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from meshforge.asset import Asset, FloatArray, Material, Mesh, Texture
from meshforge.errors import InputError
from meshforge.loading.common import image_array, real_size, stack_channels

if TYPE_CHECKING:
    from PIL import Image

ALPHA_MODES = ("OPAQUE", "MASK", "BLEND")


def read_trimesh(source: Path) -> Asset:
    """Every mesh of every node of ``source``'s scene, one Material per file material."""
    import trimesh

    try:
        scene = trimesh.load_scene(source)
    except Exception as exc:  # trimesh raises many types for unreadable files
        raise InputError(
            f"cannot read {source}: {exc}",
            stage="load",
            hint="Pass a GLB, glTF, OBJ, PLY, STL or USDZ file.",
        ) from exc
    reader = _Materials(_gltf_materials(source))
    meshes: list[Mesh] = []
    for node in scene.graph.nodes_geometry:
        transform, geometry_name = scene.graph[node]
        geometry = scene.geometry[geometry_name]
        if not hasattr(geometry, "faces") or len(geometry.faces) == 0:
            continue
        meshes.append(_mesh(geometry, str(geometry_name), np.asarray(transform), reader))
    if source.suffix.lower() == ".stl":
        _from_printer_frame(meshes)
    return Asset(
        meshes=meshes,
        materials=reader.materials or [Material()],
        size=real_size(scene.metadata),
    )


def _mesh(geometry: Any, name: str, transform: FloatArray, reader: _Materials) -> Mesh:
    import trimesh

    vertices = trimesh.transform_points(geometry.vertices, transform)
    faces = np.array(geometry.faces, dtype=np.int64)
    linear = transform[:3, :3]
    if np.linalg.det(linear) < 0:
        faces = faces[:, ::-1]  # a mirroring node turns the faces inside out; keep them outward
    normals = None
    # Only normals the file holds: reading ``vertex_normals`` would compute and cache them.
    stored = geometry._cache["vertex_normals"]
    if stored is not None and np.shape(stored) == np.shape(geometry.vertices):
        normals = np.asarray(stored, dtype=np.float64) @ np.linalg.pinv(linear)
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = np.where(length > 0, normals / np.where(length > 0, length, 1.0), normals)
    uv = None
    visual = geometry.visual
    textured = getattr(visual, "kind", None) == "texture" and visual.uv is not None
    if textured and len(visual.uv) == len(geometry.vertices):
        # trimesh turns glTF's v-down coordinates v-up on load; meshforge keeps glTF's.
        uv = np.column_stack([visual.uv[:, 0], 1.0 - visual.uv[:, 1]])
    material = reader.index(getattr(visual, "material", None), name)
    return Mesh(vertices, faces, uv=uv, normals=normals, material=material, name=name)


class _Materials:
    """meshforge Materials made from trimesh's, each made once however many meshes use it."""

    def __init__(self, gltf: list[dict[str, Any]]) -> None:
        self.gltf = gltf
        self.materials: list[Material] = []
        self._made: dict[int, int] = {}
        self._textures: dict[tuple[int, bool], Texture] = {}
        self._orms: dict[tuple[int, int], Texture | None] = {}
        self._placeholder: Any = None

    def index(self, source: Any, mesh_name: str) -> int:
        if source is None or self._is_placeholder_material(source):
            self.materials.append(Material(name=mesh_name))
            return len(self.materials) - 1
        key = id(source)
        if key not in self._made:
            self.materials.append(self._material(source, mesh_name))
            self._made[key] = len(self.materials) - 1
        return self._made[key]

    def _material(self, source: Any, mesh_name: str) -> Material:
        from trimesh.visual.material import PBRMaterial

        name = str(getattr(source, "name", None) or mesh_name)
        if isinstance(source, PBRMaterial):
            return self._pbr(source, name)
        material = Material(name=name)
        image = getattr(source, "image", None)
        if image is not None and not self._is_placeholder(image):
            material.base_color_texture = self._texture(image, "base_color")
        kwargs = getattr(source, "kwargs", None) or {}
        if "kd" in kwargs:  # an MTL colour; without one trimesh invents a grey
            r, g, b = (float(v) for v in np.ravel(kwargs["kd"]).astype(np.float64)[:3])
            alpha = _mtl_alpha(kwargs)
            material.base_color_factor = (r, g, b, alpha)
            if alpha < 1.0:
                material.alpha_mode = "BLEND"
        return material

    def _pbr(self, source: Any, name: str) -> Material:
        material = Material(name=name)
        factor = source.baseColorFactor
        if factor is not None:
            material.base_color_factor = (
                self._exact_factor(source)
                or tuple(  # type: ignore[assignment]
                    float(v) / 255.0 for v in np.asarray(factor).reshape(-1)[:4]
                )
            )
        # glTF's defaults where the file leaves them out, not meshforge's.
        metallic, roughness = source.metallicFactor, source.roughnessFactor
        material.metallic_factor = 1.0 if metallic is None else float(metallic)
        material.roughness_factor = 1.0 if roughness is None else float(roughness)
        if source.baseColorTexture is not None:
            material.base_color_texture = self._texture(source.baseColorTexture, "base_color")
        if source.normalTexture is not None:
            material.normal_texture = self._texture(source.normalTexture, "normal")
        material.occlusion_roughness_metallic_texture = self._orm(
            source.occlusionTexture, source.metallicRoughnessTexture
        )
        mode = str(source.alphaMode or "OPAQUE").upper()
        material.alpha_mode = mode if mode in ALPHA_MODES else "OPAQUE"  # type: ignore[assignment]
        cutoff = getattr(source, "alphaCutoff", None)
        if cutoff is not None and 0.0 <= float(cutoff) <= 1.0:
            material.alpha_cutoff = float(cutoff)
        material.double_sided = bool(source.doubleSided)
        return material

    def _exact_factor(self, source: Any) -> tuple[float, float, float, float] | None:
        """trimesh keeps baseColorFactor as 8-bit RGBA: take the file's own value from the glTF
        material with the same name and the same 8-bit colour, when exactly one value fits."""
        from trimesh.visual.color import to_rgba

        fits = set()
        for entry in self.gltf:
            factor = (entry.get("pbrMetallicRoughness") or {}).get("baseColorFactor")
            if entry.get("name") != source.name or not isinstance(factor, list) or len(factor) != 4:
                continue
            exact = tuple(float(v) for v in factor)
            if np.array_equal(to_rgba(np.array(exact)), np.asarray(source.baseColorFactor)):
                fits.add(exact)
        return fits.pop() if len(fits) == 1 else None  # type: ignore[return-value]

    def _texture(self, image: Image.Image, name: str) -> Texture:
        """Colour keeps its alpha; a normal map is RGB. Shared images give one shared Texture."""
        key = (id(image), name == "base_color")
        if key not in self._textures:
            self._textures[key] = Texture(image_array(image, keep_alpha=key[1]), name)
        return self._textures[key]

    def _orm(
        self, occlusion: Image.Image | None, metal_rough: Image.Image | None
    ) -> Texture | None:
        """R from the occlusion texture's R, G and B from the metallic-roughness texture's G and
        B (glTF's channels); 255 where a texture is missing, so the factors apply unchanged."""
        key = (id(occlusion), id(metal_rough))
        if key in self._orms:
            return self._orms[key]
        texture: Texture | None
        if occlusion is not None and occlusion is metal_rough:
            texture = Texture(image_array(occlusion, keep_alpha=False), "orm")
        else:
            occ = image_array(occlusion, keep_alpha=False)[..., 0] if occlusion else 255
            mr = image_array(metal_rough, keep_alpha=False) if metal_rough else None
            rough = mr[..., 1] if mr is not None else 255
            metal = mr[..., 2] if mr is not None else 255
            texture = stack_channels([occ, rough, metal], "orm")
        self._orms[key] = texture
        return texture

    def _is_placeholder_material(self, source: Any) -> bool:
        """The material trimesh invents for UVs without one: its grey image and no MTL colour."""
        image = getattr(source, "image", None)
        kwargs = getattr(source, "kwargs", None) or {}
        return image is not None and "kd" not in kwargs and self._is_placeholder(image)

    def _is_placeholder(self, image: Image.Image) -> bool:
        """trimesh gives UVs without a texture (PLY, OBJ without MTL) a small grey image."""
        from trimesh.visual.material import color_image

        if self._placeholder is None:
            self._placeholder = np.asarray(color_image())
        return image.size == self._placeholder.shape[1::-1] and np.array_equal(
            np.asarray(image), self._placeholder
        )


def _gltf_materials(source: Path) -> list[dict[str, Any]]:
    """The materials of a glTF or GLB file's JSON; [] for other formats or unreadable JSON."""
    try:
        if source.suffix.lower() == ".gltf":
            document = json.loads(source.read_bytes())
        elif source.suffix.lower() == ".glb":
            with source.open("rb") as file:
                magic, _, _, length, kind = struct.unpack("<4sIII4s", file.read(20))
                if magic != b"glTF" or kind != b"JSON":
                    return []
                document = json.loads(file.read(length))
        else:
            return []
        materials = document.get("materials", [])
    except (OSError, ValueError, struct.error, AttributeError):
        return []
    return [m for m in materials if isinstance(m, dict)] if isinstance(materials, list) else []


def _mtl_alpha(kwargs: dict[str, Any]) -> float:
    """MTL's dissolve ``d`` (1 is opaque), or its inverse ``Tr``."""
    try:
        if "d" in kwargs:
            return float(np.clip(float(np.ravel(kwargs["d"])[0]), 0.0, 1.0))
        if "tr" in kwargs:
            return float(np.clip(1.0 - float(np.ravel(kwargs["tr"])[0]), 0.0, 1.0))
    except (TypeError, ValueError, IndexError):
        pass
    return 1.0


def _from_printer_frame(meshes: list[Mesh]) -> None:
    """STL carries no units or axes: read it as slicers and meshforge's STL exporter write it,
    millimetres with +Z up, into metres with +Y up (the front, -Y there, becomes +Z)."""
    for mesh in meshes:
        x, y, z = mesh.vertices.T / 1000.0
        mesh.vertices = np.column_stack([x, z, -y])
        if mesh.normals is not None:
            nx, ny, nz = mesh.normals.T
            mesh.normals = np.column_stack([nx, nz, -ny])
