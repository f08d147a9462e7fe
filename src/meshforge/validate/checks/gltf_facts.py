"""glTF file facts: the PBR structure and the size of every texture, read from the file itself.

meshforge.api.load keeps only what an Asset holds, so the maps each material references and the
pixel size of every image are read from the glTF JSON and the images' headers: that is also where
a broken reference would be.
"""

from __future__ import annotations

import base64
import io
import json
import struct
from pathlib import Path
from typing import Any

from meshforge.validate.checks.base import MapKind, MaterialInfo, TextureInfo


def read_gltf(path: Path) -> tuple[dict[str, Any], bytes]:
    """The JSON and the binary chunk of a GLB, or the JSON of a .gltf (empty binary)."""
    data = path.read_bytes()
    if path.suffix.lower() == ".gltf":
        return json.loads(data.decode("utf-8")), b""
    if len(data) < 20 or data[:4] != b"glTF":
        raise ValueError("not a GLB file (no glTF header)")
    json_length, json_type = struct.unpack_from("<I4s", data, 12)
    if json_type != b"JSON":
        raise ValueError("the first GLB chunk is not JSON")
    gltf = json.loads(data[20 : 20 + json_length].decode("utf-8"))
    rest = 20 + json_length
    binary = b""
    if len(data) >= rest + 8:
        bin_length, _ = struct.unpack_from("<I4s", data, rest)
        binary = data[rest + 8 : rest + 8 + bin_length]
    return gltf, binary


_GLTF_MAPS: tuple[tuple[MapKind, tuple[str, ...]], ...] = (
    ("base_color", ("pbrMetallicRoughness", "baseColorTexture")),
    ("normal", ("normalTexture",)),
    ("orm", ("pbrMetallicRoughness", "metallicRoughnessTexture")),
    ("orm", ("occlusionTexture",)),
)


def gltf_materials(gltf: dict[str, Any]) -> list[MaterialInfo]:
    """Maps per material; ORM counts when both metallic-roughness and occlusion are present."""
    textures = gltf.get("textures", [])
    images = gltf.get("images", [])
    uv_sets = _gltf_uv_sets(gltf)
    infos = []
    for index, material in enumerate(gltf.get("materials", [])):
        name = str(material.get("name") or f"material {index}")
        found: list[MapKind] = []
        orm_parts = 0
        broken = []
        for kind, keys in _GLTF_MAPS:
            ref: Any = material
            for key in keys:
                ref = ref.get(key) if isinstance(ref, dict) else None
            if not isinstance(ref, dict):
                continue
            label = keys[-1]
            texture_index = ref.get("index")
            if not isinstance(texture_index, int) or not 0 <= texture_index < len(textures):
                broken.append(f"{name}.{label} -> texture {texture_index} does not exist")
                continue
            source = textures[texture_index].get("source")
            if not isinstance(source, int) or not 0 <= source < len(images):
                broken.append(f"{name}.{label} -> texture {texture_index} has no image")
                continue
            tex_coord = int(ref.get("texCoord", 0))
            if tex_coord not in uv_sets.get(index, {tex_coord}):
                broken.append(f"{name}.{label} uses TEXCOORD_{tex_coord}, which no primitive has")
                continue
            if kind == "orm":
                orm_parts += 1
            else:
                found.append(kind)
        if orm_parts == 2:
            found.append("orm")
        extensions = material.get("extensions", {})
        infos.append(
            MaterialInfo(
                name,
                tuple(found),
                tuple(broken),
                "KHR_materials_pbrSpecularGlossiness" in extensions,
            )
        )
    return infos


def _gltf_uv_sets(gltf: dict[str, Any]) -> dict[int, set[int]]:
    """The TEXCOORD_n sets available to each material, common to all its primitives."""
    sets: dict[int, set[int]] = {}
    for mesh in gltf.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            material = primitive.get("material")
            if not isinstance(material, int):
                continue
            have = {
                int(k.split("_")[1])
                for k in primitive.get("attributes", {})
                if k.startswith("TEXCOORD_")
            }
            sets[material] = sets[material] & have if material in sets else have
    return sets


def gltf_textures(gltf: dict[str, Any], binary: bytes, base: Path) -> list[TextureInfo]:
    """Every image a material uses, with its pixel size read from the image header."""
    from PIL import Image

    kinds: dict[int, list[MapKind]] = {}
    textures = gltf.get("textures", [])
    for material in gltf.get("materials", []):
        for kind, keys in _GLTF_MAPS:
            ref: Any = material
            for key in keys:
                ref = ref.get(key) if isinstance(ref, dict) else None
            index = ref.get("index") if isinstance(ref, dict) else None
            if isinstance(index, int) and 0 <= index < len(textures):
                source = textures[index].get("source")
                if isinstance(source, int):
                    kinds.setdefault(source, []).append(kind)
    images = gltf.get("images", [])
    views = gltf.get("bufferViews", [])
    infos = []
    for source, used in kinds.items():
        if not 0 <= source < len(images):
            continue
        image = images[source]
        name = str(image.get("name") or f"image {source}")
        try:
            if "bufferView" in image:
                view = views[image["bufferView"]]
                start = int(view.get("byteOffset", 0))
                stream: Any = io.BytesIO(binary[start : start + int(view["byteLength"])])
            elif "uri" in image and not str(image["uri"]).startswith("data:"):
                stream = base / str(image["uri"])
            else:
                stream = io.BytesIO(base64.b64decode(str(image["uri"]).split(",", 1)[1]))
            with Image.open(stream) as opened:
                width, height = opened.size
        except (OSError, ValueError, KeyError, IndexError):
            continue  # an unreadable image is the glTF Validator's business, not a size
        infos.append(TextureInfo(name, width, height, tuple(dict.fromkeys(used))))
    return infos
