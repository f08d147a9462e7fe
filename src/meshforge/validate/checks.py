"""Mesh facts every profile builds on: closed, consistently wound, UV-mapped, textured.

Vertices are welded by position first, as viewers and slicers see them, so a seam in the UVs
does not count as a hole.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Asset, Material, Texture
from meshforge.geometry import row_ids


def _welded_faces(asset: Asset) -> NDArray[np.int64]:
    vertices = np.concatenate([m.vertices for m in asset.meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in asset.meshes[:-1]])
    faces = np.concatenate([m.faces + o for m, o in zip(asset.meshes, offsets, strict=True)])
    # Weld on positions rounded to 1e-9 m: identical points share one id.
    return np.asarray(row_ids(vertices)[0][faces], dtype=np.int64)


def _counts(pairs: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    _, counts = np.unique(pairs[:, 0] * n + pairs[:, 1], return_counts=True)
    return np.asarray(counts, dtype=np.int64)


def edge_facts(faces: NDArray[np.int64]) -> dict[str, bool | int]:
    """Closed: every undirected edge has exactly two faces. Consistent winding: each directed
    edge appears once (its twin runs the other way)."""
    n = int(faces.max()) + 1 if len(faces) else 1
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edge_counts = _counts(np.sort(directed, axis=1), n)
    directed_counts = _counts(directed, n)
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    degenerate = int(np.sum((a == b) | (b == c) | (a == c)))
    return {
        "watertight": bool(np.all(edge_counts == 2)) and degenerate == 0,
        "winding_consistent": bool(np.all(directed_counts == 1)),
        "boundary_edges": int(np.sum(edge_counts == 1)),
        "non_manifold_edges": int(np.sum(edge_counts > 2)),
        "degenerate_faces": degenerate,
    }


def mesh_facts(asset: Asset) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "meshes": len(asset.meshes),
        "faces": asset.face_count,
        "vertices": asset.vertex_count,
        "has_uv": all(m.uv is not None for m in asset.meshes),
        "has_normals": all(m.normals is not None for m in asset.meshes),
        "has_base_color_texture": any(m.base_color_texture is not None for m in asset.materials),
    }
    if asset.face_count:
        facts.update(edge_facts(_welded_faces(asset)))
        low, high = asset.bounds()
        facts["bounds_m"] = [low.round(6).tolist(), high.round(6).tolist()]
    return facts


# --- Individual checks --------------------------------------------------------------------------
# Each check is a plain function that returns one CheckResult: what was measured, the limit it was
# held to, and a message that says what to do. Checks never raise on a bad asset: a failing asset
# is a result, not an error. Profiles (profiles.py) decide which checks run and how strictly.

MapKind = Literal["base_color", "normal", "orm"]
MAP_KINDS: tuple[MapKind, ...] = ("base_color", "normal", "orm")
Severity = Literal["error", "warning"]
_UV_TOLERANCE = 1e-6


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check; ``measured`` and ``limit`` are JSON-ready values."""

    id: str
    passed: bool
    measured: Any
    limit: Any
    message: str
    severity: Severity = "error"

    @property
    def status(self) -> Literal["PASS", "FAIL", "WARN"]:
        """FAIL only for a failed required (error) check; a failed warning check is a WARN."""
        if self.passed:
            return "PASS"
        return "FAIL" if self.severity == "error" else "WARN"

    def with_severity(self, severity: Severity) -> CheckResult:
        return dataclasses.replace(self, severity=severity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "passed": self.passed,
            "severity": self.severity,
            "measured": self.measured,
            "limit": self.limit,
            "message": self.message,
        }


@dataclass(frozen=True)
class TextureInfo:
    """One texture as a check sees it: the asset's own or one read from a glTF file."""

    name: str
    width: int
    height: int
    maps: tuple[MapKind, ...]


@dataclass(frozen=True)
class MaterialInfo:
    """Which PBR maps a material has, and any reference that points nowhere."""

    name: str
    maps: tuple[MapKind, ...]
    broken: tuple[str, ...] = ()
    spec_gloss: bool = False


def _result(
    check_id: str, passed: bool, measured: Any, limit: Any, ok: str, bad: str
) -> CheckResult:
    return CheckResult(check_id, passed, measured, limit, ok if passed else bad)


def _topology(asset: Asset) -> dict[str, bool | int]:
    if not asset.face_count:
        return edge_facts(np.zeros((0, 3), dtype=np.int64))
    return edge_facts(_welded_faces(asset))


def check_watertight(asset: Asset) -> CheckResult:
    """Closed surface: no edge bounds a single face (holes break printing, volume, AR shadows)."""
    boundary = int(_topology(asset)["boundary_edges"])
    return _result(
        "watertight",
        boundary == 0 and asset.face_count > 0,
        boundary,
        0,
        "closed: every edge is shared by two faces",
        f"{boundary} boundary edges: the mesh has holes; run the repair transform to close them",
    )


def check_manifold(asset: Asset) -> CheckResult:
    """2-manifold: no edge is shared by more than two faces."""
    extra = int(_topology(asset)["non_manifold_edges"])
    return _result(
        "manifold",
        extra == 0,
        extra,
        0,
        "2-manifold: no edge is shared by more than two faces",
        f"{extra} edges are shared by more than two faces; run the repair transform "
        "to split or remove them",
    )


def opposed_pairs(faces: NDArray[np.int64]) -> bool:
    """Every edge shared by exactly two faces is used by them in opposite directions.

    Winding is a property of two faces across an edge; where three or more faces meet (the
    ``manifold`` check's concern) no orientation can satisfy them all, so those edges are not
    judged here."""
    if not len(faces):
        return True
    n = int(faces.max()) + 1
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    directed = directed[directed[:, 0] != directed[:, 1]]
    low, high = directed.min(axis=1), directed.max(axis=1)
    _, inverse, counts = np.unique(low * n + high, return_inverse=True, return_counts=True)
    forward = np.bincount(inverse.reshape(-1), weights=directed[:, 0] < directed[:, 1])
    return bool(np.all(forward[counts == 2] == 1))


def check_winding(asset: Asset) -> CheckResult:
    """Consistent winding across every two-face edge, and outward on a closed mesh (a negative
    volume means inside out)."""
    facts = _topology(asset)
    consistent = opposed_pairs(_welded_faces(asset)) if asset.face_count else True
    volume = _signed_volume(asset) if facts["watertight"] else None
    inverted = volume is not None and volume < 0
    if not consistent:
        message = "neighbouring faces are wound in opposite directions; run the repair transform"
    elif inverted:
        message = "the faces point inwards (negative volume); run the repair transform to flip them"
    else:
        message = "faces are wound consistently" + (" and point outwards" if volume else "")
    return CheckResult(
        "winding",
        consistent and not inverted,
        "inverted" if inverted else consistent,
        True,
        message,
    )


def _signed_volume(asset: Asset) -> float:
    total = 0.0
    for mesh in asset.meshes:
        tri = mesh.vertices[mesh.faces]
        total += float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6
    return total


def check_degenerate_faces(asset: Asset) -> CheckResult:
    """Faces with a repeated corner or (next to) zero area: they shade badly and break slicers."""
    if not asset.face_count:
        return CheckResult("degenerate_faces", False, 0, 0, "the asset has no faces")
    diagonal = float(np.linalg.norm(asset.extents()))
    count = 0
    for mesh in asset.meshes:
        tri = mesh.vertices[mesh.faces]
        area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1) / 2
        count += int(np.sum(area <= 1e-12 * diagonal**2))
    count = max(count, int(_topology(asset)["degenerate_faces"]))
    return _result(
        "degenerate_faces",
        count == 0,
        count,
        0,
        "no zero-area faces",
        f"{count} faces have zero area; run the weld and repair transforms to remove them",
    )


def check_uv_present(asset: Asset) -> CheckResult:
    """Every mesh has texture coordinates, without which no texture can be applied."""
    missing = [m.name for m in asset.meshes if m.uv is None]
    return _result(
        "uv_present",
        not missing,
        missing,
        [],
        "every mesh has texture coordinates",
        f"{len(missing)} meshes have no texture coordinates ({', '.join(missing[:5])}); "
        "run the unwrap transform",
    )


def check_uv_range(asset: Asset) -> CheckResult:
    """UVs inside [0, 1]: bakes, atlases and some viewers assume a single tile."""
    uvs = [m.uv for m in asset.meshes if m.uv is not None and len(m.uv)]
    if not uvs:
        return CheckResult("uv_range", False, None, [0.0, 1.0], "no texture coordinates to check")
    uv = np.concatenate(uvs)
    outside = int(np.sum(np.any((uv < -_UV_TOLERANCE) | (uv > 1 + _UV_TOLERANCE), axis=1)))
    low, high = float(uv.min()), float(uv.max())
    return _result(
        "uv_range",
        outside == 0,
        {"outside": outside, "min": round(low, 6), "max": round(high, 6)},
        [0.0, 1.0],
        "all texture coordinates lie in [0, 1]",
        f"{outside} of {len(uv)} texture coordinates lie outside [0, 1] "
        f"(range {low:.3f} to {high:.3f}); run the unwrap transform to repack them",
    )


def asset_textures(asset: Asset) -> list[TextureInfo]:
    """The asset's textures, each once, with the maps that use it."""
    found: dict[int, tuple[Texture, list[MapKind]]] = {}
    for material in asset.materials:
        for kind, texture in _material_maps(material):
            found.setdefault(id(texture), (texture, []))[1].append(kind)
    return [
        TextureInfo(t.name, t.size[0], t.size[1], tuple(dict.fromkeys(kinds)))
        for t, kinds in found.values()
    ]


def _material_maps(material: Material) -> list[tuple[MapKind, Texture]]:
    maps: list[tuple[MapKind, Texture | None]] = [
        ("base_color", material.base_color_texture),
        ("normal", material.normal_texture),
        ("orm", material.occlusion_roughness_metallic_texture),
    ]
    return [(kind, t) for kind, t in maps if t is not None]


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _describe(textures: list[TextureInfo]) -> list[str]:
    return [f"{t.name} {t.width}x{t.height}" for t in textures]


def check_texture_power_of_two(textures: list[TextureInfo]) -> CheckResult:
    """Power-of-two sides: needed for mipmaps on older GPUs and by several marketplaces."""
    bad = [t for t in textures if not (_is_power_of_two(t.width) and _is_power_of_two(t.height))]
    return _result(
        "texture_power_of_two",
        not bad,
        _describe(bad),
        "power of two",
        f"all {len(textures)} textures have power-of-two sides",
        f"{len(bad)} textures are not power-of-two ({', '.join(_describe(bad)[:5])}); "
        "re-bake at a power of two, e.g. bake(size=2048)",
    )


def check_texture_max_size(textures: list[TextureInfo], max_size: int) -> CheckResult:
    """No texture side above the budget: large maps cost memory and download time."""
    largest = max((max(t.width, t.height) for t in textures), default=0)
    bad = [t for t in textures if max(t.width, t.height) > max_size]
    return _result(
        "texture_max_size",
        not bad,
        largest,
        max_size,
        f"largest texture side {largest} px",
        f"{len(bad)} textures exceed {max_size} px ({', '.join(_describe(bad)[:5])}); "
        f"re-bake at bake(size={max_size}) or smaller",
    )


def check_texture_min_size(textures: list[TextureInfo], min_size: int) -> CheckResult:
    """No texture side below the minimum a marketplace asks for (blurry close-ups)."""
    smallest = min((min(t.width, t.height) for t in textures), default=0)
    bad = [t for t in textures if min(t.width, t.height) < min_size]
    return _result(
        "texture_min_size",
        not bad,
        smallest,
        min_size,
        f"smallest texture side {smallest} px",
        f"{len(bad)} textures are below {min_size} px ({', '.join(_describe(bad)[:5])}); "
        f"re-bake at bake(size={min_size})",
    )


def asset_materials(asset: Asset) -> list[MaterialInfo]:
    """The materials the meshes use, with their maps; a map on a mesh without UVs is broken."""
    used = sorted({m.material for m in asset.meshes})
    infos = []
    for index in used:
        if index >= len(asset.materials):
            infos.append(MaterialInfo(f"#{index}", (), (f"mesh material #{index} is missing",)))
            continue
        material = asset.materials[index]
        maps = tuple(kind for kind, _ in _material_maps(material))
        no_uv = [m.name for m in asset.meshes if m.material == index and m.uv is None]
        broken = tuple(f"{material.name}: textured but mesh {n} has no UVs" for n in no_uv)
        infos.append(MaterialInfo(material.name, maps, broken if maps else ()))
    return infos


def check_pbr_maps(materials: list[MaterialInfo], required: tuple[MapKind, ...]) -> CheckResult:
    """Every material carries the required maps and every texture reference resolves."""
    missing = {m.name: [k for k in required if k not in m.maps] for m in materials}
    missing = {name: kinds for name, kinds in missing.items() if kinds}
    broken = [b for m in materials for b in m.broken]
    spec_gloss = [m.name for m in materials if m.spec_gloss]
    problems = []
    if missing:
        listed = "; ".join(f"{name} lacks {', '.join(kinds)}" for name, kinds in missing.items())
        problems.append(f"{listed}: run the bake transform to make them")
    if broken:
        problems.append("broken references: " + "; ".join(broken[:5]))
    if spec_gloss:
        problems.append(
            f"{', '.join(spec_gloss)} use specular-glossiness: convert to metallic-roughness"
        )
    return CheckResult(
        "pbr_maps",
        not problems,
        {"missing": missing, "broken": broken, "spec_gloss": spec_gloss},
        list(required),
        "; ".join(problems)
        or f"{len(materials)} metallic-roughness materials, each with "
        f"{', '.join(required) or 'the maps it uses'}",
    )


def check_material_count(materials: list[MaterialInfo], max_materials: int) -> CheckResult:
    """At most N materials: each one is a draw call, and some marketplaces accept only one."""
    count = len(materials)
    return _result(
        "materials",
        count <= max_materials,
        count,
        max_materials,
        f"{count} materials",
        f"{count} materials, more than {max_materials}; merge them and bake one texture set "
        "(bake transform)",
    )


def check_triangles(asset: Asset, max_triangles: int) -> CheckResult:
    """Triangle budget: render cost and file size grow with it."""
    count = asset.face_count
    return _result(
        "triangles",
        count <= max_triangles,
        count,
        max_triangles,
        f"{count:,} triangles",
        f"{count:,} triangles, more than {max_triangles:,}; "
        f"run decimate(target_faces={max_triangles})",
    )


def check_vertices(asset: Asset, max_vertices: int) -> CheckResult:
    """Vertex budget (UV seams and hard edges split vertices, so it can bind before triangles)."""
    count = asset.vertex_count
    return _result(
        "vertices",
        count <= max_vertices,
        count,
        max_vertices,
        f"{count:,} vertices",
        f"{count:,} vertices, more than {max_vertices:,}; run the decimate transform "
        "(fewer faces) or weld (fewer split vertices)",
    )


def check_file_size(size_bytes: int, max_mb: float) -> CheckResult:
    """File size in MB of 1,000,000 bytes (the stricter reading of a marketplace's "MB")."""
    mb = size_bytes / 1e6
    return _result(
        "file_size",
        mb <= max_mb,
        round(mb, 3),
        max_mb,
        f"{mb:.2f} MB",
        f"{mb:.2f} MB, more than {max_mb:g} MB; decimate the mesh or bake smaller textures",
    )


def check_file_format(path: Path, formats: tuple[str, ...]) -> CheckResult:
    """The file's format is one the target accepts."""
    suffix = path.suffix.lower().lstrip(".")
    return _result(
        "file_format",
        suffix in formats,
        suffix,
        list(formats),
        f"{suffix} is accepted",
        f"{suffix or 'no extension'} is not accepted; export as {' or '.join(formats)}",
    )


def check_real_size(asset: Asset, min_m: float, max_m: float, unit_m: float = 1.0) -> CheckResult:
    """The largest dimension is plausible for a product; far off means the scale was never set."""
    if not asset.face_count:
        return CheckResult("real_size", False, None, [min_m, max_m], "the asset has no faces")
    extents = asset.extents() * unit_m
    largest = float(extents.max())
    return _result(
        "real_size",
        min_m <= largest <= max_m,
        [round(float(e), 6) for e in extents],
        [min_m, max_m],
        f"{' x '.join(f'{e:.3f}' for e in extents)} m, a plausible size",
        f"largest dimension {largest:.4g} m is outside {min_m:g} to {max_m:g} m; "
        "set the real size (scale transform, e.g. --height in metres)",
    )


_AXES = {"+x": 0, "+y": 1, "+z": 2}


def check_pivot(
    asset: Asset, rule: Literal["bottom-center", "base-on-ground"], up_axis: str = "+y"
) -> CheckResult:
    """The origin sits where the target places the model: on the ground, and centred under it."""
    if not asset.face_count:
        return CheckResult("pivot", False, None, rule, "the asset has no faces")
    low, high = asset.bounds()
    up = _AXES[up_axis]
    tolerance = 1e-3 * max(float(np.max(high - low)), 1e-9)
    centre = (low + high) / 2
    offsets = {"ground": float(low[up])}
    if rule == "bottom-center":
        offsets.update({"xyz"[a]: float(centre[a]) for a in range(3) if a != up})
    off = {k: v for k, v in offsets.items() if abs(v) > tolerance}
    where = "the bottom centre" if rule == "bottom-center" else f"{up_axis[1]} = 0"
    return _result(
        "pivot",
        not off,
        {k: round(v, 6) for k, v in offsets.items()},
        rule,
        f"the origin is at {where}",
        f"the origin is not at {where} (off by "
        + ", ".join(f"{k} {v:.4g}" for k, v in off.items())
        + f"); run the pivot transform ({rule})",
    )


def check_up_axis(asset: Asset, up_axis: str = "+y") -> CheckResult:
    """Heuristic: the flat base the asset stands on should face down the up axis.

    Finds, for each axis, the area of faces lying flat on the bounding box's low side and facing
    outwards; if another axis has a clearly larger base, the asset probably lies on its side (a
    Z-up export read as Y-up). Ties and round shapes pass: there is nothing to tell them apart.
    """
    if not asset.face_count:
        return CheckResult("up_axis", False, None, up_axis, "the asset has no faces")
    low, high = asset.bounds()
    tolerance = 1e-4 * max(float(np.max(high - low)), 1e-9)
    base = np.zeros(3)
    for mesh in asset.meshes:
        tri = mesh.vertices[mesh.faces]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]) / 2
        for axis in range(3):
            flat = np.all(np.abs(tri[:, :, axis] - low[axis]) <= tolerance, axis=1)
            base[axis] += float(np.sum(np.maximum(-normal[flat, axis], 0.0)))
    up = _AXES[up_axis]
    best = int(np.argmax(base))
    passed = base[best] <= 1.5 * base[up] or base[best] == 0
    return _result(
        "up_axis",
        bool(passed),
        {"base_area": {a: round(float(base[i]), 9) for a, i in _AXES.items()}},
        up_axis,
        f"the asset stands on its base along {up_axis}",
        f"the largest flat base faces -{'xyz'[best]}, not -{up_axis[1]}: the asset may lie on "
        f"its side; run the orient transform so that {up_axis} is up",
    )


# --- glTF file facts ----------------------------------------------------------------------------
# meshforge.api.load keeps only the base colour, so the PBR structure and the size of every
# texture are read from the glTF JSON itself: that is also where a broken reference would be.


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
