"""`meshforge generate` end to end: outputs, their geometry, the report, exit codes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image
from typer.testing import CliRunner

from meshforge import __version__
from meshforge.api import load
from meshforge.asset import Camera
from meshforge.cli.app import app
from meshforge.render.raster import silhouette
from synthetic import bottle_mask, iou, paint, save_photo

runner = CliRunner()
STAGES = ["load", "segment", "check", "frame", "reconstruct", "scale", "pivot", "export", "render"]


def camera_from_report(report: dict) -> Camera:
    c = report["camera"]
    return Camera(
        width=c["width"],
        height=c["height"],
        fx=c["fx"],
        fy=c["fy"],
        cx=c["cx"],
        cy=c["cy"],
        camera_to_world=np.array(c["camera_to_world"]),
    )


def assert_product_glb(mesh: trimesh.Trimesh, height: float) -> None:
    """Closed, consistently wound, textured, ``height`` tall, standing on y = 0, centred."""
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.visual.uv is not None and mesh.visual.material.baseColorTexture is not None
    low, high = mesh.bounds
    assert high[1] - low[1] == pytest.approx(height, rel=0.01)
    assert low[1] == pytest.approx(0.0, abs=1e-6)
    assert (low[0] + high[0]) / 2 == pytest.approx(0.0, abs=1e-6)
    assert (low[2] + high[2]) / 2 == pytest.approx(0.0, abs=1e-6)


@pytest.fixture(scope="module")
def bottle_photo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    mask = bottle_mask(640)[:, 64:576]  # 512 wide, 640 tall: not square, off the photo's middle
    mask = np.roll(mask, 40, axis=1)
    path = save_photo(tmp_path_factory.mktemp("photo") / "bottle.png", paint(mask))
    return path, mask


def test_generate_writes_a_scaled_watertight_textured_glb(
    bottle_photo: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    photo, mask = bottle_photo
    result = runner.invoke(
        app,
        [
            "generate",
            str(photo),
            "-o",
            str(tmp_path),
            "--height",
            "0.3",
            "--segmenter",
            "color-key",
            "--format",
            "glb,obj,stl,ply",
        ],
    )
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "bottle.glb") in result.output.replace("\n", "")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "bottle.glb",
        "bottle.mtl",
        "bottle.obj",
        "bottle.ply",
        "bottle.png",
        "bottle.report.json",
        "bottle.stl",
        "bottle_m0_basecolor.jpg",
    ]

    scene = trimesh.load(tmp_path / "bottle.glb")
    (mesh,) = scene.geometry.values()
    assert_product_glb(mesh, height=0.3)

    report = json.loads((tmp_path / "bottle.report.json").read_text())
    seen = silhouette(load(tmp_path / "bottle.glb"), camera_from_report(report))
    assert seen.shape == mask.shape
    assert iou(seen, mask) >= 0.95


def test_report_contents(bottle_photo: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    photo, _ = bottle_photo
    result = runner.invoke(
        app, ["generate", str(photo), "-o", str(tmp_path), "--segmenter", "color-key", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads((tmp_path / "bottle.report.json").read_text())
    (source,) = report["inputs"]
    assert source["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    assert (source["width"], source["height"], source["format"]) == (512, 640, "PNG")
    assert [s["stage"] for s in report["stages"]] == STAGES
    assert all(s["seconds"] > 0 for s in report["stages"])
    assert report["timings"]["total"] >= sum(s["seconds"] for s in report["stages"]) * 0.99
    assert report["options"]["segment"]["segmenter"] == "color-key"
    assert report["engine"]["name"] == "silhouette"
    assert report["engine"]["options"]["max_faces"] == 20000
    segment = report["stages"][1]
    assert segment["details"]["backend"] == "color-key"
    assert report["size"]["source"] == "default" and report["size"]["height_m"] == 0.25
    assert "default-size" in [w["code"] for w in report["warnings"]]
    assert report["mesh"]["watertight"] and report["mesh"]["faces"] <= 20000
    assert report["camera"]["fov_y_deg"] == pytest.approx(40.0)
    for kind, files in report["outputs"].items():
        for entry in files:
            data = (tmp_path / entry["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], kind
            assert len(data) == entry["bytes"]


def test_width_sets_the_size(bottle_photo: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    photo, _ = bottle_photo
    result = runner.invoke(
        app,
        [
            "generate",
            str(photo),
            "-o",
            str(tmp_path),
            "--width",
            "0.08",
            "--segmenter",
            "color-key",
            "--no-thumbnail",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    low, high = trimesh.load(tmp_path / "bottle.glb").bounds
    assert high[0] - low[0] == pytest.approx(0.08, rel=0.01)
    assert not (tmp_path / "bottle.png").exists()


def write_bad(kind: str, path: Path) -> Path:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not an image")
    elif kind == "truncated":
        save_photo(path, paint(bottle_mask()))
        path.write_bytes(path.read_bytes()[:2000])
    elif kind == "tiny":
        save_photo(path, paint(bottle_mask(100)))
    elif kind == "huge":  # 48 megapixels, but a tiny 1-bit file: refused from its header
        Image.new("1", (8000, 6000)).save(path)
    elif kind == "blank":
        save_photo(path, np.full((512, 512, 3), 255, dtype=np.uint8))
    return path


@pytest.mark.parametrize(
    ("kind", "code", "message"),
    [
        ("empty", 2, "load: "),
        ("text", 2, "load: "),
        ("truncated", 2, "load: "),
        ("tiny", 2, "load: "),
        ("huge", 2, "load: "),
        ("blank", 3, "segment: "),
    ],
)
def test_bad_input_exit_codes_and_nothing_lost(
    kind: str, code: int, message: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "photo.glb").write_bytes(b"an earlier result")
    photo = write_bad(kind, tmp_path / "photo.png")
    result = runner.invoke(
        app, ["generate", str(photo), "-o", str(out), "--segmenter", "color-key"]
    )
    assert result.exit_code == code, result.output
    assert message in result.output
    assert sorted(p.name for p in out.iterdir()) == ["photo.glb"]
    assert (out / "photo.glb").read_bytes() == b"an earlier result"


def test_missing_model_exit_code(
    bottle_photo: tuple[Path, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meshforge.settings import get_settings

    monkeypatch.setenv("MESHFORGE_HOME", str(tmp_path / "empty-home"))
    get_settings.cache_clear()
    try:
        photo, _ = bottle_photo
        result = runner.invoke(
            app, ["generate", str(photo), "-o", str(tmp_path), "--segmenter", "u2net"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 4
    assert "meshforge models install" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--height", "0.2", "--width", "0.1"], "give only one of height, width or depth"),
        (["--format", "glb,fbx"], "output.formats"),
        (["--segmenter", "magic"], "segment.segmenter"),
        (["--foreground-ratio", "0"], "frame.foreground_ratio"),
        (["--max-faces", "10"], "max_faces"),
    ],
)
def test_invalid_options_exit_2(
    bottle_photo: tuple[Path, np.ndarray], tmp_path: Path, args: list[str], message: str
) -> None:
    photo, _ = bottle_photo
    result = runner.invoke(app, ["generate", str(photo), "-o", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output.replace("\n", "")
    assert not list(tmp_path.iterdir())


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"meshforge {__version__}"


def test_doctor_lists_parts_and_models() -> None:
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    for part in ("onnxruntime", "opencv-python-headless", "model u2net", "model u2netp"):
        assert part in result.output
    # Optional parts that are missing name the extra that installs them.
    import importlib.util

    if importlib.util.find_spec("fastapi") is None:
        assert "meshforge[service]" in result.output.replace("\n", "")


def test_sample_photo_with_the_default_segmenter(tmp_path: Path) -> None:
    """The README's command on the shipped sample: auto picks u2net (installed by the set-up)."""
    sample = Path(__file__).resolve().parents[2] / "examples" / "waterbottle.png"
    result = runner.invoke(app, ["generate", str(sample), "-o", str(tmp_path), "--height", "0.26"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "waterbottle.report.json").read_text())
    assert report["stages"][1]["details"]["backend"] == "u2net"
    (mesh,) = trimesh.load(tmp_path / "waterbottle.glb").geometry.values()
    assert_product_glb(mesh, height=0.26)
    # The sample is a render on pure white: everything not white is the bottle.
    photo = np.asarray(Image.open(sample).convert("RGB")).astype(int)
    mask = photo.min(axis=2) < 250
    seen = silhouette(load(tmp_path / "waterbottle.glb"), camera_from_report(report))
    assert iou(seen, mask) >= 0.90


def test_small_photo_is_a_warning_not_an_error(tmp_path: Path) -> None:
    photo = save_photo(tmp_path / "small.png", paint(bottle_mask(300)))
    result = runner.invoke(
        app, ["generate", str(photo), "-o", str(tmp_path / "out"), "--segmenter", "color-key"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "small.report.json").read_text())
    assert "small-image" in [w["code"] for w in report["warnings"]]
    assert "warning load:" in result.output


@pytest.mark.parametrize("shape", ["inflate", "revolve"])
def test_shape_option_reaches_the_engine(
    bottle_photo: tuple[Path, np.ndarray], tmp_path: Path, shape: str
) -> None:
    photo, _ = bottle_photo
    result = runner.invoke(
        app,
        [
            "generate",
            str(photo),
            "-o",
            str(tmp_path),
            "--segmenter",
            "color-key",
            "--shape",
            shape,
            "--no-thumbnail",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    reconstruct = report["stages"][4]
    assert reconstruct["details"]["shape"] == shape
    assert report["engine"]["options"]["shape"] == shape
    assert report["mesh"]["watertight"]


def test_turntable_and_thumbnail_are_written_and_reported(
    bottle_photo: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    photo, _ = bottle_photo
    result = runner.invoke(
        app,
        [
            *("generate", str(photo), "-o", str(tmp_path), "--segmenter", "color-key"),
            *("--turntable", "--profile", "web", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    turntable = [Path(p) for p in report["profile"]["renders"]["turntable"]]
    assert {p.suffix for p in turntable} >= {".webp", ".gif"}
    with Image.open(tmp_path / "bottle_turntable.gif") as gif:
        assert gif.n_frames == 36
    with Image.open(tmp_path / "bottle.png") as thumb:
        pixels = np.asarray(thumb.convert("RGB"))
    assert (pixels.sum(axis=2) < 700).mean() > 0.05  # the bottle is in the picture
    render_stage = next(s for s in report["stages"] if s["stage"] == "render")
    assert render_stage["details"]["renderer"] == "opengl"


def test_thumbnail_without_opengl_falls_back_with_a_warning(
    bottle_photo: tuple[Path, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meshforge.errors import DependencyError
    from meshforge.render import presets

    def no_gl(*_: object, **__: object) -> None:
        raise DependencyError("no EGL", stage="render", hint="apt-get install libegl1")

    monkeypatch.setattr(presets, "render_views", no_gl)
    photo, _ = bottle_photo
    result = runner.invoke(
        app, ["generate", str(photo), "-o", str(tmp_path), "--segmenter", "color-key", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    render_stage = next(s for s in report["stages"] if s["stage"] == "render")
    assert render_stage["details"]["renderer"] == "numpy"
    assert any(w["code"] == "no-opengl" for w in render_stage["warnings"])
    with Image.open(tmp_path / "bottle.png") as thumb:
        assert thumb.size == (512, 512)
