"""Every mesh of an asset as one soup of faces over shared positions, for the repair steps.

Faces keep their own vertices (global ids: mesh ``i``'s vertex ``v`` is ``offsets[i] + v``), so
UVs, normals and materials survive; topology is read on point ids (corners at one position
share one, across meshes). The soup keeps its edge index in step as faces go, flip or come, and
it can grow vertices (a hole's centre, a corner copied into the mesh that fills a hole) whose
UVs and normals are averaged from vertices of the same mesh. ``to_meshes`` gives the meshes
back.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Asset, FloatArray, IntArray, Mesh
from meshforge.transforms.dedup import drop_unused_vertices
from meshforge.transforms.edge_index import EdgeIndex
from meshforge.transforms.weld import position_ids

BoolArray = NDArray[np.bool_]


@dataclasses.dataclass
class FaceSoup:
    """Every mesh's faces in one array of global vertex ids, with the mesh of each face and the
    edge index of their points, kept in step as faces go, flip or come."""

    meshes: list[Mesh]
    offsets: IntArray
    vertices: FloatArray
    pid: IntArray
    faces: IntArray
    mesh: IntArray
    flipped: BoolArray
    index: EdgeIndex
    # Vertices added after the meshes' own (a hole's centre, a corner copied into another mesh):
    # their mesh, position, point, UV and normal, kept in lists until faces use them.
    added_mesh: list[int] = dataclasses.field(default_factory=list)
    _pending: list[tuple[FloatArray, int, FloatArray, FloatArray]] = dataclasses.field(
        default_factory=list
    )
    _uv: FloatArray | None = None
    _normals: FloatArray | None = None
    _next_point: int | None = None

    @classmethod
    def of(cls, asset: Asset) -> FaceSoup:
        meshes = list(asset.meshes)
        offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
        vertices = np.concatenate([m.vertices for m in meshes])
        pid = position_ids(vertices)
        faces = np.concatenate([m.faces + o for m, o in zip(meshes, offsets, strict=False)])
        # The edges are sorted once here; every change below keeps the index in step.
        return cls(
            meshes=meshes,
            offsets=np.asarray(offsets, dtype=np.int64),
            vertices=vertices,
            pid=pid,
            faces=faces,
            mesh=np.repeat(np.arange(len(meshes)), [len(m.faces) for m in meshes]),
            flipped=np.zeros(len(faces), dtype=bool),
            index=EdgeIndex.build(np.asarray(pid[faces], dtype=np.int64), int(pid.max()) + 1),
        )

    @property
    def points(self) -> IntArray:
        return np.asarray(self.pid[self.faces], dtype=np.int64)

    def keep(self, mask: BoolArray) -> int:
        dropped = int((~mask).sum())
        if dropped:
            self.faces, self.mesh = self.faces[mask], self.mesh[mask]
            self.flipped, self.index = self.flipped[mask], self.index.keep(mask)
        return dropped

    def flip(self, mask: BoolArray) -> None:
        if mask.any():
            self.faces[mask] = self.faces[mask][:, ::-1]
            self.flipped[mask] = ~self.flipped[mask]
            self.index = self.index.flip(mask)

    def add(self, faces: IntArray, mesh: IntArray) -> None:
        """Append faces (global vertex ids, added vertices included) of the given meshes."""
        self._commit()
        self.faces = np.concatenate([self.faces, faces])
        self.mesh = np.concatenate([self.mesh, mesh])
        self.flipped = np.concatenate([self.flipped, np.zeros(len(faces), dtype=bool)])
        points = np.asarray(self.pid[faces], dtype=np.int64)
        if len(points) and int(points.max()) >= self.index.n:
            # New points outgrow the index's key space: sort again (rare: hole centres).
            self.index = EdgeIndex.build(self.points, int(self.pid.max()) + 1)
        else:
            self.index = self.index.add(points)

    def mesh_of(self, ids: IntArray) -> IntArray:
        """The mesh each global vertex belongs to."""
        ids = np.asarray(ids, dtype=np.int64)
        mine = np.searchsorted(self.offsets[:-1], ids, side="right") - 1
        extra = ids >= self.offsets[-1]
        if extra.any():
            mine[extra] = np.asarray(self.added_mesh, dtype=np.int64)[ids[extra] - self.offsets[-1]]
        return np.asarray(mine, dtype=np.int64)

    def new_point(self) -> int:
        """A point id no vertex has yet."""
        if self._next_point is None:
            self._next_point = int(self.pid.max()) + 1
        self._next_point += 1
        return self._next_point - 1

    def add_vertex(self, mesh: int, position: FloatArray, point: int, like: IntArray) -> int:
        """A new vertex of ``mesh`` at ``position`` with point id ``point``; its UV and normal
        are the means of those of the vertices ``like`` of the same mesh (of all ``like`` when
        none is in it, or for the normal when those have none). Returns its global id; faces
        may use it once they are added."""
        like = np.asarray(like, dtype=np.int64)
        uv, normals = self._rows(like)
        same = self.mesh_of(like) == mesh
        pool = same if same.any() else np.ones(len(like), dtype=bool)
        new_uv = _mean(uv[pool])
        normal = _mean(normals[pool])
        if not normal.any():
            normal = _mean(normals)
        length = float(np.linalg.norm(normal))
        normal = normal / length if length > 0 else np.array([0.0, 0.0, 1.0])
        ident = len(self.vertices) + len(self._pending)
        self._pending.append((np.asarray(position, dtype=np.float64), point, new_uv, normal))
        self.added_mesh.append(mesh)
        if self._next_point is not None and point >= self._next_point:
            self._next_point = point + 1
        return ident

    def pending_point(self, vertex: int) -> int:
        """The point id of a vertex added but not yet used by a face."""
        return self._pending[vertex - len(self.vertices)][1]

    def _rows(self, ids: IntArray) -> tuple[FloatArray, FloatArray]:
        """UVs and normals of global vertices ``ids``, NaN where their mesh has none."""
        if self._uv is None or self._normals is None:
            # Built on first need (holes that need new vertices are rare), before any vertex
            # is added, so they always cover the committed vertices.
            self._uv = np.concatenate(
                [
                    m.uv if m.uv is not None else np.full((len(m.vertices), 2), np.nan)
                    for m in self.meshes
                ]
            )
            self._normals = np.concatenate(
                [
                    m.normals if m.normals is not None else np.full((len(m.vertices), 3), np.nan)
                    for m in self.meshes
                ]
            )
        committed = len(self._uv)
        uv = np.full((len(ids), 2), np.nan)
        normals = np.full((len(ids), 3), np.nan)
        old = ids < committed
        uv[old], normals[old] = self._uv[ids[old]], self._normals[ids[old]]
        for k in np.flatnonzero(~old):
            _, _, uv[k], normals[k] = self._pending[int(ids[k]) - committed]
        return uv, normals

    def _commit(self) -> None:
        """Move pending vertices into the arrays."""
        if not self._pending:
            return
        positions, points, uv, normals = zip(*self._pending, strict=True)
        self.vertices = np.concatenate([self.vertices, np.stack(positions)])
        self.pid = np.concatenate([self.pid, np.asarray(points, dtype=np.int64)])
        if self._uv is not None and self._normals is not None:
            self._uv = np.concatenate([self._uv, np.stack(uv)])
            self._normals = np.concatenate([self._normals, np.stack(normals)])
        self._pending = []

    @property
    def vertices_added(self) -> int:
        return len(self.added_mesh)

    def to_meshes(self) -> tuple[list[Mesh], int, int]:
        """The soup back as the meshes (empty ones dropped), unused vertices removed, and stored
        normals turned with their flipped faces: (meshes, vertices removed, normals flipped)."""
        meshes: list[Mesh] = []
        unused = normals_flipped = 0
        self._commit()
        base = int(self.offsets[-1])
        added_mesh = np.asarray(self.added_mesh, dtype=np.int64)
        for index, mesh in enumerate(self.meshes):
            mine = self.mesh == index
            if not mine.any():
                continue
            faces = self.faces[mine]
            added = np.flatnonzero(added_mesh == index)
            local = faces - self.offsets[index]
            vertices, uv, normals = mesh.vertices, mesh.uv, mesh.normals
            if len(added):
                # Added vertices follow the mesh's own, in the order they were made.
                remap = np.full(len(added_mesh), -1, dtype=np.int64)
                remap[added] = len(mesh.vertices) + np.arange(len(added))
                extra = faces >= base
                local[extra] = remap[faces[extra] - base]
                all_uv, all_normals = self._rows(base + added)
                vertices = np.concatenate([vertices, self.vertices[base + added]])
                if uv is not None:
                    uv = np.concatenate([uv, all_uv])
                if normals is not None:
                    normals = np.concatenate([normals, all_normals])
            if normals is not None and self.flipped[mine].any():
                normals, count = _turn_normals(vertices, local, normals, self.flipped[mine])
                normals_flipped += count
            changed = dataclasses.replace(
                mesh, vertices=vertices, faces=local, uv=uv, normals=normals
            )
            changed, dropped = drop_unused_vertices(changed)
            unused += dropped
            meshes.append(changed)
        return meshes, unused, normals_flipped


def _turn_normals(
    vertices: FloatArray, faces: IntArray, normals: FloatArray, flipped: BoolArray
) -> tuple[FloatArray, int]:
    """Stored normals of corners of flipped faces that now point against their faces, turned."""
    tri = vertices[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    # Summed per vertex in corner-then-face order (as np.add.at per corner would).
    corners = faces.T.reshape(-1)
    count = len(vertices)
    summed = np.column_stack(
        [np.bincount(corners, np.tile(cross[:, k], 3), count) for k in range(3)]
    )
    touched = np.zeros(count, dtype=bool)
    touched[faces[flipped].reshape(-1)] = True
    against = touched & (np.einsum("ij,ij->i", normals, summed) < 0)
    if not against.any():
        return normals, 0
    normals = normals.copy()
    normals[against] *= -1
    return normals, int(against.sum())


def _mean(rows: FloatArray) -> FloatArray:
    """The mean of the finite rows (zeros when none is)."""
    finite = np.isfinite(rows).all(axis=1)
    if not finite.any():
        return np.zeros(rows.shape[1])
    return np.asarray(rows[finite].mean(axis=0), dtype=np.float64)
