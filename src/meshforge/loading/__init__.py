"""Mesh files in: ``load_asset(path)`` picks a reader by the file's suffix.

GLB, glTF, OBJ, PLY and STL go through trimesh (trimesh_reader.py); USD, USDA, USDC and USDZ
through usd-core's ``pxr`` (usdz.py, ``pip install 'meshforge[usdz]'``). Both return an Asset in
meshforge's conventions: metres, +Y up, glTF's v-down texture coordinates, sRGB uint8 colour
textures and one ORM texture (R occlusion, G roughness, B metallic). The readers are imported
only when a file of theirs is read, so ``import meshforge`` stays light.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from meshforge.asset import Asset, Provenance
from meshforge.errors import InputError

TRIMESH_SUFFIXES = (".glb", ".gltf", ".obj", ".ply", ".stl")
USD_SUFFIXES = (".usdz", ".usd", ".usda", ".usdc")
SUPPORTED_SUFFIXES = TRIMESH_SUFFIXES + USD_SUFFIXES


def load_asset(path: str | os.PathLike[str]) -> Asset:
    """Read a mesh file into an Asset; an InputError names what is wrong and what to pass."""
    source = Path(path)
    if not source.is_file():
        raise InputError(
            f"{source} does not exist", stage="load", hint="Check the path of the mesh file."
        )
    suffix = source.suffix.lower()
    if suffix in TRIMESH_SUFFIXES:
        from meshforge.loading.trimesh_reader import read_trimesh

        asset = read_trimesh(source)
    elif suffix in USD_SUFFIXES:
        from meshforge.loading.usdz import read_usd

        asset = read_usd(source)
    else:
        raise InputError(
            f"cannot read {source.name}: {suffix or 'a file without a suffix'} "
            "is not a mesh format meshforge reads",
            stage="load",
            hint=f"Pass one of: {', '.join(SUPPORTED_SUFFIXES)}.",
        )
    if asset.face_count == 0:
        raise InputError(
            f"{source} holds no triangles", stage="load", hint="Pass a file with a triangle mesh."
        )
    provenance = Provenance(engine="file", engine_version=suffix.lstrip("."))
    return dataclasses.replace(asset, provenance=provenance)


__all__ = ["SUPPORTED_SUFFIXES", "load_asset"]
