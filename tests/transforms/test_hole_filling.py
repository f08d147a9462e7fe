"""hole_filling: boundary loops found, figure-eights cut, holes of any size closed in step
with their neighbours' winding."""

from __future__ import annotations

import numpy as np
import pytest

from meshes import CUBE_FACES, CUBE_VERTICES
from meshforge.asset import Asset, Mesh
from meshforge.transforms.face_soup import FaceSoup
from meshforge.transforms.hole_filling import boundary_loops, fill_holes, size_band
from meshforge.validate.checks import mesh_facts

MIN_AREA = 1e-12


def open_cylinder(segments: int = 64, rim: np.ndarray | None = None) -> Mesh:
    """A cylinder of radius 1 and height 1 closed at the bottom (a fan round a centre vertex)
    and open at the top: a ``segments``-edge hole. ``rim``: the top ring's heights."""
    theta = 2 * np.pi * np.arange(segments) / segments
    ring = np.column_stack([np.cos(theta), np.sin(theta)])
    top = np.ones(segments) if rim is None else rim
    vertices = np.vstack(
        [np.column_stack([ring, np.zeros(segments)]), np.column_stack([ring, top]), [[0, 0, 0]]]
    )
    i = np.arange(segments)
    j = (i + 1) % segments
    side = np.vstack(
        [np.column_stack([i, j, j + segments]), np.column_stack([i, j + segments, i + segments])]
    )
    bottom = np.column_stack([j, i, np.full(segments, 2 * segments)])
    return Mesh(vertices=vertices, faces=np.vstack([side, bottom]))


def _filled(mesh: Mesh | list[Mesh], max_edges: int | None = None) -> tuple[FaceSoup, object]:
    soup = FaceSoup.of(Asset(meshes=mesh if isinstance(mesh, list) else [mesh]))
    return soup, fill_holes(soup, max_edges, MIN_AREA)


def _asset(soup: FaceSoup) -> Asset:
    return Asset(meshes=soup.to_meshes()[0])


def _volume(asset: Asset) -> float:
    total = 0.0
    for mesh in asset.meshes:
        a, b, c = (mesh.vertices[mesh.faces[:, k]] for k in range(3))
        total += float(np.einsum("ij,ij->", a, np.cross(b, c)) / 6)
    return total


def test_size_bands() -> None:
    assert [size_band(n) for n in (3, 8, 9, 32, 33, 128, 129, 5000)] == [
        "3-8", "3-8", "9-32", "9-32", "33-128", "33-128", "129+", "129+"
    ]  # fmt: skip


def test_open_cylinder_with_a_64_edge_hole_is_closed() -> None:
    mesh = open_cylinder(64)
    assert len(mesh.faces) == 192
    soup, report = _filled(mesh)
    # 62 triangles over the rim's own 64 vertices (no centre vertex needed: the rim is planar).
    assert (report.filled, report.faces_added, report.left) == (1, 62, 0)
    assert (report.vertices_added, report.centre_fans, report.largest) == (0, 0, 64)
    assert report.by_size == {"3-8": 0, "9-32": 0, "33-128": 1, "129+": 0}
    asset = _asset(soup)
    assert asset.face_count == 254
    facts = mesh_facts(asset)
    assert facts["watertight"] and facts["winding_consistent"]
    assert facts["non_manifold_edges"] == 0
    # Wound like its neighbours: the solid is the 64-gon prism, facing out (positive volume).
    assert _volume(asset) == pytest.approx(32 * np.sin(2 * np.pi / 64))
    cap = asset.meshes[0].faces[192:]
    assert set(cap.reshape(-1).tolist()) == set(range(64, 128))


def test_max_edges_leaves_larger_holes_open() -> None:
    soup, report = _filled(open_cylinder(64), max_edges=63)
    assert (report.filled, report.faces_added, report.left) == (0, 0, 1)
    assert len(soup.faces) == 192


def test_cube_missing_one_face_gets_it_back() -> None:
    faces = np.delete(CUBE_FACES, 5, axis=0)
    soup, report = _filled(Mesh(CUBE_VERTICES, faces))
    assert (report.filled, report.faces_added, report.largest) == (1, 1, 3)
    asset = _asset(soup)
    assert sorted(map(tuple, np.sort(asset.meshes[0].faces, axis=1))) == sorted(
        map(tuple, np.sort(CUBE_FACES, axis=1))
    )
    assert _volume(asset) == pytest.approx(1.0)


def test_fill_follows_an_inside_out_neighbourhood() -> None:
    # The same cube wound inside out: the patch must agree with its neighbours, not with
    # "outward" (turning parts outward is repair's last step, not filling's).
    faces = np.delete(CUBE_FACES[:, ::-1], [6, 7], axis=0)
    soup, report = _filled(Mesh(CUBE_VERTICES, faces))
    assert report.faces_added == 2
    asset = _asset(soup)
    assert mesh_facts(asset)["winding_consistent"] is True
    assert _volume(asset) == pytest.approx(-1.0)


def test_figure_eight_boundary_is_cut_into_two_loops() -> None:
    # An octahedron without two faces that share only the top corner: the hole's boundary
    # passes the top twice.
    vertices = np.array(
        [[1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=float
    )
    faces = np.array(
        [[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4], [1, 0, 5], [2, 1, 5], [3, 2, 5], [0, 3, 5]]
    )
    broken = np.delete(faces, [0, 2], axis=0)
    soup = FaceSoup.of(Asset(meshes=[Mesh(vertices, broken)]))
    face, corner, loops, unclosed = boundary_loops(soup.points, soup.index)
    assert unclosed == 0 and sorted(len(loop) for loop in loops) == [3, 3]
    starts = [sorted(soup.faces[face[loop], corner[loop]].tolist()) for loop in loops]
    assert sorted(starts) == [[0, 1, 4], [2, 3, 4]]
    report = fill_holes(soup, None, MIN_AREA)
    assert (report.filled, report.faces_added) == (2, 2)
    asset = _asset(soup)
    assert mesh_facts(asset)["watertight"] is True
    assert _volume(asset) == pytest.approx(4 / 3)


def test_saddle_rim_is_filled_over_its_own_vertices() -> None:
    # The rim goes up and down twice round the cylinder: not planar, still one simple loop in
    # its best-fit plane, so ears and no centre vertex.
    segments = 32
    theta = 2 * np.pi * np.arange(segments) / segments
    soup, report = _filled(open_cylinder(segments, rim=1 + 0.3 * np.cos(2 * theta)))
    assert (report.filled, report.faces_added, report.centre_fans) == (1, 30, 0)
    asset = _asset(soup)
    assert mesh_facts(asset)["watertight"] is True
    cap = asset.meshes[0].faces[3 * segments :]
    tri = asset.meshes[0].vertices[cap]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (normals[:, 2] > 0).all()  # the cap faces up, out of the cup
    base = segments / 2 * np.sin(2 * np.pi / segments)
    assert 0.7 * base < _volume(asset) < 1.3 * base


def test_a_loop_folded_in_its_plane_gets_a_centre_fan_with_averaged_attributes() -> None:
    # A 4-edge rim lifted like a bowtie: its projection crosses itself, so the patch is a fan
    # round a new vertex at the rim's centre, whose UV and normal are the rim's means.
    rim = np.array([[0, 0, 0], [1, 1, 0.2], [1, 0, 0], [0, 1, -0.2]], dtype=float)
    below = rim - [0, 0, 2]
    vertices = np.vstack([rim, below, [[0.5, 0.5, -2]]])
    i = np.arange(4)
    j = (i + 1) % 4
    side = np.vstack([np.column_stack([i + 4, j + 4, j]), np.column_stack([i + 4, j, i])])
    bottom = np.column_stack([j + 4, i + 4, np.full(4, 8)])
    uv = np.column_stack([np.arange(9) / 8, np.zeros(9)])
    mesh = Mesh(vertices, np.vstack([side, bottom]), uv=uv, normals=np.tile([0, 0, 1.0], (9, 1)))
    soup, report = _filled(mesh)
    assert (report.filled, report.centre_fans, report.vertices_added, report.faces_added) == (
        1,
        1,
        1,
        4,
    )
    (out,) = soup.to_meshes()[0]
    assert len(out.vertices) == 10
    assert out.vertices[9] == pytest.approx([0.5, 0.5, 0.0])
    assert out.uv is not None and out.uv[9] == pytest.approx([np.mean(uv[:4, 0]), 0.0])
    assert out.normals is not None and out.normals[9] == pytest.approx([0, 0, 1])
    assert mesh_facts(Asset(meshes=[out]))["watertight"] is True


def test_slits_are_zipped() -> None:
    # A cube whose top is two halves meshed differently: corners A and D halfway along its
    # front and back edges, and M halfway along the seam A-D that only the right half uses.
    # Three cracks of collinear edges (T-junctions, no area to fill): 2-A-6 on the front,
    # 3-D-7 on the back, A-M-D on the seam. Each face along a crack's long edge is split at
    # the other side's corners instead.
    a, d, m = [0.5, 1, 0], [0.5, 1, 1], [0.5, 1, 0.5]
    vertices = np.vstack([CUBE_VERTICES, [a, d, m]])
    top = np.array([[2, 3, 9], [2, 9, 8], [8, 10, 6], [10, 7, 6], [10, 9, 7]])
    faces = np.vstack([np.delete(CUBE_FACES, [6, 7], axis=0), top])
    soup, report = _filled(Mesh(vertices, faces))
    assert (report.filled, report.slits_zipped, report.faces_added, report.left) == (3, 3, 3, 0)
    assert report.by_size["3-8"] == 3
    asset = _asset(soup)
    assert asset.face_count == 18
    facts = mesh_facts(asset)
    assert facts["watertight"] and facts["winding_consistent"]
    assert _volume(asset) == pytest.approx(1.0)
    out = asset.meshes[0].faces.tolist()
    # The left half's seam face (2, D, A) became (D, M, 2) and (M, A, 2).
    assert [9, 10, 2] in out and [10, 8, 2] in out and [2, 9, 8] not in out


def test_a_hole_across_two_meshes_is_filled_in_the_mesh_with_most_of_its_edges() -> None:
    # Mesh 0 has four faces of the cube over its own six vertices; mesh 1 has the rest but
    # one. The hole's rim runs along both: the patch goes to mesh 1, which has two of its
    # three edges, over mesh 1's vertex where the rim's corner came from mesh 0.
    first = CUBE_FACES[[0, 1, 8, 9]]  # x = 0 and z = 0 sides
    rest = np.delete(CUBE_FACES, [0, 1, 8, 9, 11], axis=0)
    used = np.unique(first)
    meshes = [
        Mesh(CUBE_VERTICES[used], np.searchsorted(used, first), material=0),
        Mesh(CUBE_VERTICES, rest, material=1),
    ]
    soup, report = _filled(meshes)
    assert (report.filled, report.faces_added, report.vertices_added) == (1, 1, 0)
    out = soup.to_meshes()[0]
    assert [len(m.faces) for m in out] == [4, 8]
    assert sorted(out[1].faces[-1].tolist()) == [1, 3, 7]
    assert mesh_facts(Asset(meshes=out))["watertight"] is True
    assert _volume(Asset(meshes=out)) == pytest.approx(1.0)


def test_a_corner_no_vertex_of_the_filling_mesh_has_is_copied_into_it() -> None:
    # The cube's y = 1 side missing (a square hole). Mesh 0 is the two faces at corner
    # (0, 1, 0), mesh 1 the rest: two rim edges each, so the patch goes to the first, and
    # corner (1, 1, 1), which only mesh 1 has, is copied into mesh 0 with its UV.
    faces = np.delete(CUBE_FACES, [6, 7], axis=0)
    near = np.isin(faces, [2]).any(axis=1)
    first, rest = faces[near], faces[~near]
    used0, used1 = np.unique(first), np.unique(rest)
    meshes = [
        Mesh(CUBE_VERTICES[used0], np.searchsorted(used0, first), uv=CUBE_VERTICES[used0, :2]),
        Mesh(CUBE_VERTICES[used1], np.searchsorted(used1, rest), uv=CUBE_VERTICES[used1, :2]),
    ]
    soup, report = _filled(meshes)
    assert (report.filled, report.faces_added, report.vertices_added) == (1, 2, 1)
    out = soup.to_meshes()[0]
    assert [len(m.faces) for m in out] == [4, 8]
    assert [len(m.vertices) for m in out] == [len(used0) + 1, len(used1)]
    assert out[0].vertices[-1] == pytest.approx([1, 1, 1])
    assert out[0].uv is not None and out[0].uv[-1] == pytest.approx([1, 1])
    assert mesh_facts(Asset(meshes=out))["watertight"] is True
    assert _volume(Asset(meshes=out)) == pytest.approx(1.0)
