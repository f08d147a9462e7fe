"""Binary STL for slicers: millimetres and +Z up, as slicers expect; no colour."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from meshforge.asset import Asset
from meshforge.export.registry import Exporter, write_atomically

# Y-up metres to Z-up millimetres: (x, y, z) -> (x, -z, y) * 1000 keeps the front facing -Y,
# the viewer's side in most slicers.
Y_UP_TO_Z_UP_MM = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]) * 1000.0


def stl_triangles(asset: Asset) -> np.ndarray:
    """All triangles as (n, 3, 3) float32 in millimetres, Z up."""
    parts = [m.vertices[m.faces] @ Y_UP_TO_Z_UP_MM.T for m in asset.meshes]
    return np.concatenate(parts).astype(np.float32)


def write_stl(asset: Asset, path: Path) -> list[Path]:
    tris = stl_triangles(asset)
    normals = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-20)
    record = np.zeros(len(tris), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    record["n"], record["v"] = normals, tris
    header = b"meshforge binary STL, millimetres, Z up".ljust(80, b" ")
    data = header + struct.pack("<I", len(tris)) + record.tobytes()
    return [write_atomically(path, data)]


EXPORTER = Exporter("stl", ".stl", write_stl, "binary STL in millimetres, Z up (for slicers)")
