"""The library's front door: ``generate`` a photo into files, ``load`` a mesh file as an Asset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from meshforge.asset import Asset, Material, Mesh, Provenance, Texture
from meshforge.errors import InputError
from meshforge.pipeline import GenerateResult, ProgressListener, run
from meshforge.recipe import build_recipe


def generate(
    photo: str | os.PathLike[str],
    output: str | os.PathLike[str] = "out",
    *,
    height: float | None = None,
    width: float | None = None,
    depth: float | None = None,
    formats: tuple[str, ...] | str = ("glb",),
    segmenter: str = "auto",
    foreground_ratio: float = 0.85,
    engine: str = "silhouette",
    engine_options: dict[str, Any] | None = None,
    name: str | None = None,
    thumbnail: bool = True,
    on_progress: ProgressListener | None = None,
) -> GenerateResult:
    """Photo in, files out: NAME.glb (and other formats), NAME.png and NAME.report.json."""
    recipe = build_recipe(
        {
            "input": {"path": Path(photo)},
            "segment": {"segmenter": segmenter},
            "frame": {"foreground_ratio": foreground_ratio},
            "engine": {"name": engine, "options": engine_options or {}},
            "size": {"height": height, "width": width, "depth": depth},
            "output": {
                "directory": Path(output),
                "name": name,
                "formats": formats,
                "thumbnail": thumbnail,
            },
        }
    )
    return run(recipe, on_progress=on_progress)


def load(path: str | os.PathLike[str]) -> Asset:
    """Read GLB/glTF/OBJ/PLY/STL into an Asset (node transforms applied, base colour kept)."""
    import trimesh

    source = Path(path)
    if not source.is_file():
        raise InputError(
            f"{source} does not exist", stage="load", hint="Check the path of the mesh file."
        )
    try:
        scene = trimesh.load_scene(source)
    except Exception as exc:  # trimesh raises many types for unreadable files
        raise InputError(
            f"cannot read {source}: {exc}",
            stage="load",
            hint="Pass a GLB, glTF, OBJ, PLY or STL file.",
        ) from exc
    meshes: list[Mesh] = []
    materials: list[Material] = []
    for node in scene.graph.nodes_geometry:
        transform, geometry_name = scene.graph[node]
        geometry = scene.geometry[geometry_name]
        if not hasattr(geometry, "faces") or len(geometry.faces) == 0:
            continue
        vertices = trimesh.transform_points(geometry.vertices, transform)
        uv, material = None, Material(name=str(geometry_name))
        visual = geometry.visual
        if getattr(visual, "kind", None) == "texture" and visual.uv is not None:
            uv = np.column_stack([visual.uv[:, 0], 1.0 - visual.uv[:, 1]])
            image = getattr(visual.material, "baseColorTexture", None)
            if image is None:
                image = getattr(visual.material, "image", None)
            if image is not None:
                material.base_color_texture = Texture(
                    np.asarray(image.convert("RGB")), "base_color"
                )
            factor = getattr(visual.material, "baseColorFactor", None)
            if factor is not None:
                material.base_color_factor = tuple(float(v) / 255.0 for v in factor)  # type: ignore[assignment]
        materials.append(material)
        meshes.append(
            Mesh(
                vertices=vertices,
                faces=geometry.faces,
                uv=uv,
                material=len(materials) - 1,
                name=str(geometry_name),
            )
        )
    if not meshes:
        raise InputError(
            f"{source} holds no triangles", stage="load", hint="Pass a file with a triangle mesh."
        )
    if source.suffix.lower() == ".stl":
        _from_printer_frame(meshes)
    return Asset(
        meshes=meshes,
        materials=materials,
        provenance=Provenance(engine="file", engine_version=source.suffix.lstrip(".")),
    )


def _from_printer_frame(meshes: list[Mesh]) -> None:
    """STL carries no units or axes: read it as slicers and meshforge's STL exporter write it,
    millimetres with +Z up, into metres with +Y up (the front, -Y there, becomes +Z)."""
    for mesh in meshes:
        x, y, z = mesh.vertices.T / 1000.0
        mesh.vertices = np.column_stack([x, z, -y])
