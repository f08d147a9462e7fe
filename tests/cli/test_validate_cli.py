"""`meshforge validate FILE --profile P`: summary, JSON, exit codes 0 / 1 / 2."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshes import box_asset
from meshforge.cli.app import app
from meshforge.export.registry import save
from meshforge.validate.report import SCHEMA

runner = CliRunner()


@pytest.fixture
def cube_glb(tmp_path: Path) -> Path:
    """A closed, textured 0.2 m cube standing on y = 0."""
    path = tmp_path / "cube.glb"
    save(box_asset(0.2, 0.2, 0.2, offset=(0.0, 0.1, 0.0), textured=True), path)
    return path


def test_a_closed_textured_cube_passes_web(cube_glb: Path) -> None:
    result = runner.invoke(app, ["validate", str(cube_glb), "--profile", "web"])
    assert result.exit_code == 0, result.output
    assert "PASS  watertight" in result.output
    assert "FAIL" not in result.output
    assert "PASS  gltf_validator" in result.output
    assert result.output.rstrip().endswith("PASSED")


def test_json_output_carries_the_schema(cube_glb: Path) -> None:
    result = runner.invoke(app, ["validate", str(cube_glb), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["schema"] == SCHEMA and report["profile"] == "web" and report["passed"]
    ids = [c["id"] for c in report["checks"]]
    assert ids[:3] == ["file_format", "file_size", "watertight"]
    assert report["counts"]["fail"] == 0


def test_a_failing_required_check_exits_1(cube_glb: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(cube_glb), "--profile", "print", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    failed = {c["id"] for c in report["checks"] if c["status"] == "FAIL"}
    assert failed == {"file_format"}


def test_an_stl_in_millimetres_passes_print(tmp_path: Path) -> None:
    path = tmp_path / "part.stl"
    save(box_asset(0.05, 0.05, 0.05, offset=(0.0, 0.025, 0.0)), path)
    result = runner.invoke(app, ["validate", str(path), "--profile", "print", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    size = next(c for c in report["checks"] if c["id"] == "real_size")
    assert size["measured"] == [0.05, 0.05, 0.05]


def test_a_hole_fails_watertight_and_exits_1(tmp_path: Path) -> None:
    box = box_asset(0.2, 0.2, 0.2, offset=(0.0, 0.1, 0.0), textured=True)
    mesh = box.meshes[0]
    holed = dataclasses.replace(box, meshes=[dataclasses.replace(mesh, faces=mesh.faces[1:])])
    path = tmp_path / "holed.glb"
    save(holed, path)
    result = runner.invoke(app, ["validate", str(path), "--profile", "print"])
    assert result.exit_code == 1
    assert "FAIL  watertight" in result.output
    assert "run the repair transform" in result.output
    # A viewer shows an open mesh fine: the web profile only warns.
    web = runner.invoke(app, ["validate", str(path), "--profile", "web"])
    assert web.exit_code == 0, web.output
    assert "watertight" in web.output and "FAIL  watertight" not in web.output


def test_a_user_profile_path_with_a_tiny_budget(cube_glb: Path, tmp_path: Path) -> None:
    profile = tmp_path / "tiny.yaml"
    profile.write_text("extends: web\nbudgets: {triangles: 10}\n")
    result = runner.invoke(app, ["validate", str(cube_glb), "-p", str(profile), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["profile"] == "tiny"
    triangles = next(c for c in report["checks"] if c["id"] == "triangles")
    assert (triangles["status"], triangles["measured"], triangles["limit"]) == ("FAIL", 12, 10)


def test_an_unknown_profile_exits_2_with_a_hint(cube_glb: Path) -> None:
    result = runner.invoke(app, ["validate", str(cube_glb), "--profile", "nonesuch"])
    assert result.exit_code == 2
    assert "unknown profile 'nonesuch'" in result.output
    assert "amazon, apple-ar, game, print, shopify, web" in result.output


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.glb")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_an_invalid_profile_file_exits_2(cube_glb: Path, tmp_path: Path) -> None:
    profile = tmp_path / "bad.yaml"
    profile.write_text("extends: web\ncolour: red\n")
    result = runner.invoke(app, ["validate", str(cube_glb), "-p", str(profile)])
    assert result.exit_code == 2
    assert "colour: Extra inputs are not permitted" in result.output
