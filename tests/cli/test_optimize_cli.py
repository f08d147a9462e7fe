"""`meshforge optimize IN -o OUT --profile P` and `generate --profile P`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from typer.testing import CliRunner

from meshforge.asset import Asset, Mesh
from meshforge.cli.app import app
from meshforge.export.registry import save
from meshforge.validate.report import SCHEMA
from synthetic import bottle_mask, paint, save_photo

runner = CliRunner()


@pytest.fixture
def big_sphere(tmp_path: Path) -> Path:
    """A 0.2 m sphere of 81,920 faces and 40,962 vertices: over the web budget."""
    sphere = trimesh.creation.icosphere(subdivisions=6, radius=0.1)
    path = tmp_path / "sphere.glb"
    save(Asset(meshes=[Mesh(sphere.vertices, sphere.faces)]), path)
    return path


@pytest.fixture
def untextured_web(tmp_path: Path) -> Path:
    """The web profile without its texture requirements (the sphere has none), so without the
    unwrap and bake that meet them."""
    path = tmp_path / "plain-web.yaml"
    path.write_text(
        "extends: web\nrequired_maps: []\nchecks: {uv_present: 'off', uv_range: 'off'}\n"
        "transforms:\n  - {name: weld}\n  - {name: repair}\n"
        "  - {name: decimate, options: {target_faces: 40000}}\n"
        "  - {name: resize, options: {max_size: 2048}}\n"
        "  - {name: pivot, options: {position: bottom-center}}\n"
    )
    return path


def test_optimize_decimates_to_the_budget(
    big_sphere: Path, untextured_web: Path, tmp_path: Path
) -> None:
    out = tmp_path / "small.glb"
    result = runner.invoke(
        app, ["optimize", str(big_sphere), "-o", str(out), "--profile", str(untextured_web)]
    )
    assert result.exit_code == 0, result.output
    assert "decimate: faces 81,920 -> " in result.output
    assert "PASS  vertices" in result.output and "PASSED" in result.output
    mesh = trimesh.load(out, force="mesh")
    assert len(mesh.faces) <= 40_000 and len(mesh.vertices) <= 30_000
    assert mesh.bounds[0][1] == pytest.approx(0.0, abs=1e-6)


def test_optimize_json(big_sphere: Path, untextured_web: Path, tmp_path: Path) -> None:
    out = tmp_path / "small.glb"
    args = ["optimize", str(big_sphere), "-o", str(out), "-p", str(untextured_web), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    stages = {t["stage"]: t for t in document["transforms"]}
    assert list(stages) == ["weld", "repair", "decimate", "resize", "pivot"]
    assert stages["decimate"]["changes"]["faces"][0] == 81_920
    assert document["validation"]["schema"] == SCHEMA and document["validation"]["passed"]


def test_optimize_exits_1_when_the_profile_still_fails(tmp_path: Path) -> None:
    # A 100 m sphere: the web chain gives it UVs and a base colour but cannot know its size.
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=50.0)
    source = tmp_path / "huge.glb"
    save(Asset(meshes=[Mesh(sphere.vertices, sphere.faces)]), source)
    out = tmp_path / "small.glb"
    result = runner.invoke(app, ["optimize", str(source), "-o", str(out), "-p", "web"])
    assert result.exit_code == 1, result.output
    assert out.exists() and "FAIL  real_size" in result.output
    assert "PASS  pbr_maps" in result.output and "PASS  uv_present" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.glb", "-o", "out.glb", "-p", "web"], "does not exist"),
        (["{sphere}", "-o", "out.glb", "-p", "nope"], "unknown profile 'nope'"),
    ],
)
def test_bad_input_exits_2(big_sphere: Path, tmp_path: Path, args: list[str], message: str) -> None:
    argv = [a.replace("{sphere}", str(big_sphere)) for a in args]
    argv = [str(tmp_path / a) if a.startswith(("missing", "out")) else a for a in argv]
    result = runner.invoke(app, ["optimize", *argv])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_generate_with_a_profile_transforms_and_validates(tmp_path: Path) -> None:
    mask = bottle_mask(512)
    photo = save_photo(tmp_path / "bottle.png", paint(mask))
    out = tmp_path / "out"
    args = ["generate", str(photo), "-o", str(out), "--segmenter", "color-key", "--no-thumbnail"]
    result = runner.invoke(app, [*args, "--profile", "web", "--json"])
    report = json.loads(result.stdout)
    profile = report["profile"]
    assert profile["name"] == "web"
    assert [t["stage"] for t in profile["transforms"]] == [
        "weld",
        "repair",
        "decimate",
        "unwrap",
        "bake",
        "resize",
        "pivot",
    ]
    validation = profile["validation"]
    assert validation["schema"] == SCHEMA and validation["file"] == str(out / "bottle.glb")
    assert result.exit_code == (0 if validation["passed"] else 1), validation
    assert json.loads((out / "bottle.report.json").read_text())["profile"] == profile
    low = trimesh.load(out / "bottle.glb", force="mesh").bounds[0]
    assert np.isclose(low[1], 0.0, atol=1e-6)


def test_generate_with_an_unknown_profile_exits_2(tmp_path: Path) -> None:
    photo = save_photo(tmp_path / "bottle.png", paint(bottle_mask(512)))
    result = runner.invoke(app, ["generate", str(photo), "-o", str(tmp_path), "--profile", "x"])
    assert result.exit_code == 2 and "unknown profile 'x'" in result.output
    assert not (tmp_path / "bottle.glb").exists()
