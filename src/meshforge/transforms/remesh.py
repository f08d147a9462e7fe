"""``remesh``: isotropic remeshing, so every triangle is close to equilateral at one edge length.

Botsch and Kobbelt's scheme ("A Remeshing Approach to Multiresolution Modeling", 2004), as
gpytoolbox implements it (``remesh_botsch``, the optional extra ``meshforge[remesh]``): edges
longer than 4/3 of the target are split, shorter than 4/5 collapsed, edges flipped towards
valence 6, vertices relaxed tangentially and projected back onto the input surface, for
``iterations`` rounds. Open boundaries stay where they are (their vertices are held fixed).
Scans and generated meshes come out with long slivers and uneven density; an even mesh
decimates, subdivides, deforms and prints better.

Each mesh is welded by position first (UV seams would otherwise read as boundaries) and must be
2-manifold (run ``repair`` first). The new triangles have no UVs: textures cannot follow, so a
textured material loses its maps here, with a warning; in a chain, ``unwrap`` and ``bake`` after
``remesh`` bring the look back from the asset as it was before (``remesh`` loses the look, as
``decimate`` does).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from pydantic import Field, model_validator

from meshforge.asset import Asset, FloatArray, IntArray, Material, Mesh
from meshforge.errors import DependencyError, TransformError
from meshforge.geometry import row_ids, triangle_areas, vertex_normals
from meshforge.recipe import Options
from meshforge.transforms.base import Context, Transform
from meshforge.transforms.dedup import TEXTURE_SLOTS


class RemeshOptions(Options):
    """Give ``edge_length`` in the asset's units, or ``relative_edge_length`` as a fraction of
    the bounding box diagonal; neither keeps each mesh's mean edge length."""

    edge_length: float | None = Field(
        default=None, gt=0.0, description="Target edge length in the asset's units (metres)."
    )
    relative_edge_length: float | None = Field(
        default=None,
        gt=0.0,
        le=0.5,
        description="Target edge length as a fraction of the asset's bounding-box diagonal.",
    )
    iterations: int = Field(default=10, ge=1, le=100, description="Remeshing rounds.")
    max_faces: int = Field(
        default=2_000_000,
        ge=4,
        description="Refuse a target edge length that would make more faces than this.",
    )

    @model_validator(mode="after")
    def _one_length(self) -> RemeshOptions:
        if self.edge_length is not None and self.relative_edge_length is not None:
            raise ValueError("give edge_length or relative_edge_length, not both")
        return self


def remesh(
    edge_length: float | None = None,
    relative_edge_length: float | None = None,
    iterations: int = 10,
    max_faces: int = 2_000_000,
) -> Transform:
    options = RemeshOptions(
        edge_length=edge_length,
        relative_edge_length=relative_edge_length,
        iterations=iterations,
        max_faces=max_faces,
    )
    return Transform(name="remesh", function=lambda a, c: _remesh(a, c, options), options=options)


def _backend() -> object:
    try:
        with warnings.catch_warnings():  # it imports scipy names SciPy has deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            import gpytoolbox
    except ImportError as error:
        raise DependencyError(
            "remesh needs the gpytoolbox package",
            stage="remesh",
            hint="Install it with: pip install 'meshforge[remesh]'",
        ) from error
    return gpytoolbox


def welded(mesh: Mesh) -> tuple[FloatArray, IntArray]:
    """The mesh's positions merged (UV and normal seams joined) and its faces over them."""
    ids, first = row_ids(mesh.vertices)
    return mesh.vertices[first], ids[mesh.faces]


def edge_use(faces: IntArray) -> tuple[IntArray, IntArray]:
    """Undirected edges (sorted pairs) and how many faces use each."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    return np.asarray(unique, dtype=np.int64), np.asarray(counts, dtype=np.int64)


def mean_edge_length(vertices: FloatArray, faces: IntArray) -> float:
    edges, _ = edge_use(faces)
    return float(np.linalg.norm(vertices[edges[:, 0]] - vertices[edges[:, 1]], axis=1).mean())


def _target(asset: Asset, vertices: FloatArray, faces: IntArray, options: RemeshOptions) -> float:
    if options.edge_length is not None:
        return options.edge_length
    if options.relative_edge_length is not None:
        low, high = asset.bounds()
        return options.relative_edge_length * float(np.linalg.norm(np.subtract(high, low)))
    return mean_edge_length(vertices, faces)


def _remesh_one(
    asset: Asset, mesh: Mesh, options: RemeshOptions, backend: object
) -> tuple[Mesh, float]:
    vertices, faces = welded(mesh)
    edges, counts = edge_use(faces)
    if (counts > 2).any():
        raise TransformError(
            f"mesh {mesh.name!r} has {int((counts > 2).sum())} edge(s) shared by more than two"
            " faces, so it cannot be remeshed",
            stage="remesh",
            hint="Run repair before remesh.",
        )
    h = _target(asset, vertices, faces, options)
    area = float(triangle_areas(vertices, faces).sum())
    expected = 4 * area / (np.sqrt(3) * h * h)  # faces of an equilateral tiling
    if expected > options.max_faces:
        raise TransformError(
            f"an edge length of {h:.4g} would give about {expected:,.0f} faces on mesh"
            f" {mesh.name!r} (max_faces {options.max_faces:,})",
            stage="remesh",
            hint="Give a longer edge_length, or raise max_faces.",
        )
    boundary = np.unique(edges[counts == 1].reshape(-1))
    new_v, new_f = backend.remesh_botsch(  # type: ignore[attr-defined]
        np.ascontiguousarray(vertices, dtype=np.float64),
        np.ascontiguousarray(faces, dtype=np.int32),
        i=options.iterations,
        h=h,
        project=True,
        feature=np.asarray(boundary, dtype=np.int32),
    )
    new_v = np.asarray(new_v, dtype=np.float64)
    new_f = np.asarray(new_f, dtype=np.int64)
    normals = vertex_normals(new_v, new_f)
    return dataclasses.replace(mesh, vertices=new_v, faces=new_f, uv=None, normals=normals), h


def _without_maps(material: Material) -> Material:
    return dataclasses.replace(
        material,
        base_color_texture=None,
        normal_texture=None,
        occlusion_roughness_metallic_texture=None,
    )


def _remesh(asset: Asset, ctx: Context, options: RemeshOptions) -> Asset:
    backend = _backend()
    meshes: list[Mesh] = []
    lengths: list[float] = []
    faces_before = asset.face_count
    for index, mesh in enumerate(asset.meshes):
        ctx.progress(index / max(len(asset.meshes), 1), mesh.name)
        if not len(mesh.faces):
            meshes.append(mesh)
            continue
        new, h = _remesh_one(asset, mesh, options, backend)
        meshes.append(new)
        lengths.append(h)
    materials = list(asset.materials)
    textured = sorted(
        {m.material for m in asset.meshes if m.uv is not None and len(m.faces)}
        & {i for i, m in enumerate(materials) if _has_maps(m)}
    )
    for i in textured:
        materials[i] = _without_maps(materials[i])
    if textured:
        ctx.warn(
            "maps-dropped",
            f"remeshed triangles have no UVs, so the textures of {len(textured)} material(s)"
            " were dropped; run unwrap and bake (from the asset before remesh) to bring them back",
        )
    result = dataclasses.replace(asset, meshes=meshes, materials=materials)
    ctx.report.change("faces", faces_before, result.face_count)
    ctx.report.note("edge_length", [round(h, 6) for h in lengths])
    measured = [mean_edge_length(*welded(m)) for m in meshes if len(m.faces)]
    ctx.report.note("mean_edge_length_after", [round(x, 6) for x in measured])
    return result


def _has_maps(material: Material) -> bool:
    return any(getattr(material, slot) is not None for slot in TEXTURE_SLOTS)
