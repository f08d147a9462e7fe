"""Texture baking of the silhouette engine: delighting, grazing refill and edge bleeding."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from meshforge.asset import Camera, Material, Texture
from meshforge.engines.silhouette.delight import luminance, srgb_to_linear
from meshforge.engines.silhouette.texture import bake_texture, push_pull
from meshforge.geometry import vertex_normals
from meshforge.image.frame import FramedImage
from meshforge.render.camera import orbit_pose
from meshforge.render.raster import render

SIZE = 256
Sphere = tuple[NDArray[np.float64], NDArray[np.int64]]
RADIUS = 0.3


def _sphere(rings: int = 48, segments: int = 96) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    theta = np.linspace(0.0, np.pi, rings + 1)[1:-1]
    phi = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    body = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], axis=-1)
    vertices = np.vstack([[0.0, 1.0, 0.0], body.reshape(-1, 3), [0.0, -1.0, 0.0]]) * RADIUS

    def ring(i: int) -> NDArray[np.int64]:
        return 1 + i * segments + np.arange(segments)

    def nxt(i: int) -> NDArray[np.int64]:
        return 1 + i * segments + (np.arange(segments) + 1) % segments

    faces = [np.column_stack([np.zeros(segments, int), nxt(0), ring(0)])]
    for i in range(rings - 2):
        faces.append(np.column_stack([ring(i), nxt(i), nxt(i + 1)]))
        faces.append(np.column_stack([ring(i), nxt(i + 1), ring(i + 1)]))
    last = len(vertices) - 1
    faces.append(np.column_stack([np.full(segments, last), ring(rings - 2), nxt(rings - 2)]))
    return vertices, np.vstack(faces).astype(np.int64)


def _camera() -> Camera:
    f = SIZE / 2 / np.tan(np.radians(20.0))
    return Camera(SIZE, SIZE, f, f, SIZE / 2, SIZE / 2, orbit_pose((0, 0, 0), 2.2, 0.0, 10.0))


def _photo(
    vertices: NDArray[np.float64],
    faces: NDArray[np.int64],
    material: Material,
    uv: NDArray[np.float64] | None = None,
) -> FramedImage:
    """The sphere lit by the renderer's three lights (the benchmark's), cut out: alpha 0 or
    255, the background white as in a photo on a white sweep."""
    rgba = render([(vertices, faces, uv, vertex_normals(vertices, faces), material)], _camera())
    subject = rgba[..., 3] >= 128
    rgba[~subject, :3] = 255
    rgba[..., 3] = np.where(subject, 255, 0)
    return FramedImage(pixels=rgba, scale=1.0, offset=(0.0, 0.0), subject_box=(0, 0, SIZE, SIZE))


def _facing(vertices: NDArray[np.float64], faces: NDArray[np.int64]) -> NDArray[np.float64]:
    """n.v of the sphere at each pixel (0 off the sphere), analytically."""
    cam = _camera()
    eye = cam.camera_to_world[:3, 3]
    col, row = np.meshgrid(np.arange(SIZE) + 0.5, np.arange(SIZE) + 0.5)
    rays = np.stack([(col - cam.cx) / cam.fx, -(row - cam.cy) / cam.fy, -np.ones_like(col)], -1)
    rays = rays @ cam.camera_to_world[:3, :3].T
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    b = rays @ eye
    disc = b * b - (eye @ eye - RADIUS**2)
    hit = disc > 0
    t = -b - np.sqrt(np.maximum(disc, 0))
    normal = (eye + t[..., None] * rays) / RADIUS
    return np.where(hit, -np.einsum("hwc,hwc->hw", normal, rays), 0.0)


def _spread(linear_luma: NDArray[np.float64]) -> float:
    """Relative spread of luminance: std / mean."""
    return float(np.std(linear_luma) / np.mean(linear_luma))


@pytest.fixture(scope="module")
def sphere() -> Sphere:
    return _sphere()


def test_delighting_flattens_a_uniform_sphere(sphere: Sphere) -> None:
    vertices, faces = sphere
    framed = _photo(vertices, faces, Material(base_color_factor=(0.5, 0.35, 0.2, 1.0)))
    notes: dict[str, object] = {}
    normals = vertex_normals(vertices, faces)
    baked = bake_texture(framed, _camera(), vertices, faces, normals, notes=notes)
    well_seen = _facing(vertices, faces) > 0.5
    before = luminance(srgb_to_linear(framed.pixels[..., :3])[well_seen].astype(np.float64))
    after = luminance(srgb_to_linear(baked)[well_seen].astype(np.float64))
    # The lights make the photographed albedo vary by 17 % (std / mean); after dividing by the
    # fitted first-order shading 2.6 % is left.
    assert _spread(before) > 0.15
    assert _spread(after) < 0.25 * _spread(before)
    # A surface facing the camera keeps its photographed level.
    centre = framed.pixels[SIZE // 2, SIZE // 2, :3].astype(int)
    assert np.abs(baked[SIZE // 2, SIZE // 2].astype(int) - centre).max() <= 6
    assert isinstance(notes["delight"], dict) and notes["delight"]["explained"] > 0.5


def test_delighting_looks_through_printed_stripes(sphere: Sphere) -> None:
    vertices, faces = sphere
    # Vertical stripes of two colours of different chromaticity, a "label" on the sphere.
    stripes = np.zeros((4, 16, 3), dtype=np.uint8)
    stripes[:, 0::2] = (200, 30, 30)
    stripes[:, 1::2] = (230, 230, 230)
    azimuth = np.arctan2(vertices[:, 2], vertices[:, 0])
    uv = np.column_stack([(azimuth / (2 * np.pi)) % 1.0, np.full(len(vertices), 0.5)])
    material = Material(base_color_texture=Texture(image=stripes))
    framed = _photo(vertices, faces, material, uv)
    baked = bake_texture(framed, _camera(), vertices, faces, vertex_normals(vertices, faces))
    well_seen = _facing(vertices, faces) > 0.5
    source = srgb_to_linear(framed.pixels[..., :3])[well_seen].astype(np.float64)
    # Pixels well inside a stripe (the stripes' edges mix the two colours).
    red = source[:, 0] > 6 * source[:, 1]
    white = source[:, 1] > 0.8 * source[:, 0]
    out = srgb_to_linear(baked)[well_seen].astype(np.float64)
    # Measured: red 0.23 -> 0.15, white 0.18 -> 0.064 (std / mean of luminance).
    for stripe, factor in ((red, 0.75), (white, 0.45)):
        assert stripe.sum() > 300
        assert _spread(luminance(out[stripe])) < factor * _spread(luminance(source[stripe]))


def test_delighting_can_be_turned_off_and_keeps_well_seen_pixels(sphere: Sphere) -> None:
    vertices, faces = sphere
    framed = _photo(vertices, faces, Material(base_color_factor=(0.5, 0.35, 0.2, 1.0)))
    normals = vertex_normals(vertices, faces)
    baked = bake_texture(framed, _camera(), vertices, faces, normals, delight=False)
    well_seen = _facing(vertices, faces) > 0.6
    diff = np.abs(baked[well_seen].astype(int) - framed.pixels[..., :3][well_seen].astype(int))
    assert diff.max() <= 1  # the sRGB round trip only


def test_grazing_pixels_are_refilled_from_well_seen_ones(sphere: Sphere) -> None:
    vertices, faces = sphere
    framed = _photo(vertices, faces, Material(base_color_factor=(0.1, 0.5, 0.1, 1.0)))
    facing = _facing(vertices, faces)
    # A dark rim, as a photo's outline often has (grazing light, background mixed in).
    rim = (facing > 0) & (facing < 0.15) & (framed.pixels[..., 3] > 0)
    framed.pixels[rim, :3] = (10, 10, 10)
    normals = vertex_normals(vertices, faces)
    baked = bake_texture(framed, _camera(), vertices, faces, normals, delight=False)
    green = baked[rim].astype(int)
    assert rim.sum() > 100
    # Refilled with the sphere's green, not the streak of near-black the rim held.
    assert np.median(green[:, 1]) > 120 and np.median(green[:, 0]) < 100


def test_no_background_colour_bleeds_in(sphere: Sphere) -> None:
    vertices, faces = sphere
    framed = _photo(vertices, faces, Material(base_color_factor=(0.6, 0.05, 0.05, 1.0)))
    baked = bake_texture(framed, _camera(), vertices, faces, vertex_normals(vertices, faces))
    # The white background is replaced everywhere by the subject's reds.
    assert baked[..., 1].max() < 100 and baked[..., 2].max() < 100


def test_push_pull_keeps_sources_and_fills_the_rest() -> None:
    image = np.zeros((32, 32, 4), dtype=np.float32)
    image[:, :16] = (1.0, 0.0, 0.0, 1.0)
    image[:, 24:] = (0.0, 0.0, 1.0, 1.0)
    out = push_pull(image)
    assert np.allclose(out[:, :16], (1.0, 0.0, 0.0), atol=1e-6)
    assert np.allclose(out[:, 24:], (0.0, 0.0, 1.0), atol=1e-6)
    gap = out[:, 16:24]
    assert np.allclose(gap.sum(axis=-1), 1.0, atol=0.05)  # a blend of the two, nothing else
    assert gap[:, 0, 0].mean() > gap[:, -1, 0].mean()  # nearer red on the red side
