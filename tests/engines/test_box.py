"""The box hypothesis on rendered photos: a cuboid (and a can) seen from 10 degrees above with the
benchmark's 40 degree lens, or with a long lens; closed and outward, true proportions, the depth
read off the top face, the automatic choice and the face budget."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from meshforge.asset import Asset, Material, Mesh
from meshforge.engines.base import GenerationRequest, create_engine
from meshforge.engines.silhouette.box import DEPTH_PRIOR, build_box, cell_counts
from meshforge.image.frame import frame_subject
from meshforge.render.camera import look_at_camera
from meshforge.render.raster import render, silhouette
from meshforge.transforms.base import StageReport
from meshforge.validate.checks import edge_facts, mesh_facts

# Six faces of a box centred at the origin: (axis, sign, colour); the top is light, the front red.
FACES = [
    (2, 1.0, (0.8, 0.1, 0.1)),
    (2, -1.0, (0.2, 0.2, 0.7)),
    (0, 1.0, (0.9, 0.7, 0.1)),
    (0, -1.0, (0.1, 0.6, 0.2)),
    (1, 1.0, (0.95, 0.95, 0.85)),
    (1, -1.0, (0.3, 0.3, 0.3)),
]


def cuboid(size: tuple[float, float, float]) -> Asset:
    """An axis-aligned box (width x height x depth), one flat-coloured mesh per face."""
    half = np.asarray(size) / 2
    meshes, materials = [], []
    for index, (axis, sign, colour) in enumerate(FACES):
        u, v = [a for a in range(3) if a != axis]
        corners = np.zeros((4, 3))
        corners[:, axis] = sign * half[axis]
        corners[:, u] = np.array([-1, 1, 1, -1]) * half[u]
        corners[:, v] = np.array([-1, -1, 1, 1]) * half[v]
        faces = np.array([[0, 1, 2], [0, 2, 3]])
        normal = np.cross(corners[1] - corners[0], corners[2] - corners[0])
        if normal[axis] * sign < 0:
            faces = faces[:, ::-1]
        meshes.append(Mesh(vertices=corners, faces=faces, material=index))
        materials.append(Material(base_color_factor=(*colour, 1.0)))
    return Asset(meshes=meshes, materials=materials)


def cylinder(radius: float, height: float, segments: int = 96) -> Asset:
    """A closed can along +Y."""
    a = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.column_stack([radius * np.cos(a), np.zeros(segments), radius * np.sin(a)])
    lift = np.array([0.0, height / 2, 0.0])
    top, bottom = ring + lift, ring - lift
    vertices = np.vstack([top, bottom, [[0, height / 2, 0], [0, -height / 2, 0]]])
    i = np.arange(segments)
    j = (i + 1) % segments
    faces = np.concatenate(
        [
            np.column_stack([i, j, j + segments]),
            np.column_stack([i, j + segments, i + segments]),
            np.column_stack([np.full(segments, 2 * segments), j, i]),
            np.column_stack([np.full(segments, 2 * segments + 1), i + segments, j + segments]),
        ]
    )
    return Asset(
        meshes=[Mesh(vertices=vertices, faces=faces)],
        materials=[Material(base_color_factor=(0.7, 0.2, 0.2, 1.0))],
    )


def photo(asset: Asset, fov_y_deg: float) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """The subject seen from 10 degrees above, as large in the frame at every lens."""
    distance = 2.2 * math.tan(math.radians(20)) / math.tan(math.radians(fov_y_deg / 2))
    camera = look_at_camera((0, 0, 0), distance, 0.0, 10.0, fov_y_deg, 512, 512)
    rgb = render(asset, camera, background=(255, 255, 255))[..., :3]
    alpha = render(asset, camera)[..., 3].astype(np.float32) / 255
    return np.ascontiguousarray(rgb), alpha


def reconstruct(asset: Asset, lens: float = 40.0, **options: object) -> tuple[Asset, Any]:
    """The engine on the photo; a lens other than the default is passed on as ``fov_y_deg``."""
    rgb, alpha = photo(asset, lens)
    framed = frame_subject(rgb, alpha)
    lens_option = {} if lens == 40.0 else {"fov_y_deg": lens}
    engine = create_engine("silhouette", {**lens_option, **options})
    report = StageReport("reconstruct")
    request = GenerationRequest(image=framed, photo_size=(512, 512))
    return engine.generate(request, report, lambda f, m: None), report.details


def signed_volume(asset: Asset) -> float:
    tri = asset.meshes[0].vertices[asset.meshes[0].faces]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6)


BOX = (0.4, 0.5, 0.2)  # width, height, depth: the camera 10 degrees up sees the top face


@pytest.mark.parametrize("fov", [2.0, 40.0])
def test_box_is_closed_outward_and_true_to_the_front(fov: float) -> None:
    # The elevation is given: the top band's depth is tested on its own here (the taper's
    # estimate is tested below).
    asset, details = reconstruct(cuboid(BOX), fov, elevation_deg=10.0)
    assert details["shape"] == "box" and asset.metadata["shape"] == "box"
    facts = mesh_facts(asset)
    assert facts["watertight"] and facts["winding_consistent"]
    assert facts["non_manifold_edges"] == 0 and facts["degenerate_faces"] == 0
    assert facts["has_uv"] and facts["has_base_color_texture"] and facts["has_normals"]
    width, height, depth = asset.extents()
    assert width / height == pytest.approx(BOX[0] / BOX[1], rel=0.03)
    assert signed_volume(asset) == pytest.approx(width * height * depth, rel=1e-6)
    # The depth comes from the top face seen above the front.
    assert details["box_depth_source"].startswith("top face")
    assert details["box_depth_ratio"] == pytest.approx(BOX[2] / BOX[0], rel=0.05)
    assert depth / width == pytest.approx(BOX[2] / BOX[0], rel=0.05)
    uv = asset.meshes[0].uv
    assert uv is not None and uv.min() >= 0.0 and uv.max() <= 1.0


def test_converging_sides_give_the_elevation_and_an_upright_box() -> None:
    asset, details = reconstruct(cuboid(BOX))
    assert details["elevation_deg_estimated"] == pytest.approx(10.0, abs=0.5)
    assert "converging" in details["elevation_source"]
    assert asset.camera is not None
    view_axis = asset.camera.camera_to_world[:3, 2]
    assert math.degrees(math.asin(view_axis[1])) == pytest.approx(
        details["elevation_deg_estimated"], abs=0.01
    )
    # Upright: the faces are level and vertical in the world, so the extents are the box's.
    width, height, depth = asset.extents()
    assert depth / width == pytest.approx(details["box_depth_ratio"], abs=1e-4)
    assert width / height == pytest.approx(BOX[0] / BOX[1], rel=0.03)
    assert signed_volume(asset) == pytest.approx(width * height * depth, rel=1e-6)
    # From the estimated camera the outline is the mask's.
    _, alpha = photo(cuboid(BOX), 40.0)
    mask = alpha > 0.5
    seen = silhouette(asset, asset.camera)
    assert (seen & mask).sum() / (seen | mask).sum() >= 0.97
    # The top band's depth is steep in the elevation here (the camera is just above the top:
    # 1 degree moves it by about 30 %): the estimate, 0.26 degrees high, gives 0.45 for 0.5.
    assert details["box_depth_ratio"] == pytest.approx(BOX[2] / BOX[0], rel=0.12)


def test_long_lens_shows_no_taper_and_keeps_a_level_box() -> None:
    _, details = reconstruct(cuboid(BOX), 2.0)
    assert "elevation_deg_estimated" not in details
    assert details["camera"]["elevation_deg"] == 0.0


def test_flat_box_without_a_top_face_takes_the_depth_prior() -> None:
    # Seen from 10 degrees above at 2.2, a tall box's top is above the camera: no top face.
    asset, details = reconstruct(cuboid((0.35, 0.9, 0.15)))
    assert details["shape"] == "box"
    assert details["box_depth_ratio"] == DEPTH_PRIOR
    assert details["box_depth_source"].startswith("prior")
    width, height, depth = asset.extents()
    assert depth / width == pytest.approx(DEPTH_PRIOR, rel=1e-6)
    assert width / height == pytest.approx(0.35 / 0.9, rel=0.03)


def test_auto_picks_box_for_a_box_and_revolve_for_a_can() -> None:
    _, box = reconstruct(cuboid(BOX))
    assert box["shape"] == "box"
    assert box["shape_reason"] == "straight sides and square ends: a box seen head-on"
    _, can = reconstruct(cylinder(0.2, 0.5))
    assert can["shape"] == "revolve"


def test_forced_box_and_face_budget() -> None:
    asset, details = reconstruct(cylinder(0.2, 0.5), shape="box", max_faces=600)
    assert details["shape"] == "box" and details["shape_reason"] == "chosen by the user"
    assert asset.face_count <= 600
    assert mesh_facts(asset)["watertight"]
    big, _ = reconstruct(cuboid(BOX), shape="box")
    assert 2000 <= big.face_count <= 4000


def test_cell_counts_fit_any_budget() -> None:
    for budget in (12, 500, 20_000):
        nx, ny, nz = cell_counts((300.0, 400.0, 100.0), budget)
        assert 4 * (nx * ny + nx * nz + ny * nz) <= max(budget, 12)


def test_build_box_texture_maps_front_and_back_alike() -> None:
    mesh = build_box(
        (100.0, 300.0, 80.0, 400.0),
        outline_top=80.0,
        depth_ratio=0.5,
        band=False,
        focal=700.0,
        centre=(256.0, 256.0),
        distance=2.2,
        max_faces=2000,
    )
    assert edge_facts(_weld(mesh.vertices, mesh.faces))["watertight"]
    nx, ny, _ = mesh.cells
    grid = (nx + 1) * (ny + 1)  # the front's grid comes first, then the back's
    front, back = np.arange(grid), np.arange(grid, 2 * grid)
    # A front vertex projects onto its pixel; the back shows the same pixels.
    v = mesh.vertices[front]
    col = 256.0 + 700.0 * v[:, 0] / -v[:, 2]
    np.testing.assert_allclose(col, mesh.pixels[front, 0], atol=1e-9)
    np.testing.assert_array_equal(mesh.pixels[front], mesh.pixels[back])
    np.testing.assert_allclose(mesh.vertices[front, :2], mesh.vertices[back, :2])
    # Every pixel lies inside the front rectangle: no face reads the background.
    assert mesh.pixels[:, 0].min() >= 100.0 and mesh.pixels[:, 0].max() <= 300.0
    assert mesh.pixels[:, 1].min() >= 80.0 and mesh.pixels[:, 1].max() <= 400.0


def _weld(vertices: NDArray[np.float64], faces: NDArray[np.int64]) -> NDArray[np.int64]:
    _, index = np.unique(vertices.round(9), axis=0, return_inverse=True)
    return np.asarray(index.reshape(-1)[faces], dtype=np.int64)
