"""USD, USDA, USDC and USDZ through usd-core's ``pxr`` (``pip install 'meshforge[usdz]'``).

Every visible UsdGeom.Mesh is read with its world transform applied, polygons split into
triangle fans (holes left out), and brought into meshforge's frame: the stage's
``metersPerUnit`` scales it to metres and a Z-up stage turns +Y up the way STL does
(x, y, z) -> (x, z, -y). Texture coordinates (the material's ``st`` primvar) and normals may be
per point, per face or per face corner; vertices are split where a point carries more than one,
and USD's upward t becomes glTF's downward v = 1 - t. GeomSubsets bound to their own materials
become meshes of their own. Materials are read by usd_materials.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from meshforge.asset import Asset, FloatArray, IntArray, Material, Mesh
from meshforge.errors import DependencyError, InputError
from meshforge.loading.common import real_size

USDZ_HINT = "pip install 'meshforge[usdz]'"

# (x, y, z) -> (x, z, -y): +Z up becomes +Y up and the front, -Y there, faces +Z.
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def read_usd(source: Path) -> Asset:
    """Every mesh on ``source``'s stage in metres, +Y up, with its UsdPreviewSurface material."""
    try:
        from pxr import Tf, Usd, UsdGeom
    except ImportError as exc:
        raise DependencyError(
            f"reading {source.suffix} files needs usd-core, which is not installed",
            stage="load",
            hint=USDZ_HINT,
        ) from exc
    from meshforge.loading.usd_materials import UsdMaterials

    try:
        stage = Usd.Stage.Open(str(source))
    except Tf.ErrorException as exc:
        raise InputError(
            f"cannot read {source}: {str(exc).strip()}",
            stage="load",
            hint="Pass a valid USD or USDZ file.",
        ) from exc
    if stage is None:
        raise InputError(f"cannot read {source}", stage="load", hint="Pass a valid USD file.")
    frame = np.eye(3) * UsdGeom.GetStageMetersPerUnit(stage)
    if UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z:
        frame = Z_UP_TO_Y_UP @ frame
    time = Usd.TimeCode.EarliestTime()  # static content, or an animation's first frame
    materials = UsdMaterials(source, time)
    meshes: list[Mesh] = []
    hidden = (UsdGeom.Tokens.guide, UsdGeom.Tokens.proxy)
    for prim in Usd.PrimRange(stage.GetPseudoRoot(), Usd.TraverseInstanceProxies()):
        if not prim.IsA(UsdGeom.Mesh):
            continue
        imageable = UsdGeom.Imageable(prim)
        if imageable.ComputeVisibility(time) == UsdGeom.Tokens.invisible:
            continue
        if imageable.ComputePurpose() in hidden:
            continue
        meshes.extend(_read_mesh(UsdGeom.Mesh(prim), frame, time, materials))
    default = stage.GetDefaultPrim()
    return Asset(
        meshes=meshes,
        materials=materials.materials or [Material()],
        size=real_size(default.GetCustomData()) if default else None,
    )


def _read_mesh(mesh: Any, frame: FloatArray, time: Any, materials: Any) -> list[Mesh]:
    """One Mesh per material of ``mesh``: the whole prim, or each bound GeomSubset and the rest."""
    from pxr import UsdGeom, UsdShade

    prim = mesh.GetPrim()
    where = f"{prim.GetPath()}"
    points = _array(mesh.GetPointsAttr().Get(time), (-1, 3))
    counts = _array(mesh.GetFaceVertexCountsAttr().Get(time), (-1,)).astype(np.int64)
    indices = _array(mesh.GetFaceVertexIndicesAttr().Get(time), (-1,)).astype(np.int64)
    if not len(points) or not len(counts):
        return []
    if counts.min() < 0 or counts.sum() != len(indices):
        raise InputError(f"{where}: faceVertexCounts do not add up to the indices", stage="load")
    if indices.min() < 0 or indices.max() >= len(points):
        raise InputError(f"{where}: a face refers to a point that does not exist", stage="load")
    corners, face_of = _fan(counts)
    holes = _array(mesh.GetHoleIndicesAttr().Get(time), (-1,)).astype(np.int64)
    if len(holes):
        keep = ~np.isin(face_of, holes)
        corners, face_of = corners[keep], face_of[keep]
    if mesh.GetOrientationAttr().Get(time) == UsdGeom.Tokens.leftHanded:
        corners = corners[:, ::-1]

    world = np.array(UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(time), dtype=np.float64)
    linear = world[:3, :3] @ frame.T  # USD's matrices act on row vectors
    vertices = points @ linear + world[3, :3] @ frame.T
    if np.linalg.det(linear) < 0:
        corners = corners[:, ::-1]  # a mirroring transform would turn the faces inside out

    binding = UsdShade.MaterialBindingAPI(prim)
    groups: list[tuple[Any, Any]] = []  # (triangle mask or None, UsdShade.Material)
    taken = np.zeros(len(face_of), dtype=bool)
    for subset in binding.GetMaterialBindSubsets():
        bound, _ = UsdShade.MaterialBindingAPI(subset.GetPrim()).ComputeBoundMaterial()
        faces = _array(subset.GetIndicesAttr().Get(time), (-1,)).astype(np.int64)
        mask = np.isin(face_of, faces) & ~taken
        taken |= mask
        groups.append((mask, bound))
    whole, _ = binding.ComputeBoundMaterial()
    groups.append((~taken if groups else None, whole))

    st_name = materials.st_name(next((m for _, m in groups if m), None))
    corner_attrs = [
        _corner_values(mesh, _primvar(mesh, st_name), len(points), counts, indices, time),
        _normals(mesh, len(points), counts, indices, time),
    ]
    double_sided = bool(mesh.GetDoubleSidedAttr().Get(time))
    out: list[Mesh] = []
    for mask, bound in groups:
        chosen = corners if mask is None else corners[mask]
        if not len(chosen):
            continue
        verts, faces, (uv, normals) = _weld(vertices, indices, chosen, corner_attrs, mask is None)
        if uv is not None:
            uv = np.column_stack([uv[:, 0], 1.0 - uv[:, 1]])
        if normals is not None:
            normals = normals @ np.linalg.pinv(linear).T  # normals take the inverse transpose
            length = np.linalg.norm(normals, axis=1, keepdims=True)
            normals = np.where(length > 0, normals / np.where(length > 0, length, 1.0), normals)
        name = prim.GetName() if len(groups) == 1 else f"{prim.GetName()}_{len(out)}"
        index = materials.index(bound, double_sided)
        out.append(Mesh(verts, faces, uv=uv, normals=normals, material=index, name=name))
    return out


def _array(value: Any, shape: tuple[int, ...]) -> FloatArray:
    if value is None:
        return np.zeros((0, *shape[1:]), dtype=np.float64)
    return np.asarray(value, dtype=np.float64).reshape(shape)


def _fan(counts: IntArray) -> tuple[IntArray, IntArray]:
    """Triangle fans over every polygon: (T, 3) positions in faceVertexIndices, face of each."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    fans = np.maximum(counts - 2, 0)
    face_of = np.repeat(np.arange(len(counts)), fans)
    k = np.arange(int(fans.sum())) - np.repeat(np.cumsum(fans) - fans, fans)
    first = starts[face_of]
    return np.column_stack([first, first + k + 1, first + k + 2]), face_of


def _primvar(mesh: Any, name: str) -> Any:
    """The texture-coordinate primvar: ``name`` (what the material reads), else the first
    two-component texture coordinate the mesh has."""
    from pxr import Sdf, UsdGeom

    api = UsdGeom.PrimvarsAPI(mesh)
    primvar = api.GetPrimvar(name)
    if primvar and primvar.HasValue():
        return primvar
    for candidate in api.GetPrimvarsWithValues():
        if candidate.GetTypeName() in (Sdf.ValueTypeNames.TexCoord2fArray,):
            return candidate
    return None


def _normals(mesh: Any, n_points: int, counts: IntArray, indices: IntArray, time: Any) -> Any:
    """``primvars:normals`` wins over the ``normals`` attribute, as USD specifies."""
    from pxr import UsdGeom

    primvar = UsdGeom.PrimvarsAPI(mesh).GetPrimvar("normals")
    if primvar and primvar.HasValue():
        return _corner_values(mesh, primvar, n_points, counts, indices, time)
    values = mesh.GetNormalsAttr().Get(time)
    if values is None:
        return None
    return _spread(
        np.asarray(values, np.float64), mesh.GetNormalsInterpolation(), n_points, counts, indices
    )


def _corner_values(
    mesh: Any, primvar: Any, n_points: int, counts: IntArray, indices: IntArray, time: Any
) -> tuple[str, FloatArray] | None:
    if primvar is None:
        return None
    values = primvar.ComputeFlattened(time)
    if values is None:
        return None
    return _spread(
        np.asarray(values, np.float64), primvar.GetInterpolation(), n_points, counts, indices
    )


def _spread(
    values: FloatArray, interpolation: str, n_points: int, counts: IntArray, indices: IntArray
) -> tuple[str, FloatArray] | None:
    """``("point", per point)`` or ``("corner", per face corner)``; None when the count does not
    match the interpolation (a malformed primvar is left out rather than misread)."""
    if values.ndim != 2 or not len(values):
        return None
    if interpolation in ("vertex", "varying") and len(values) == n_points:
        return "point", values
    if interpolation == "faceVarying" and len(values) == len(indices):
        return "corner", values
    if interpolation == "uniform" and len(values) == len(counts):
        return "corner", np.repeat(values, counts, axis=0)
    if interpolation == "constant":
        return "point", np.repeat(values[:1], n_points, axis=0)
    return None


def _weld(
    points: FloatArray,
    indices: IntArray,
    corners: IntArray,
    attrs: list[tuple[str, FloatArray] | None],
    whole: bool,
) -> tuple[FloatArray, IntArray, list[FloatArray | None]]:
    """Vertices, faces and per-vertex attributes for the triangles ``corners``.

    When every attribute is per point, the points stay as they are (all of them for the whole
    prim, so a round trip keeps the vertex count); otherwise each distinct (point, attributes)
    combination becomes one vertex, in order of first use.
    """
    point_of = indices[corners.ravel()]
    if whole and all(a is None or a[0] == "point" for a in attrs):
        return points, point_of.reshape(-1, 3), [None if a is None else a[1] for a in attrs]
    columns = [point_of[:, None].astype(np.float64)]
    for attr in attrs:
        if attr is not None:
            kind, values = attr
            columns.append(values[point_of] if kind == "point" else values[corners.ravel()])
    _, first, inverse = np.unique(
        np.hstack(columns), axis=0, return_index=True, return_inverse=True
    )
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    used = corners.ravel()[first[order]]  # one corner standing for each new vertex
    out: list[FloatArray | None] = []
    for attr in attrs:
        if attr is None:
            out.append(None)
        else:
            kind, values = attr
            out.append(values[indices[used]] if kind == "point" else values[used])
    return points[indices[used]], rank[inverse.ravel()].reshape(-1, 3), out
