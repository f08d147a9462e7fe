"""The OpenGL renderer, checked by its pixels: coverage, colour, textures, alpha, passes."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from meshforge.asset import Asset, Camera, Material, Mesh, Texture
from meshforge.errors import DependencyError
from meshforge.render.camera import look_at_camera
from meshforge.render.gl import RenderSettings, SceneRenderer
from meshforge.render.lights import PROTOCOL, STUDIO
from meshforge.render.shading import AMBIENT, LIGHT_DIRECTIONS, LIGHT_INTENSITIES

QUAD_FACES = np.array([[0, 1, 2], [0, 2, 3]])
QUAD_UV = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])  # glTF: v down
LAMBERT = RenderSettings(lights=PROTOCOL, supersample=1, samples=4)


def quad(size: float = 1.0, z: float = 0.0) -> NDArray[np.float64]:
    """A square facing +Z: top-left, bottom-left, bottom-right, top-right."""
    h = size / 2
    return np.array([[-h, h, z], [-h, -h, z], [h, -h, z], [h, h, z]])


def cube_asset(colour: tuple[float, float, float, float] = (0.8, 0.3, 0.1, 1.0)) -> Asset:
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    faces = np.array(
        [
            [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
            [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],
        ]
    )  # fmt: skip
    return Asset(
        meshes=[Mesh(vertices=corners, faces=faces)],
        materials=[Material(base_color_factor=colour)],
    )


def projected_mask(camera: Camera, vertices: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Pixels whose centre lies inside the convex outline of the projected vertices."""
    points = camera.project(vertices)[:, :2]
    hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    ys, xs = np.mgrid[0 : camera.height, 0 : camera.width] + 0.5
    inside = np.ones(xs.shape, dtype=bool)
    for a, b in zip(hull, np.roll(hull, -1, axis=0), strict=True):
        cross = (b[0] - a[0]) * (ys - a[1]) - (b[1] - a[1]) * (xs - a[0])
        inside &= cross >= 0 if _clockwise(hull) else cross <= 0
    return inside


def _clockwise(hull: NDArray[np.float64]) -> bool:
    x, y = hull[:, 0], hull[:, 1]
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)) > 0


def srgb(linear: float) -> float:
    c = min(max(linear, 0.0), 1.0)
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


@pytest.mark.parametrize(("azimuth", "elevation"), [(0, 0), (35, 20), (120, -30), (200, 60)])
def test_cube_covers_its_projection(azimuth: float, elevation: float) -> None:
    camera = look_at_camera((0, 0, 0), 3.0, azimuth, elevation, 40.0, 256, 256)
    asset = cube_asset()
    with SceneRenderer(asset) as renderer:
        result = renderer.render(camera, LAMBERT)
    expected = projected_mask(camera, asset.meshes[0].vertices)
    covered = result.mask > 0.5
    iou = (covered & expected).sum() / (covered | expected).sum()
    assert iou >= 0.99
    assert expected.sum() > 2000  # the cube fills a real part of the frame


def test_front_face_has_the_protocol_lambert_colour() -> None:
    colour = (0.8, 0.3, 0.1, 1.0)
    camera = look_at_camera((0, 0, 0), 3.0, 0, 0, 40.0, 128, 128)
    with SceneRenderer(cube_asset(colour)) as renderer:
        pixel = renderer.render(camera, LAMBERT).rgb[64, 64].astype(float) / 255
    # The face looks straight at the camera: its normal is +Z in camera space too.
    light = AMBIENT + sum(
        i * max(0.0, float(d[2])) for d, i in zip(LIGHT_DIRECTIONS, LIGHT_INTENSITIES, strict=True)
    )
    expected = [srgb(c * light) for c in colour[:3]]
    np.testing.assert_allclose(pixel, expected, atol=1.5 / 255)


def test_studio_rig_lights_a_grey_cube_plausibly() -> None:
    camera = look_at_camera((0, 0, 0), 3.0, 30, 25, 40.0, 128, 128)
    with SceneRenderer(cube_asset((0.5, 0.5, 0.5, 1.0))) as renderer:
        result = renderer.render(camera, RenderSettings(lights=STUDIO))
    inside = result.rgb[result.mask > 0.99].astype(float)
    # Neither black nor blown out, and the three visible faces differ (directional light).
    assert 40 < inside.mean() < 230
    faces = {tuple(p) for p in result.rgb[result.mask > 0.99]}
    assert len(faces) >= 3


def test_transparent_and_coloured_backgrounds() -> None:
    camera = look_at_camera((0, 0, 0), 3.0, 0, 0, 40.0, 96, 96)
    with SceneRenderer(cube_asset()) as renderer:
        white = renderer.render(camera, LAMBERT)
        clear = renderer.render(camera, RenderSettings(lights=PROTOCOL, background=None))
        blue = renderer.render(camera, RenderSettings(lights=PROTOCOL, background=(0, 0, 255)))
    assert tuple(white.rgba[0, 0]) == (255, 255, 255, 255)
    assert tuple(clear.rgba[0, 0]) == (0, 0, 0, 0)
    assert tuple(blue.rgba[0, 0]) == (0, 0, 255, 255)
    assert clear.rgba[48, 48, 3] == 255
    np.testing.assert_array_equal(clear.rgba[48, 48, :3], white.rgba[48, 48, :3])
    edge = (clear.mask > 0.05) & (clear.mask < 0.95)
    assert edge.any()  # anti-aliased edges carry partial alpha
    np.testing.assert_allclose(clear.rgba[..., 3] / 255, clear.mask, atol=1 / 255 + 1e-6)


def test_texture_is_the_right_way_up() -> None:
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    image[:4, :4] = (255, 0, 0)  # top left
    image[:4, 4:] = (0, 255, 0)  # top right
    image[4:, :4] = (0, 0, 255)  # bottom left
    image[4:, 4:] = (255, 255, 255)  # bottom right
    material = Material(base_color_texture=Texture(image))
    asset = Asset(
        meshes=[Mesh(vertices=quad(), faces=QUAD_FACES, uv=QUAD_UV)], materials=[material]
    )
    camera = look_at_camera((0, 0, 0), 2.0, 0, 0, math.degrees(2 * math.atan(0.5)), 128, 128)
    unlit = RenderSettings(lights=PROTOCOL.__class__("flat", "lambert", (), ambient=1.0))
    with SceneRenderer(asset) as renderer:
        rgb = renderer.render(camera, unlit).rgb
    assert tuple(rgb[48, 48]) == (255, 0, 0)
    assert tuple(rgb[48, 80]) == (0, 255, 0)
    assert tuple(rgb[80, 48]) == (0, 0, 255)
    assert tuple(rgb[80, 80]) == (255, 255, 255)


def test_mask_cutout_and_glass() -> None:
    image = np.zeros((8, 8, 4), dtype=np.uint8)
    image[..., :3] = 255
    image[:, :4, 3] = 255  # left half opaque, right half cut away
    cut = Material(base_color_texture=Texture(image), alpha_mode="MASK")
    glass = Material(base_color_factor=(0.0, 0.0, 0.0, 0.25), alpha_mode="BLEND")
    camera = look_at_camera((0, 0, 0), 2.0, 0, 0, math.degrees(2 * math.atan(0.5)), 128, 128)
    flat = RenderSettings(lights=PROTOCOL.__class__("flat", "lambert", (), ambient=1.0))
    for material, left, right in ((cut, 1.0, 0.0), (glass, 1.0, 1.0)):
        asset = Asset(
            meshes=[Mesh(vertices=quad(), faces=QUAD_FACES, uv=QUAD_UV)], materials=[material]
        )
        with SceneRenderer(asset) as renderer:
            result = renderer.render(camera, flat)
        assert result.mask[64, 48] == pytest.approx(left)
        assert result.mask[64, 80] == pytest.approx(right)
    # Glass of alpha 0.25 over white: three quarters of white remain.
    assert result.rgb[64, 64, 0] == pytest.approx(255 * 0.75, abs=1)


@pytest.mark.parametrize(("cutoff", "covered"), [(0.5, False), (0.3, True)])
def test_mask_materials_cut_at_their_alpha_cutoff(cutoff: float, covered: bool) -> None:
    image = np.full((4, 4, 4), 255, dtype=np.uint8)
    image[..., 3] = 102  # alpha 0.4
    material = Material(base_color_texture=Texture(image), alpha_mode="MASK", alpha_cutoff=cutoff)
    asset = Asset(
        meshes=[Mesh(vertices=quad(), faces=QUAD_FACES, uv=QUAD_UV)], materials=[material]
    )
    camera = look_at_camera((0, 0, 0), 2.0, 0, 0, 40.0, 32, 32)
    with SceneRenderer(asset) as renderer:
        assert (renderer.render(camera, LAMBERT).mask[16, 16] > 0.5) == covered


def test_depth_and_normal_passes() -> None:
    camera = look_at_camera((0, 0, 0), 3.0, 0, 0, 40.0, 64, 64)
    settings = RenderSettings(lights=PROTOCOL, passes=frozenset({"depth", "normal"}))
    with SceneRenderer(cube_asset()) as renderer:
        result = renderer.render(camera, settings)
    assert result.depth is not None and result.normal is not None
    assert result.depth[32, 32] == pytest.approx(2.5, abs=1e-4)  # the front face, z = +0.5
    assert np.isinf(result.depth[0, 0])
    np.testing.assert_allclose(result.normal[32, 32], [0.0, 0.0, 1.0], atol=1e-5)
    np.testing.assert_array_equal(result.normal[0, 0], [0.0, 0.0, 0.0])


def test_contact_shadow_darkens_the_ground_only() -> None:
    asset = cube_asset((1.0, 1.0, 1.0, 1.0))
    camera = look_at_camera((0, 0, 0), 4.0, 0, 30, 40.0, 128, 128)
    with SceneRenderer(asset) as renderer:
        plain = renderer.render(camera, RenderSettings(lights=PROTOCOL))
        shaded = renderer.render(camera, RenderSettings(lights=PROTOCOL, shadow=1.0))
        clear = renderer.render(
            camera, RenderSettings(lights=PROTOCOL, shadow=1.0, background=None)
        )
    darker = plain.rgb.astype(int).sum(axis=2) - shaded.rgb.astype(int).sum(axis=2)
    assert darker.max() > 60  # a visible shadow ...
    assert np.all(darker[plain.mask > 0.999] == 0)  # ... that never paints over the cube
    np.testing.assert_allclose(shaded.mask, plain.mask, atol=1e-6)  # and is not the asset
    ground = (plain.mask < 0.01) & (darker > 60)
    assert clear.rgba[..., 3][ground].min() > 0  # on transparent: a translucent shadow
    assert np.all(clear.mask[ground] < 0.01)


def test_missing_egl_names_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    import moderngl

    from meshforge.render.gl import context

    def fail(*_: object, **__: object) -> None:
        raise Exception("libEGL.so: cannot open shared object file")

    monkeypatch.setattr(moderngl, "create_context", fail)
    monkeypatch.setattr(context, "_context", None)
    with pytest.raises(DependencyError) as error:
        context.gl_context()
    assert "apt-get install libegl1 libgl1-mesa-dri" in str(error.value)
    assert error.value.exit_code == 4


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="supersample"):
        RenderSettings(supersample=0)
    with pytest.raises(ValueError, match="passes"):
        RenderSettings(passes=frozenset({"albedo"}))
    with pytest.raises(ValueError, match="shadow"):
        RenderSettings(shadow=2.0)


def test_single_sided_back_faces_are_culled_as_gltf_says() -> None:
    back = quad()[[0, 3, 2, 1]]  # the same square wound to face -Z, away from the camera
    camera = look_at_camera((0, 0, 0), 2.0, 0, 0, 40.0, 32, 32)
    coverage = {}
    for double_sided, cull in ((False, True), (True, True), (False, False)):
        material = Material(double_sided=double_sided)
        asset = Asset(meshes=[Mesh(vertices=back, faces=QUAD_FACES)], materials=[material])
        settings = RenderSettings(lights=PROTOCOL, cull_back_faces=cull)
        with SceneRenderer(asset) as renderer:
            coverage[double_sided, cull] = float(renderer.render(camera, settings).mask[16, 16])
    assert coverage == {(False, True): 0.0, (True, True): 1.0, (False, False): 1.0}
