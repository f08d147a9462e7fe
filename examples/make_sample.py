"""Rebuild examples/waterbottle.png, the project's sample product photo, with meshforge's renderer.

The model is the CC0 Water Bottle (c) 2017 Microsoft, via Khronos glTF-Sample-Assets, in the
benchmark's canonical frame (+Y up, label towards +Z). The camera and lights are the benchmark's
input view (shared/eval/PROTOCOL.md): 512 x 512, vertical FOV 40 deg, distance 2.2, elevation
10 deg, azimuth 0, over a white background, written as RGB without alpha like a studio photo.

    python examples/make_sample.py [GLB] [--out PNG] [--compare REFERENCE_PNG]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from meshforge.asset import Asset, Material, Mesh, Texture
from meshforge.render.camera import look_at_camera
from meshforge.render.raster import render_asset
from meshforge.render.thumbnail import save_png

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GLB = REPO.parent / "shared" / "eval" / "WaterBottle" / "gt.glb"
DEFAULT_OUT = REPO / "examples" / "waterbottle.png"


def _factor(value: object) -> tuple[float, float, float, float]:
    """trimesh keeps baseColorFactor as 0..255 integers; glTF means linear 0..1 floats."""
    f = np.asarray(value if value is not None else (1.0, 1.0, 1.0, 1.0), dtype=np.float64).ravel()
    if f.size == 3:
        f = np.append(f, 255.0 if f.max() > 1.0 else 1.0)
    if f.max() > 1.0 + 1e-6:
        f = f / 255.0
    return (float(f[0]), float(f[1]), float(f[2]), float(f[3]))


def load_glb(path: Path) -> Asset:
    """Every triangle geometry of the file, node transforms applied, with base-colour materials."""
    scene = trimesh.load(str(path), force="scene", process=False)
    meshes: list[Mesh] = []
    materials: list[Material] = []
    for node in scene.graph.nodes_geometry:
        transform, name = scene.graph[node]
        geom = scene.geometry[name]
        if not isinstance(geom, trimesh.Trimesh) or not len(geom.faces):
            continue
        matrix = np.asarray(transform, dtype=np.float64)
        vertices = geom.vertices @ matrix[:3, :3].T + matrix[:3, 3]
        faces = np.asarray(geom.faces)
        if np.linalg.det(matrix[:3, :3]) < 0:
            faces = faces[:, ::-1]
        normals = None
        if "vertex_normals" in geom._cache.cache:  # only normals stored in the file, not computed
            normals = geom.vertex_normals @ np.linalg.inv(matrix[:3, :3])
        uv, material = None, Material(name=str(name))
        visual = geom.visual
        pbr = visual.material if visual.kind == "texture" else None
        if isinstance(pbr, trimesh.visual.material.PBRMaterial):
            if visual.uv is not None and len(visual.uv) == len(vertices):
                uv = np.array(visual.uv, dtype=np.float64)
                uv[:, 1] = 1.0 - uv[:, 1]  # trimesh flips v on import; glTF's v runs down
            texture = None
            if pbr.baseColorTexture is not None and uv is not None:
                texture = Texture(np.asarray(pbr.baseColorTexture.convert("RGBA")), name=str(name))
            material = Material(
                name=str(pbr.name or name),
                base_color_factor=_factor(pbr.baseColorFactor),
                base_color_texture=texture,
                alpha_mode=(pbr.alphaMode or "OPAQUE").upper(),
            )
        meshes.append(Mesh(vertices, faces, uv, normals, material=len(materials), name=str(name)))
        materials.append(material)
    return Asset(meshes=meshes, materials=materials)


def normalise(asset: Asset) -> Asset:
    """Like the benchmark: bounding-box centre to the origin, longest side 1.0."""
    bounds = asset.bounds()
    scale = 1.0 / float((bounds[1] - bounds[0]).max())
    return asset.apply_similarity(scale, -(bounds[0] + bounds[1]) / 2.0 * scale)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) / 255.0 - b.astype(np.float64) / 255.0) ** 2))
    return 100.0 if mse == 0 else 10.0 * float(np.log10(1.0 / mse))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("glb", nargs="?", type=Path, default=DEFAULT_GLB)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--compare", type=Path, help="reference RGB PNG: print the PSNR against it")
    args = parser.parse_args()

    asset = normalise(load_glb(args.glb))
    camera = look_at_camera((0.0, 0.0, 0.0), 2.2, 0.0, 10.0, 40.0, 512, 512)
    rgba = render_asset(asset, camera, background=(255, 255, 255))
    save_png(rgba[..., :3], args.out)
    print(f"wrote {args.out}")
    if args.compare is not None:
        reference = np.asarray(Image.open(args.compare).convert("RGB"))
        print(f"PSNR vs {args.compare}: {psnr(rgba[..., :3], reference):.2f} dB")


if __name__ == "__main__":
    main()
