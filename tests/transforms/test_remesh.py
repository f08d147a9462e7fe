"""remesh: even, near-equilateral triangles at the asked edge length, on the same surface."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from meshforge.asset import Asset, Material, Mesh, Texture
from meshforge.errors import TransformError
from meshforge.transforms import remesh
from meshforge.transforms.chain import available_transforms
from meshforge.transforms.remesh import RemeshOptions, edge_use, mean_edge_length


def squashed_sphere() -> Asset:
    sphere = trimesh.creation.icosphere(subdivisions=4)
    vertices = sphere.vertices * [1.0, 1.0, 0.3]  # uneven, stretched triangles
    return Asset(meshes=[Mesh(vertices=vertices, faces=sphere.faces)], materials=[Material()])


def edge_lengths(mesh: Mesh) -> np.ndarray:
    edges, _ = edge_use(mesh.faces)
    return np.linalg.norm(mesh.vertices[edges[:, 0]] - mesh.vertices[edges[:, 1]], axis=1)


def test_closed_surface_comes_back_even_at_the_edge_length() -> None:
    before = squashed_sphere()
    spread_before = edge_lengths(before.meshes[0]).std() / edge_lengths(before.meshes[0]).mean()
    after = before.transform(remesh(edge_length=0.05))
    mesh = after.meshes[0]
    lengths = edge_lengths(mesh)
    assert lengths.mean() == pytest.approx(0.05, rel=0.05)
    assert lengths.std() / lengths.mean() < 0.2 < spread_before
    result = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    assert result.is_watertight and result.is_winding_consistent
    source = trimesh.Trimesh(before.meshes[0].vertices, before.meshes[0].faces)
    assert result.volume == pytest.approx(source.volume, rel=0.01)  # same surface, outward
    report = after.reports[-1]
    assert report.changes["faces"][0] == 5120
    assert report.details["edge_length"] == [0.05]


def test_relative_edge_length_and_the_default() -> None:
    asset = squashed_sphere()
    diagonal = float(np.linalg.norm(np.subtract(*asset.bounds())))
    relative = asset.transform(remesh(relative_edge_length=0.02))
    assert relative.reports[-1].details["edge_length"] == [round(0.02 * diagonal, 6)]
    assert edge_lengths(relative.meshes[0]).mean() == pytest.approx(0.02 * diagonal, rel=0.1)
    default = asset.transform(remesh()).meshes[0]
    mean = mean_edge_length(asset.meshes[0].vertices, asset.meshes[0].faces)
    assert edge_lengths(default).mean() == pytest.approx(mean, rel=0.1)


def test_open_boundary_stays_in_place() -> None:
    grid = trimesh.creation.box(extents=(1, 1, 1))
    grid = grid.subdivide().subdivide()
    keep = grid.face_normals[:, 2] < 0.5  # drop the top: a box open at +Z
    vertices, faces = grid.vertices, grid.faces[keep]
    edges, counts = edge_use(faces)
    rim = vertices[np.unique(edges[counts == 1])]
    asset = Asset(meshes=[Mesh(vertices=vertices, faces=faces)], materials=[Material()])
    mesh = asset.transform(remesh(edge_length=0.1)).meshes[0]
    distances = np.linalg.norm(rim[:, None, :] - mesh.vertices[None, :, :], axis=2).min(axis=1)
    assert distances.max() < 1e-9  # every rim point is still a vertex
    _, out_counts = edge_use(mesh.faces)
    assert (out_counts <= 2).all()


def test_textures_are_dropped_with_a_warning() -> None:
    asset = squashed_sphere()
    mesh = asset.meshes[0]
    asset.meshes[0] = Mesh(vertices=mesh.vertices, faces=mesh.faces, uv=mesh.vertices[:, :2])
    asset.materials[0] = Material(base_color_texture=Texture(np.zeros((4, 4, 3), np.uint8)))
    after = asset.transform(remesh(edge_length=0.1))
    assert after.meshes[0].uv is None
    assert after.materials[0].base_color_texture is None
    assert [w.code for w in after.reports[-1].warnings] == ["maps-dropped"]


def test_non_manifold_input_and_bad_options_are_refused() -> None:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], dtype=float)
    fin = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])  # three faces on edge 0-1
    asset = Asset(meshes=[Mesh(vertices=vertices, faces=fin)], materials=[Material()])
    with pytest.raises(TransformError, match="repair"):
        asset.transform(remesh(edge_length=0.1))
    with pytest.raises(ValueError, match="not both"):
        RemeshOptions(edge_length=0.1, relative_edge_length=0.1)
    with pytest.raises(TransformError, match="max_faces"):
        squashed_sphere().transform(remesh(edge_length=1e-4))


def test_remesh_is_a_chain_step() -> None:
    assert "remesh" in available_transforms()
