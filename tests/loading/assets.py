"""Small PBR assets and a lossless texture encoder for the reader tests."""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray

from meshes import CUBE_FACES, CUBE_VERTICES
from meshforge.asset import Asset, Material, Mesh, Texture


def png(image: NDArray[np.uint8]) -> tuple[bytes, str]:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue(), "image/png"


def noise(height: int, width: int, channels: int, seed: int) -> NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


def pbr_box(base_channels: int = 4) -> Asset:
    """A unit box with UVs, normals and every map: base colour, normal and ORM."""
    material = Material(
        name="painted",
        base_color_factor=(0.2, 0.4, 0.6, 0.5),
        base_color_texture=Texture(noise(8, 16, base_channels, 1), "base_color"),
        metallic_factor=0.25,
        roughness_factor=0.5,
        normal_texture=Texture(noise(16, 8, 3, 2), "normal"),
        occlusion_roughness_metallic_texture=Texture(noise(4, 4, 3, 3), "orm"),
        alpha_mode="BLEND",
        double_sided=True,
    )
    vertices = CUBE_VERTICES - 0.5
    mesh = Mesh(
        vertices=vertices,
        faces=CUBE_FACES,
        uv=CUBE_VERTICES[:, :2] * 0.5 + 0.25,
        normals=vertices / np.linalg.norm(vertices, axis=1, keepdims=True),
        name="box",
    )
    return Asset(meshes=[mesh], materials=[material])
