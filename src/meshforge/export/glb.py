"""GLB (binary glTF 2.0) with metallic-roughness PBR materials, written directly.

One node per mesh, positions in metres, +Y up. Base-colour, normal and ORM textures are embedded;
texture coordinates are stored as they are in the Asset (glTF's v-down convention). Primitives
with a normal texture also get NORMAL and TANGENT: the tangent frame ``bake`` wrote the map in
(tangent along +u, ``cross(normal, tangent) * w`` up the image, towards -v, which is the +Y of
glTF's normal textures), so viewers need not generate their own MikkTSpace frame, which can differ.
``build_document`` makes the glTF document that both GLB and ``.gltf`` (gltf.py) write.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge import __version__
from meshforge.asset import Asset, Material, Texture
from meshforge.export.images import encode_texture
from meshforge.export.registry import Exporter, write_atomically

FLOAT, UINT32 = 5126, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
LINEAR_MIPMAP_LINEAR, LINEAR, REPEAT = 9987, 9729, 10497


class Builder:
    """Accumulates the binary buffer and the JSON arrays that index into it.

    Images go into the buffer, or, when ``image_uri`` is given, into ``external`` as
    ``(uri, bytes)`` pairs named by ``image_uri(image_index, mime_type)``.
    """

    def __init__(self, image_uri: Callable[[int, str], str] | None = None) -> None:
        self.image_uri = image_uri
        self.external: list[tuple[str, bytes]] = []
        self.blob = bytearray()
        self.gltf: dict[str, Any] = {
            "asset": {"version": "2.0", "generator": f"meshforge {__version__}"},
            "scene": 0,
            "scenes": [{"nodes": []}],
            "nodes": [],
            "meshes": [],
            "materials": [],
            "accessors": [],
            "bufferViews": [],
        }

    def view(self, data: bytes, target: int | None = None) -> int:
        while len(self.blob) % 4:
            self.blob.append(0)
        entry: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            entry["target"] = target
        self.blob.extend(data)
        self.gltf["bufferViews"].append(entry)
        return len(self.gltf["bufferViews"]) - 1

    def accessor(self, array: NDArray[Any], kind: str, target: int, bounds: bool = False) -> int:
        component = UINT32 if array.dtype == np.uint32 else FLOAT
        view = self.view(np.ascontiguousarray(array).tobytes(), target)
        entry: dict[str, Any] = {
            "bufferView": view,
            "componentType": component,
            "count": int(len(array) if kind != "SCALAR" else array.size),
            "type": kind,
        }
        if bounds:
            entry["min"] = array.min(axis=0).tolist()
            entry["max"] = array.max(axis=0).tolist()
        self.gltf["accessors"].append(entry)
        return len(self.gltf["accessors"]) - 1

    def texture(self, texture: Texture) -> int:
        data, mime = encode_texture(texture.image)
        images = self.gltf.setdefault("images", [])
        if self.image_uri is None:
            images.append({"bufferView": self.view(data), "mimeType": mime, "name": texture.name})
        else:
            uri = self.image_uri(len(images), mime)
            self.external.append((uri, data))
            images.append({"uri": uri, "mimeType": mime, "name": texture.name})
        samplers = self.gltf.setdefault("samplers", [])
        if not samplers:
            samplers.append(
                {
                    "magFilter": LINEAR,
                    "minFilter": LINEAR_MIPMAP_LINEAR,
                    "wrapS": REPEAT,
                    "wrapT": REPEAT,
                }
            )
        textures = self.gltf.setdefault("textures", [])
        textures.append({"sampler": 0, "source": len(images) - 1})
        return len(textures) - 1

    def material(self, material: Material) -> int:
        pbr: dict[str, Any] = {
            "baseColorFactor": list(material.base_color_factor),
            "metallicFactor": material.metallic_factor,
            "roughnessFactor": material.roughness_factor,
        }
        entry: dict[str, Any] = {"name": material.name, "pbrMetallicRoughness": pbr}
        if material.base_color_texture is not None:
            pbr["baseColorTexture"] = {"index": self.texture(material.base_color_texture)}
        if material.occlusion_roughness_metallic_texture is not None:
            index = self.texture(material.occlusion_roughness_metallic_texture)
            pbr["metallicRoughnessTexture"] = {"index": index}
            entry["occlusionTexture"] = {"index": index}
        if material.normal_texture is not None:
            entry["normalTexture"] = {"index": self.texture(material.normal_texture)}
        if material.alpha_mode != "OPAQUE":
            entry["alphaMode"] = material.alpha_mode
        if material.alpha_mode == "MASK" and material.alpha_cutoff != 0.5:
            entry["alphaCutoff"] = material.alpha_cutoff  # 0.5 is glTF's default
        if material.double_sided:
            entry["doubleSided"] = True
        self.gltf["materials"].append(entry)
        return len(self.gltf["materials"]) - 1

    def finish(self, buffer: dict[str, Any] | None = None) -> None:
        """Pad the buffer and describe it (``buffer`` adds keys such as its ``uri``)."""
        while len(self.blob) % 4:
            self.blob.append(0)
        self.gltf["buffers"] = [{"byteLength": len(self.blob), **(buffer or {})}]


def build_document(
    asset: Asset,
    image_uri: Callable[[int, str], str] | None = None,
    buffer: dict[str, Any] | None = None,
) -> Builder:
    """The glTF document of ``asset`` with its binary buffer (and external images)."""
    builder = Builder(image_uri)
    material_index = [builder.material(m) for m in asset.materials]
    for mesh in asset.meshes:
        attributes = {
            "POSITION": builder.accessor(
                mesh.vertices.astype(np.float32), "VEC3", ARRAY_BUFFER, bounds=True
            )
        }
        normals = mesh.normals
        material = (
            asset.materials[min(mesh.material, len(asset.materials) - 1)]
            if asset.materials
            else None
        )
        mapped = (
            material is not None
            and material.normal_texture is not None
            and mesh.uv is not None
            and len(mesh.faces) > 0
        )
        if mapped and normals is None:
            from meshforge.geometry import vertex_normals

            normals = vertex_normals(
                mesh.vertices, mesh.faces, join_positions=True
            )  # what bake used
        if normals is not None:
            normals = unit_normals(normals)
            attributes["NORMAL"] = builder.accessor(
                normals.astype(np.float32), "VEC3", ARRAY_BUFFER
            )
        if mesh.uv is not None:
            attributes["TEXCOORD_0"] = builder.accessor(
                mesh.uv.astype(np.float32), "VEC2", ARRAY_BUFFER
            )
        if mapped and normals is not None and mesh.uv is not None:
            attributes["TANGENT"] = builder.accessor(
                vertex_tangents(mesh.vertices, mesh.faces, mesh.uv, normals), "VEC4", ARRAY_BUFFER
            )
        indices = builder.accessor(
            mesh.faces.astype(np.uint32).ravel(), "SCALAR", ELEMENT_ARRAY_BUFFER
        )
        primitive: dict[str, Any] = {"attributes": attributes, "indices": indices, "mode": 4}
        if asset.materials:
            primitive["material"] = material_index[min(mesh.material, len(material_index) - 1)]
        builder.gltf["meshes"].append({"name": mesh.name, "primitives": [primitive]})
        builder.gltf["nodes"].append({"name": mesh.name, "mesh": len(builder.gltf["meshes"]) - 1})
        builder.gltf["scenes"][0]["nodes"].append(len(builder.gltf["nodes"]) - 1)
    if asset.size is not None:
        builder.gltf["scenes"][0]["extras"] = {"meshforge": {"size": asset.size.to_dict()}}
    builder.finish(buffer)
    return builder


def vertex_tangents(
    vertices: NDArray[np.float64],
    faces: NDArray[np.int64],
    uv: NDArray[np.float64],
    normals: NDArray[np.float64],
) -> NDArray[np.float32]:
    """glTF TANGENT (V, 4) float32: ``bake``'s per-vertex tangent frame, with w = +1 or -1 the
    handedness most of the vertex's faces have; unit length even where UVs are degenerate."""
    from meshforge.transforms.bake import vertex_tangents as frame

    unit = normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
    tangent, face_sign = frame(vertices, faces, uv, unit)
    missing = np.linalg.norm(tangent, axis=1) < 0.5  # no UV gradient: any vector orthogonal
    if missing.any():
        helper = np.where(np.abs(unit[missing, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        t = helper - unit[missing] * np.einsum("ij,ij->i", helper, unit[missing])[:, None]
        tangent[missing] = t / np.linalg.norm(t, axis=1, keepdims=True)
    votes = np.zeros(len(vertices))
    for k in range(3):
        np.add.at(votes, faces[:, k], face_sign)
    w = np.where(votes < 0, -1.0, 1.0)
    return np.column_stack([tangent, w]).astype(np.float32)


def to_glb(asset: Asset) -> bytes:
    builder = build_document(asset)
    text = json.dumps(builder.gltf, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(builder.blob)
    return b"".join(
        [
            struct.pack("<4sII", b"glTF", 2, total),
            struct.pack("<I4s", len(text), b"JSON"),
            text,
            struct.pack("<I4s", len(builder.blob), b"BIN\x00"),
            bytes(builder.blob),
        ]
    )


def write_glb(asset: Asset, path: Path) -> list[Path]:
    return [write_atomically(path, to_glb(asset))]


EXPORTER = Exporter("glb", ".glb", write_glb, "binary glTF 2.0, PBR metallic-roughness")


def unit_normals(normals: NDArray[np.float64]) -> NDArray[np.float64]:
    """glTF requires unit NORMALs: normalise, and give vertices of no area (a zero or non-finite
    normal, e.g. a vertex only degenerate faces use) +Y rather than an invalid accessor."""
    normals = np.nan_to_num(np.asarray(normals, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    unit = np.where(length > 1e-12, normals / np.maximum(length, 1e-12), [0.0, 1.0, 0.0])
    return np.asarray(unit, dtype=np.float64)
