"""Render presets, image and animation files, and ``meshforge render``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from meshes import box_asset
from meshforge.asset import Asset, Material, Mesh
from meshforge.cli.app import app
from meshforge.export.registry import save
from meshforge.render.encode import mp4_available, write_animation, write_image
from meshforge.render.presets import RenderOptions, render_preset, turntable_cameras


def tall_box() -> Asset:
    asset = box_asset(0.2, 0.6, 0.4, offset=(0.0, 0.3, 0.0))
    asset.materials[0] = Material(base_color_factor=(0.2, 0.5, 0.8, 1.0))
    return asset


def test_turntable_cameras_circle_at_one_distance() -> None:
    cameras = turntable_cameras(tall_box(), 8, 128)
    centre = np.array([0.0, 0.3, 0.0])
    distances = [np.linalg.norm(c.camera_to_world[:3, 3] - centre) for c in cameras]
    np.testing.assert_allclose(distances, distances[0])
    eyes = np.array([c.camera_to_world[:3, 3] - centre for c in cameras])
    azimuths = np.degrees(np.arctan2(eyes[:, 0], eyes[:, 2])) % 360
    np.testing.assert_allclose(azimuths, np.arange(8) * 45.0, atol=1e-9)


def test_thumbnail_and_studio_frame_the_asset(tmp_path: Path) -> None:
    (thumb,) = render_preset(tall_box(), "thumbnail", tmp_path, "box", RenderOptions(size=128))
    with Image.open(thumb) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape == (128, 128, 3)
    covered = np.argwhere(pixels.sum(axis=2) < 600)
    assert covered.size and covered.min() > 0 and covered.max() < 127  # inside, not cut
    options = RenderOptions(width=200, height=100, background=None, formats=("png", "webp"))
    files = render_preset(tall_box(), "studio", tmp_path, "box", options)
    assert [f.name for f in files] == ["box_studio.png", "box_studio.webp"]
    for f in files:
        with Image.open(f) as image:
            assert image.size == (200, 100) and image.mode == "RGBA"
            alpha = np.asarray(image)[..., 3]
        assert alpha[0, 0] == 0 and alpha.max() == 255


def test_sheet_is_a_grid_of_eight_views(tmp_path: Path) -> None:
    (sheet,) = render_preset(tall_box(), "sheet", tmp_path, "box", RenderOptions(size=64))
    with Image.open(sheet) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape == (128, 256, 3)
    for r in range(2):
        for k in range(4):
            tile = pixels[r * 64 : (r + 1) * 64, k * 64 : (k + 1) * 64]
            assert (tile.sum(axis=2) < 600).sum() > 50  # every view shows the box


def test_turntable_files(tmp_path: Path) -> None:
    options = RenderOptions(size=64, frames=6, formats=("webp", "gif"))
    webp, gif = render_preset(tall_box(), "turntable", tmp_path, "box", options)
    for path in (webp, gif):
        with Image.open(path) as image:
            assert image.n_frames == 6 and image.size == (64, 64)


@pytest.mark.skipif(not mp4_available(), reason="imageio-ffmpeg is an optional extra")
def test_mp4_turntable(tmp_path: Path) -> None:
    frames = [np.full((64, 64, 3), 40 * i, dtype=np.uint8) for i in range(5)]
    path = write_animation(frames, tmp_path / "spin.mp4", fps=10)
    header = path.read_bytes()[:12]
    assert header[4:8] == b"ftyp" and path.stat().st_size > 200


def test_encoders_refuse_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        write_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "x.bmp")
    with pytest.raises(ValueError, match="uint8"):
        write_image(np.zeros((4, 4), np.float32), tmp_path / "x.png")
    with pytest.raises(ValueError, match="at least one frame"):
        write_animation([], tmp_path / "x.gif")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_render_cli(tmp_path: Path) -> None:
    mesh = tmp_path / "box.glb"
    save(tall_box(), mesh)
    runner = CliRunner()
    out = tmp_path / "renders"
    result = runner.invoke(
        app, ["render", str(mesh), "--preset", "thumbnail", "--size", "96", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    with Image.open(out / "box.png") as image:
        assert image.size == (96, 96)
    bad = runner.invoke(app, ["render", str(mesh), "--preset", "poster", "-o", str(out)])
    assert bad.exit_code == 2 and "thumbnail, turntable, sheet, studio" in bad.output
    bad = runner.invoke(app, ["render", str(mesh), "--background", "mauve", "-o", str(out)])
    assert bad.exit_code == 2 and "#rrggbb" in bad.output
    bad = runner.invoke(app, ["render", str(mesh), "--formats", "gif", "-o", str(out)])
    assert bad.exit_code == 2


def test_an_empty_asset_gets_a_clear_error(tmp_path: Path) -> None:
    empty = Asset(
        meshes=[Mesh(vertices=np.zeros((0, 3)), faces=np.zeros((0, 3)))], materials=[Material()]
    )
    with pytest.raises(ValueError, match="no faces"):
        render_preset(empty, "thumbnail", tmp_path, "e")
    assert not list(tmp_path.iterdir())
