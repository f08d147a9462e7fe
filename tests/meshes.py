"""Tiny inline meshes for exact asserts."""

from __future__ import annotations

import numpy as np
import trimesh

from meshforge.asset import Asset, Camera, Material, Mesh, Texture

# A unit cube's 8 corners and 12 outward-facing triangles.
CUBE_VERTICES = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=float)
CUBE_FACES = np.array(
    [
        [0, 1, 3],
        [0, 3, 2],
        [4, 6, 7],
        [4, 7, 5],  # x = 0, x = 1
        [0, 4, 5],
        [0, 5, 1],
        [2, 3, 7],
        [2, 7, 6],  # y = 0, y = 1
        [0, 2, 6],
        [0, 6, 4],
        [1, 5, 7],
        [1, 7, 3],  # z = 0, z = 1
    ]
)


def box_asset(
    width: float,
    height: float,
    depth: float,
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0),
    with_camera: bool = False,
    textured: bool = False,
) -> Asset:
    vertices = (CUBE_VERTICES - 0.5) * [width, height, depth] + offset
    uv = CUBE_VERTICES[:, :2] if textured else None
    material = Material(name="box")
    if textured:
        image = np.zeros((4, 4, 3), dtype=np.uint8)
        image[:2, :2] = (255, 0, 0)
        material.base_color_texture = Texture(image)
    camera = None
    if with_camera:
        pose = np.eye(4)
        pose[2, 3] = 5.0
        camera = Camera(
            width=100, height=100, fx=100.0, fy=100.0, cx=50.0, cy=50.0, camera_to_world=pose
        )
    return Asset(
        meshes=[Mesh(vertices=vertices, faces=CUBE_FACES, uv=uv)],
        materials=[material],
        camera=camera,
    )


def checker_sphere(subdivisions: int = 5) -> Asset:
    """A unit icosphere with spherical UVs and a seam at u = 0 | 1 (the -Z meridian), textured
    with a checker so texture shifts show in a render."""
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
    vertices, faces = np.asarray(sphere.vertices), np.array(sphere.faces)
    u = np.arctan2(vertices[:, 0], vertices[:, 2]) / (2 * np.pi) + 0.5
    v = np.arccos(np.clip(vertices[:, 1], -1.0, 1.0)) / np.pi
    uv = np.column_stack([u, v])
    # Faces across the seam take copies of their low-u corners at u + 1.
    corners = (np.ptp(uv[faces, 0], axis=1) > 0.5)[:, None] & (uv[faces, 0] < 0.5)
    copied = np.unique(faces[corners])
    index = np.zeros(len(vertices), dtype=np.int64)
    index[copied] = np.arange(len(vertices), len(vertices) + len(copied))
    faces[corners] = index[faces[corners]]
    vertices = np.vstack([vertices, vertices[copied]])
    uv = np.vstack([uv, uv[copied] + [1.0, 0.0]])
    cells = (np.indices((256, 256)) // 32).sum(axis=0) % 2
    grey = (cells * 200 + 30).astype(np.uint8)
    image = np.stack([grey, grey, 255 - grey], axis=-1)
    material = Material(name="checker", base_color_texture=Texture(image))
    mesh = Mesh(vertices=vertices, faces=faces, uv=uv, normals=vertices.copy(), name="sphere")
    return Asset(meshes=[mesh], materials=[material])
