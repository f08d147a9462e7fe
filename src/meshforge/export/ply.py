"""Binary little-endian PLY with normals and texture coordinates (metres, +Y up)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from meshforge.asset import Asset
from meshforge.export.registry import Exporter, write_atomically


def write_ply(asset: Asset, path: Path) -> list[Path]:
    vertices = np.concatenate([m.vertices for m in asset.meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in asset.meshes[:-1]])
    faces = np.concatenate([m.faces + o for m, o in zip(asset.meshes, offsets, strict=True)])
    has_normals = all(m.normals is not None for m in asset.meshes)
    has_uv = all(m.uv is not None for m in asset.meshes)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if has_normals:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
    if has_uv:
        fields += [("s", "<f4"), ("t", "<f4")]
    table = np.zeros(len(vertices), dtype=fields)
    table["x"], table["y"], table["z"] = vertices.T
    if has_normals:
        normals = np.concatenate([m.normals for m in asset.meshes if m.normals is not None])
        table["nx"], table["ny"], table["nz"] = normals.T
    if has_uv:
        uv = np.concatenate([m.uv for m in asset.meshes if m.uv is not None])
        table["s"], table["t"] = uv[:, 0], 1.0 - uv[:, 1]
    face_table = np.zeros(len(faces), dtype=[("n", "u1"), ("v", "<i4", 3)])
    face_table["n"], face_table["v"] = 3, faces
    header = [
        "ply",
        "format binary_little_endian 1.0",
        "comment meshforge, metres, +Y up",
        f"element vertex {len(vertices)}",
    ]
    header += [f"property float {name}" for name, _ in fields]
    header += [f"element face {len(faces)}", "property list uchar int vertex_indices", "end_header"]
    data = ("\n".join(header) + "\n").encode() + table.tobytes() + face_table.tobytes()
    return [write_atomically(path, data)]


EXPORTER = Exporter("ply", ".ply", write_ply, "binary PLY with normals and UVs")
