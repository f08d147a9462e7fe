"""Wavefront OBJ with an MTL file and the base-colour texture beside it (metres, +Y up)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from meshforge.asset import Asset
from meshforge.export.images import encode_texture
from meshforge.export.registry import Exporter, write_atomically


def write_obj(asset: Asset, path: Path) -> list[Path]:
    stem = path.stem
    written: list[Path] = []
    mtl = io.StringIO()
    for index, material in enumerate(asset.materials):
        r, g, b, alpha = material.base_color_factor
        mtl.write(f"newmtl m{index}\nKd {r:.6f} {g:.6f} {b:.6f}\nd {alpha:.6f}\nillum 1\n")
        if material.base_color_texture is not None:
            data, mime = encode_texture(material.base_color_texture.image)
            suffix = ".png" if mime == "image/png" else ".jpg"
            texture_path = path.with_name(f"{stem}_m{index}_basecolor{suffix}")
            written.append(write_atomically(texture_path, data))
            mtl.write(f"map_Kd {texture_path.name}\n")
        mtl.write("\n")
    mtl_path = path.with_suffix(".mtl")
    written.insert(0, write_atomically(mtl_path, mtl.getvalue().encode()))

    out = io.StringIO()
    out.write(f"# meshforge OBJ, metres, +Y up\nmtllib {mtl_path.name}\n")
    base = 1
    for mesh in asset.meshes:
        out.write(f"o {mesh.name}\nusemtl m{mesh.material}\n")
        np.savetxt(out, mesh.vertices, fmt="v %.7f %.7f %.7f")
        columns = [mesh.faces + base]
        if mesh.uv is not None:
            # OBJ's v runs upwards from the image's bottom edge.
            np.savetxt(
                out, np.column_stack([mesh.uv[:, 0], 1.0 - mesh.uv[:, 1]]), fmt="vt %.7f %.7f"
            )
            columns.append(mesh.faces + base)
        if mesh.normals is not None:
            np.savetxt(out, mesh.normals, fmt="vn %.6f %.6f %.6f")
            columns.append(mesh.faces + base)
        _write_faces(out, columns, has_uv=mesh.uv is not None, has_normals=mesh.normals is not None)
        base += len(mesh.vertices)
    written.insert(0, write_atomically(path, out.getvalue().encode()))
    return written


def _write_faces(
    out: io.StringIO, columns: list[np.ndarray], has_uv: bool, has_normals: bool
) -> None:
    v = columns[0]
    if has_uv and has_normals:
        stacked = np.stack([v, v, v], axis=-1).reshape(len(v), 9)
        np.savetxt(out, stacked, fmt="f %d/%d/%d %d/%d/%d %d/%d/%d")
    elif has_uv or has_normals:
        sep = "/" if has_uv else "//"
        stacked = np.stack([v, v], axis=-1).reshape(len(v), 6)
        np.savetxt(out, stacked, fmt=f"f %d{sep}%d %d{sep}%d %d{sep}%d")
    else:
        np.savetxt(out, v, fmt="f %d %d %d")


EXPORTER = Exporter("obj", ".obj", write_obj, "Wavefront OBJ + MTL + texture")
