"""``dedup``: remove what is there twice: repeated faces, unused vertices, and meshes, materials
and textures identical in content, so files are smaller and faces do not z-fight.

Faces are compared by the positions of their corners (identical coordinates count as the same
corner even when the vertices differ in UV or normal), in any rotation and either winding: two
triangles over the same three points draw the same surface. Near-coincident corners are not
merged here; run ``weld`` first for that. Materials are compared by content, not by name (the
first one's name is kept), textures by a hash of their pixels.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Asset, IntArray, Material, Mesh, Texture
from meshforge.geometry import first_occurrence, int_row_keys
from meshforge.recipe import Options
from meshforge.transforms.base import Context, Transform
from meshforge.transforms.weld import position_ids

TEXTURE_SLOTS = ("base_color_texture", "normal_texture", "occlusion_roughness_metallic_texture")


class DedupOptions(Options):
    """dedup has nothing to tune: what it removes is exactly redundant."""


def dedup() -> Transform:
    options = DedupOptions()
    return Transform(name="dedup", function=lambda a, c: _dedup(a, c), options=options)


def unique_face_mask(faces: IntArray, ids: IntArray) -> NDArray[np.bool_]:
    """True for the first of every group of faces over the same three ``ids`` (any order)."""
    if len(faces) == 0:
        return np.zeros(0, dtype=bool)
    corners = ids[faces]
    # Sort each row's three ids with a min/max network (cheaper than np.sort along axis 1),
    # then pack the sorted row into one int64 so a 1-D stable sort finds the first copies.
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    low, high = np.minimum(a, b), np.maximum(a, b)
    middle, high = np.minimum(high, c), np.maximum(high, c)
    low, middle = np.minimum(low, middle), np.maximum(low, middle)
    return first_occurrence(int_row_keys(np.column_stack([low, middle, high])))


def drop_unused_vertices(mesh: Mesh) -> tuple[Mesh, int]:
    """The mesh without vertices that no face uses, and how many went."""
    used = np.zeros(len(mesh.vertices), dtype=bool)
    used[mesh.faces.reshape(-1)] = True
    if used.all():
        return mesh, 0
    remap = np.cumsum(used) - 1
    return (
        dataclasses.replace(
            mesh,
            vertices=mesh.vertices[used],
            faces=remap[mesh.faces],
            uv=None if mesh.uv is None else mesh.uv[used],
            normals=None if mesh.normals is None else mesh.normals[used],
        ),
        int((~used).sum()),
    )


def _texture_digest(texture: Texture) -> str:
    image = np.ascontiguousarray(texture.image)
    header = f"{image.dtype.str}{image.shape}".encode()
    return hashlib.sha256(header + image.tobytes()).hexdigest()


def _mesh_digest(mesh: Mesh) -> str:
    digest = hashlib.sha256(str(mesh.material).encode())
    for array in (mesh.vertices, mesh.faces, mesh.uv, mesh.normals):
        digest.update(b"-" if array is None else f"{array.shape}".encode())
        if array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _dedup_materials(
    materials: list[Material],
) -> tuple[list[Material], list[int], int, int]:
    """Materials with shared textures and no content twins, the old-to-new index map, and the
    distinct texture objects before and after."""
    textures: dict[str, Texture] = {}
    before: set[int] = set()
    shared: list[Material] = []
    for material in materials:
        changes: dict[str, Texture] = {}
        for slot in TEXTURE_SLOTS:
            texture = getattr(material, slot)
            if texture is not None:
                before.add(id(texture))
                kept = textures.setdefault(_texture_digest(texture), texture)
                if kept is not texture:
                    changes[slot] = kept
        shared.append(dataclasses.replace(material, **changes) if changes else material)  # type: ignore[arg-type]
    seen: dict[tuple[object, ...], int] = {}
    kept_materials: list[Material] = []
    index: list[int] = []
    for material in shared:
        values = (getattr(material, f.name) for f in dataclasses.fields(material))
        key = tuple(
            id(value) if isinstance(value, Texture) else value
            for f, value in zip(dataclasses.fields(material), values, strict=True)
            if f.name != "name"
        )
        if key not in seen:
            seen[key] = len(kept_materials)
            kept_materials.append(material)
        index.append(seen[key])
    return kept_materials, index, len(before), len(textures)


def _dedup(asset: Asset, ctx: Context) -> Asset:
    materials, material_index, textures_before, textures_after = _dedup_materials(asset.materials)
    meshes: list[Mesh] = []
    seen: set[str] = set()
    duplicate_faces = unused = duplicate_meshes = 0
    for mesh in asset.meshes:
        material = material_index[mesh.material] if mesh.material < len(material_index) else 0
        if material != mesh.material:
            mesh = dataclasses.replace(mesh, material=material)
        keep = unique_face_mask(mesh.faces, position_ids(mesh.vertices))
        if not keep.all():
            duplicate_faces += int((~keep).sum())
            mesh = dataclasses.replace(mesh, faces=mesh.faces[keep])
        mesh, dropped = drop_unused_vertices(mesh)
        unused += dropped
        digest = _mesh_digest(mesh)
        if digest in seen and len(mesh.faces):
            duplicate_meshes += 1
            continue
        seen.add(digest)
        meshes.append(mesh)
    for key, before, after in (
        ("meshes", len(asset.meshes), len(meshes)),
        ("materials", len(asset.materials), len(materials)),
        ("textures", textures_before, textures_after),
    ):
        if before != after:
            ctx.report.change(key, before, after)
    ctx.report.note("duplicate_faces_removed", duplicate_faces)
    ctx.report.note("unused_vertices_removed", unused)
    ctx.report.note("duplicate_meshes_removed", duplicate_meshes)
    ctx.report.note("duplicate_materials_removed", len(asset.materials) - len(materials))
    ctx.report.note("duplicate_textures_removed", textures_before - textures_after)
    return dataclasses.replace(asset, meshes=meshes, materials=materials)
