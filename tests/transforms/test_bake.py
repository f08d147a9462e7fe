"""bake: base colour, tangent-space normals, vertex colours onto the target's atlas."""

from __future__ import annotations

import numpy as np
import pytest

from meshes import checker_sphere
from meshforge.asset import Asset, Material, Mesh
from meshforge.errors import TransformError
from meshforge.render.raster import fit_camera, render
from meshforge.transforms import bake, decimate, unwrap


def grid_plane(n: int, height: float = 0.0) -> Asset:
    """The unit square in z = 0 (seen from +z, CCW), ``n x n`` quads, u = x and v = 1 - y,
    with a Gaussian bump of ``height`` at the centre."""
    ys, xs = np.meshgrid(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1), indexing="ij")
    z = height * np.exp(-((xs - 0.5) ** 2 + (ys - 0.5) ** 2) / 0.02)
    vertices = np.column_stack([xs.ravel(), ys.ravel(), z.ravel()])
    i = (np.arange(n)[:, None] * (n + 1) + np.arange(n)[None, :]).ravel()
    faces = np.concatenate(
        [np.column_stack([i, i + 1, i + n + 2]), np.column_stack([i, i + n + 2, i + n + 1])]
    )
    uv = np.column_stack([vertices[:, 0], 1.0 - vertices[:, 1]])
    return Asset(meshes=[Mesh(vertices=vertices, faces=faces, uv=uv)], materials=[Material()])


def texel(image: np.ndarray, x: float, y: float) -> np.ndarray:
    """The texel of the flat plane's map at the surface point (x, y)."""
    size = image.shape[0]
    return image[int((1.0 - y) * size), int(x * size)].astype(int)


@pytest.fixture(scope="module")
def sphere() -> Asset:
    return checker_sphere()


@pytest.fixture(scope="module")
def baked(sphere: Asset) -> Asset:
    return sphere.transform(
        decimate(target_faces=2000), unwrap(resolution=512), bake(sphere, size=512)
    )


def test_base_colour_render_matches_the_source(sphere: Asset, baked: Asset) -> None:
    # Lit over white, facing the old UV seam. Measured PSNR 37.9 dB (36.9 dB at azimuth 0);
    # the decimated mesh with its carried UVs and the original texture gets 34.2 dB.
    camera = fit_camera(sphere.bounds(), azimuth_deg=160.0, elevation_deg=20.0, size=256)
    before = render(sphere, camera, background=(255, 255, 255)).astype(np.float64)
    after = render(baked, camera, background=(255, 255, 255)).astype(np.float64)
    mse = np.mean((before[..., :3] - after[..., :3]) ** 2)
    assert 10 * np.log10(255.0**2 / mse) >= 30.0


def test_reports_the_maps_and_coverage(sphere: Asset, baked: Asset) -> None:
    report = baked.reports[-1]
    assert report.stage == "bake"
    assert report.changes["textures"] == (0, 2)
    assert report.details["source"] == {"faces": 20480, "vertices": sphere.vertex_count}
    facts = report.details["baked"][0]
    assert facts["maps"] == ["base_color", "normal"] and facts["size"] == [512, 512]
    assert 0.4 < facts["coverage"] < 0.8
    assert facts["distance_max"] < 0.01  # decimate's deviation from the dense sphere
    material = baked.materials[0]
    assert material.base_color_texture is not None and material.normal_texture is not None
    assert material.base_color_texture.size == (512, 512)
    assert material.base_color_factor == (1.0, 1.0, 1.0, 1.0)


def test_flat_plane_from_itself_bakes_a_flat_normal_map() -> None:
    plane = grid_plane(1)
    out = plane.transform(bake(plane, size=64, dilate=0))
    assert out.materials[0].normal_texture is not None
    image = out.materials[0].normal_texture.image.reshape(-1, 3).astype(int)
    assert out.reports[-1].details["baked"][0]["coverage"] == 1.0
    assert np.abs(image - [128, 128, 255]).max() <= 1


def test_bump_slopes_show_in_the_normal_map() -> None:
    dense, flat = grid_plane(100, height=0.05), grid_plane(1)
    out = flat.transform(bake(dense, size=64))
    assert out.materials[0].normal_texture is not None
    normal = out.materials[0].normal_texture.image
    # Left of the bump the surface rises to +x, so its normal leans to -x (red below 128); above
    # it (+y, up in the image) it falls, so the normal leans up (green above 128).
    assert texel(normal, 0.4, 0.5)[0] < 110 and texel(normal, 0.6, 0.5)[0] > 146
    assert texel(normal, 0.5, 0.6)[1] > 146 and texel(normal, 0.5, 0.4)[1] < 110
    assert abs(texel(normal, 0.4, 0.5)[1] - 128) <= 6 and abs(texel(normal, 0.5, 0.6)[0] - 128) <= 6
    assert np.abs(texel(normal, 0.05, 0.05) - [128, 128, 255]).max() <= 2  # flat far away


def test_vertex_colours_are_baked() -> None:
    source = grid_plane(20)
    x = source.meshes[0].vertices[:, 0]
    source.metadata["vertex_colors"] = [np.where((x < 0.5)[:, None], [255, 0, 0], [0, 0, 255])]
    out = grid_plane(1).transform(bake(source, size=32, normal_map=False))
    colour = out.materials[0].base_color_texture
    assert colour is not None and out.materials[0].normal_texture is None
    assert texel(colour.image, 0.2, 0.5).tolist() == [255, 0, 0, 255]
    assert texel(colour.image, 0.8, 0.5).tolist() == [0, 0, 255, 255]


def test_dilates_past_the_charts() -> None:
    half = grid_plane(1)
    mesh = half.meshes[0]
    assert mesh.uv is not None
    mesh.uv = mesh.uv * 0.5  # the plane covers only the top-left quarter of the map
    mesh_colour = Asset(meshes=[mesh], materials=[Material(base_color_factor=(0.0, 1.0, 0.0, 1.0))])
    out = half.transform(bake(mesh_colour, size=64, normal_map=False, dilate=4))
    image = out.materials[0].base_color_texture.image  # type: ignore[union-attr]
    assert image[10, 35].tolist() == [0, 255, 0, 255]  # 3 texels right of the chart: filled
    assert image[10, 40].tolist() == [0, 0, 0, 255]  # 8 texels right: background


def test_target_without_uvs_is_an_error() -> None:
    plane = grid_plane(1)
    bare = Asset(meshes=[Mesh(vertices=plane.meshes[0].vertices, faces=plane.meshes[0].faces)])
    with pytest.raises(TransformError, match="no UVs"):
        bare.transform(bake(plane))
