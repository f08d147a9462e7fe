"""The numpy renderer: coverage, depth order, textures, alpha, framing and silhouettes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.spatial import ConvexHull, Delaunay

from meshforge.asset import Asset, Camera, Material, Mesh, Texture
from meshforge.render import (
    coverage,
    fit_camera,
    look_at_camera,
    render,
    render_asset,
    render_thumbnail,
    save_png,
    scan,
    silhouette,
)

RED = Material(base_color_factor=(1.0, 0.0, 0.0, 1.0))
BLUE = Material(base_color_factor=(0.0, 0.0, 1.0, 1.0))
QUAD_FACES = np.array([[0, 1, 2], [0, 2, 3]])
QUAD_UV = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])  # glTF: v down


def quad(size: float = 1.0, z: float = 0.0) -> NDArray[np.float64]:
    """A square in a z plane facing +Z: top-left, bottom-left, bottom-right, top-right."""
    h = size / 2
    return np.array([[-h, h, z], [-h, -h, z], [h, -h, z], [h, h, z]])


def front_camera(size: int = 64, distance: float = 2.0) -> Camera:
    """Looking down -Z from +Z with f = size, so a unit quad at z=0 spans size/distance pixels."""
    return look_at_camera((0, 0, 0), distance, 0, 0, math.degrees(2 * math.atan(0.5)), size, size)


def cube(size: float = 1.0) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    v = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float) - 0.5
    f = [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
         [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]  # fmt: skip
    return v * size, np.array(f)


def uv_sphere(radius: float, rings: int = 96, segments: int = 192) -> Asset:
    theta = np.linspace(0, np.pi, rings + 1)[:, None]
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)[None, :]
    v = np.stack(
        [np.sin(theta) * np.cos(phi), np.cos(theta) + 0 * phi, np.sin(theta) * np.sin(phi)], -1
    ).reshape(-1, 3)
    i = np.arange(rings)[:, None] * segments
    j = np.arange(segments)[None, :]
    a, b = i + j, i + (j + 1) % segments
    c, d = a + segments, b + segments
    faces = np.concatenate([np.stack([a, c, b], -1), np.stack([b, c, d], -1)]).reshape(-1, 3)
    return Asset([Mesh(v * radius, faces, normals=v)], [RED])


def test_quad_covers_exactly_the_expected_pixels() -> None:
    mask = silhouette([(quad(), QUAD_FACES, None, None, RED)], front_camera())
    expected = np.zeros((64, 64), bool)
    expected[16:48, 16:48] = True
    assert np.array_equal(mask, expected)


def test_shared_edges_neither_overlap_nor_leave_gaps() -> None:
    # A random triangulation of the quad: every covered sample must be produced exactly once.
    rng = np.random.default_rng(7)
    points = np.concatenate([quad()[:, :2], rng.uniform(-0.5, 0.5, (300, 2))])
    faces = Delaunay(points).simplices
    vertices = np.column_stack([points, np.zeros(len(points))])
    camera = look_at_camera((0, 0, 0), 2.0, 10, 25, 50, 96, 80)
    prims = [scan.Primitive(vertices, faces, None, None, RED)]
    s = scan.build_scene(prims, camera, supersample=3)
    _, samples, _ = scan._chunk_samples(s, np.arange(len(s.faces)), *scan._row_ranges(s))
    assert len(np.unique(samples)) == len(samples)
    two = scan.build_scene([scan.Primitive(quad(), QUAD_FACES, None, None, RED)], camera, 3)
    _, expected, _ = scan._chunk_samples(two, np.arange(2), *scan._row_ranges(two))
    assert np.array_equal(np.sort(samples), np.sort(expected))


def test_chunking_gives_the_same_image(monkeypatch: pytest.MonkeyPatch) -> None:
    sphere = uv_sphere(0.5, rings=24, segments=48)
    camera = look_at_camera((0, 0, 0), 2.2, 30, 20, 40, 96, 96)
    whole = render_asset(sphere, camera)
    monkeypatch.setattr(scan, "CHUNK_SAMPLES", 200)
    assert np.array_equal(render_asset(sphere, camera), whole)


@pytest.mark.parametrize(("azimuth", "elevation"), [(0.0, 0.0), (30.0, 20.0), (-65.0, -35.0)])
def test_cube_coverage_matches_projected_area(azimuth: float, elevation: float) -> None:
    v, f = cube(0.8)
    camera = look_at_camera((0, 0, 0), 2.5, azimuth, elevation, 40.0, 200, 160)
    area = coverage([(v, f, None, None, RED)], camera, supersample=4).sum()
    analytic = ConvexHull(camera.project(v)[:, :2]).volume  # a convex body's outline
    assert area == pytest.approx(analytic, rel=0.01)


def test_near_square_hides_the_far_one_in_any_draw_order() -> None:
    near = (quad(0.5, z=0.2), QUAD_FACES, None, None, RED)
    far = (quad(1.0, z=-0.2), QUAD_FACES, None, None, BLUE)
    for meshes in ([near, far], [far, near]):
        img = render(meshes, front_camera(), lit=False)
        assert tuple(img[32, 32]) == (255, 0, 0, 255)  # centre: the near red square
        assert tuple(img[32, 22]) == (0, 0, 255, 255)  # only the far blue one reaches here
        assert img[2, 2, 3] == 0


def test_texture_quadrants_follow_gltf_v_down() -> None:
    blocks = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], np.uint8)
    texels = blocks.repeat(4, axis=0).repeat(4, axis=1)  # 2 x 2 blocks of 4 x 4 texels
    material = Material(base_color_texture=Texture(texels))
    img = render([(quad(), QUAD_FACES, QUAD_UV, None, material)], front_camera(), lit=False)
    assert tuple(img[24, 24, :3]) == (255, 0, 0)  # top-left of the image: first texel row
    assert tuple(img[24, 40, :3]) == (0, 255, 0)
    assert tuple(img[40, 24, :3]) == (0, 0, 255)
    assert tuple(img[40, 40, :3]) == (255, 255, 255)


def test_texture_factor_and_lighting_multiply() -> None:
    texels = np.full((4, 4, 3), 255, np.uint8)
    material = Material(base_color_factor=(0.5, 0.5, 0.5, 1.0), base_color_texture=Texture(texels))
    mesh = [(quad(), QUAD_FACES, QUAD_UV, None, material)]
    unlit = render(mesh, front_camera(), lit=False)[32, 32]
    assert abs(int(unlit[0]) - 188) <= 1  # sRGB of linear 0.5
    lit = render(mesh, front_camera())[32, 32]
    # facing the camera: ambient 0.4 + 0.5 * 0.62/|l1| + 0.22 * 0.71/|l2|, no third light
    irr = 0.4 + 0.5 * 0.62 / np.linalg.norm([-0.5, 0.6, 0.62]) + 0.22 * 0.71 / np.hypot(0.7, 0.71)
    expected = 255 * (1.055 * (0.5 * irr) ** (1 / 2.4) - 0.055)
    assert abs(int(lit[0]) - expected) <= 1


def test_uv_interpolation_is_perspective_correct() -> None:
    # A floor quad receding from the camera; its texture is black in the top half (far side)
    # and white in the bottom half (near side), so the edge is the quad's 3D midline.
    floor = np.array([[-0.5, 0, -2.0], [-0.5, 0, 1.0], [0.5, 0, 1.0], [0.5, 0, -2.0]])
    texels = np.zeros((64, 1, 3), np.uint8)
    texels[32:] = 255
    material = Material(base_color_texture=Texture(texels))
    camera = look_at_camera((0, 0, 0), 2.5, 0, 35, 60, 128, 128)
    img = render([(floor, QUAD_FACES, QUAD_UV, None, material)], camera, lit=False)
    column = img[:, 64, 0].astype(int)
    covered = np.flatnonzero(img[:, 64, 3] == 255)
    edge_row = covered[0] + np.argmax(column[covered] > 127)
    true_mid = camera.project(np.array([[0.0, 0.0, -0.5]]))[0, 1]
    screen_mid = camera.project(floor[[0, 1]])[:, 1].mean()
    assert abs(screen_mid - true_mid) > 5  # the perspective matters here
    assert abs(edge_row + 0.5 - true_mid) <= 1.0


def test_transparent_and_solid_backgrounds() -> None:
    camera = look_at_camera((0, 0, 0), 2.0, 0, 0, math.degrees(2 * math.atan(0.5)), 63, 63)
    mesh = [(quad(), QUAD_FACES, None, None, RED)]  # spans columns 15.5 .. 47.5
    rgba = render(mesh, camera, lit=False)
    assert rgba.shape == (63, 63, 4)
    assert rgba.dtype == np.uint8
    assert tuple(rgba[31, 31]) == (255, 0, 0, 255)
    assert tuple(rgba[2, 2]) == (0, 0, 0, 0)
    assert tuple(rgba[31, 15, :3]) == (255, 0, 0)  # half covered, colour not premultiplied
    assert abs(int(rgba[31, 15, 3]) - 128) <= 1
    solid = render(mesh, camera, lit=False, background=(0, 0, 255))
    assert tuple(solid[2, 2]) == (0, 0, 255, 255)
    np.testing.assert_allclose(solid[31, 15], (128, 0, 128, 255), atol=1)
    assert render([], camera)[..., 3].max() == 0


def test_bad_meshes_get_a_clear_error() -> None:
    with pytest.raises(ValueError, match="missing vertex"):
        render([(quad(), QUAD_FACES + 1, None, None, RED)], front_camera())
    with pytest.raises(ValueError, match="uv per vertex"):
        render([(quad(), QUAD_FACES, QUAD_UV[:3], None, RED)], front_camera())


def test_mask_cutout_and_blend() -> None:
    texels = np.zeros((2, 2, 4), np.uint8)
    texels[..., 0] = 255
    texels[:, 0, 3] = 255  # left half opaque, right half cut away
    cut = Material(base_color_texture=Texture(texels), alpha_mode="MASK")
    mesh = [(quad(), QUAD_FACES, QUAD_UV, None, cut)]
    mask = silhouette(mesh, front_camera())
    assert mask[32, 20] and not mask[32, 44]
    glass = Material(base_color_factor=(1.0, 0.0, 0.0, 0.5), alpha_mode="BLEND")
    behind = Material(base_color_factor=(0.0, 0.0, 1.0, 1.0))
    scene = [(quad(0.5, z=0.2), QUAD_FACES, None, None, glass)]
    scene.append((quad(1.0, z=-0.2), QUAD_FACES, None, None, behind))
    img = render(scene, front_camera(), lit=False)
    np.testing.assert_allclose(img[32, 32], (128, 0, 128, 255), atol=1)  # sRGB "over", like GL
    alone = render(scene[:1], front_camera(), lit=False)[32, 32]  # glass over white
    np.testing.assert_allclose(alone, (255, 128, 128, 255), atol=1)


def test_triangles_behind_the_near_plane_are_dropped() -> None:
    behind = quad(1.0, z=2.5)  # the camera sits at z = 2
    img = render([(behind, QUAD_FACES, None, None, RED)], front_camera())
    assert img[..., 3].max() == 0


def test_sphere_silhouette_matches_the_analytic_disc() -> None:
    radius, distance = 0.5, 2.2
    camera = look_at_camera((0, 0, 0), distance, 20, 10, 40, 256, 256)
    mask = silhouette(uv_sphere(radius), camera)
    r_px = camera.fy * radius / math.sqrt(distance**2 - radius**2)
    rows, cols = np.mgrid[:256, :256] + 0.5
    disc = (rows - camera.cy) ** 2 + (cols - camera.cx) ** 2 <= r_px**2
    assert (mask & disc).sum() / (mask | disc).sum() >= 0.98


def test_orbit_camera_matches_the_protocol() -> None:
    camera = look_at_camera((0, 0, 0), 2.2, 0, 10, 40, 512, 512)
    expected = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 0.984807753, 0.173648178, 0.382025991],
        [0.0, -0.173648178, 0.984807753, 2.166577057],
        [0.0, 0.0, 0.0, 1.0],
    ]
    np.testing.assert_allclose(camera.camera_to_world, expected, atol=1e-8)
    assert camera.fx == pytest.approx(703.354219)
    side = look_at_camera((0, 0, 0), 2.0, 90, 0, 40, 8, 8).camera_to_world[:3, 3]
    np.testing.assert_allclose(side, [2.0, 0, 0], atol=1e-12)


def test_thumbnail_is_framed_and_saved(tmp_path: Path) -> None:
    v, f = cube()
    asset = Asset([Mesh(v * [0.3, 1.0, 0.2] + [5, 1, -2], f)], [BLUE])
    img = render_thumbnail(asset, size=128)
    assert img.shape == (128, 128, 3)
    assert img.dtype == np.uint8
    rows, cols = np.nonzero((img < 250).any(axis=2))
    assert len(rows) > 0.1 * 128 * 128
    assert rows.min() > 0 and cols.min() > 0 and rows.max() < 127 and cols.max() < 127
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) > 0.7 * 128  # fills the frame
    rgba = render_thumbnail(asset, size=64, background=None)
    assert rgba.shape == (64, 64, 4)
    path = tmp_path / "thumb.png"
    save_png(img, path)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_fit_camera_keeps_the_box_inside_the_margin() -> None:
    bounds = np.array([[-1.0, 0.0, -0.5], [1.0, 3.0, 0.5]])
    camera = fit_camera(bounds, 30, 20, size=200, margin=1.25)
    corners = np.array(
        [[x, y, z] for x in bounds[:, 0] for y in bounds[:, 1] for z in bounds[:, 2]]
    )
    pixels = camera.project(corners)[:, :2]
    offset = np.abs(pixels - 100).max()
    assert offset == pytest.approx(100 / 1.25, rel=1e-6)
    assert render_asset(Asset([Mesh(*cube())], [RED]), camera).shape == (200, 200, 4)
