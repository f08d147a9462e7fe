"""`meshforge convert IN OUT [--profile P]`: formats, transforms, validation, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trimesh
from typer.testing import CliRunner

from meshes import box_asset
from meshforge.cli.app import app
from meshforge.export.registry import save
from meshforge.validate.report import SCHEMA

runner = CliRunner()


@pytest.fixture
def cube_glb(tmp_path: Path) -> Path:
    """A closed, textured 0.2 m cube, off the origin."""
    path = tmp_path / "cube.glb"
    save(box_asset(0.2, 0.2, 0.2, offset=(1.0, 0.5, 0.0), textured=True), path)
    return path


def test_convert_without_profile_writes_the_format(cube_glb: Path, tmp_path: Path) -> None:
    out = tmp_path / "cube.stl"
    result = runner.invoke(app, ["convert", str(cube_glb), str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"meshforge binary STL")
    assert result.output.splitlines() == [f"wrote {out}"]


def test_convert_with_profile_transforms_and_validates(cube_glb: Path, tmp_path: Path) -> None:
    out = tmp_path / "web.glb"
    result = runner.invoke(app, ["convert", str(cube_glb), str(out), "--profile", "web", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [t["stage"] for t in document["transforms"]] == [
        "weld",
        "repair",
        "decimate",
        "unwrap",
        "bake",
        "resize",
        "pivot",
    ]
    assert document["validation"]["schema"] == SCHEMA and document["validation"]["passed"]
    assert document["outputs"] == [str(out)]
    low, high = trimesh.load(out, force="mesh").bounds
    assert low[1] == pytest.approx(0.0) and (low[0] + high[0]) / 2 == pytest.approx(0.0)


def test_convert_for_print_writes_a_solid_stl(cube_glb: Path, tmp_path: Path) -> None:
    out = tmp_path / "part.stl"
    result = runner.invoke(app, ["convert", str(cube_glb), str(out), "--profile", "print"])
    assert result.exit_code == 0, result.output
    assert "solidify:" in result.output and "PASSED" in result.output
    mesh = trimesh.load(out, force="mesh")
    assert mesh.is_watertight and mesh.extents.tolist() == pytest.approx([200.0] * 3, rel=1e-5)


def test_a_failed_check_exits_1_and_still_writes(cube_glb: Path, tmp_path: Path) -> None:
    out = tmp_path / "cube.stl"
    result = runner.invoke(app, ["convert", str(cube_glb), str(out), "--profile", "amazon"])
    assert result.exit_code == 1, result.output
    assert out.exists() and "FAIL  file_format" in result.output
    assert "FAILED" in result.output


def test_no_transforms_skips_them(cube_glb: Path, tmp_path: Path) -> None:
    out = tmp_path / "same.glb"
    args = ["convert", str(cube_glb), str(out), "--profile", "web", "--no-transforms", "--json"]
    result = runner.invoke(app, args)
    document = json.loads(result.stdout)
    assert document["transforms"] == []
    assert result.exit_code == (0 if document["validation"]["passed"] else 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.glb", "out.glb"], "does not exist"),
        (["{cube}", "out.glb", "--profile", "nope"], "unknown profile 'nope'"),
        (["{cube}", "out.xyz"], "unknown output format 'xyz'"),
    ],
)
def test_bad_input_exits_2_with_a_hint(
    cube_glb: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    argv = [a.replace("{cube}", str(cube_glb)) for a in args]
    argv = [str(tmp_path / a) if a.startswith(("missing", "out")) else a for a in argv]
    result = runner.invoke(app, ["convert", *argv])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out.glb").exists()
