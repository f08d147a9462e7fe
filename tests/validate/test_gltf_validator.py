"""The Khronos glTF Validator: its npm install, running it, and the required gltf_validator check.

The validator must be installed (``meshforge models install``, as .ci/run does): tests that run it
fail, never skip, when it is missing.
"""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from meshes import box_asset
from meshforge import tools
from meshforge.cli.app import app
from meshforge.errors import DependencyError, ModelInstallError
from meshforge.export.registry import save
from meshforge.settings import get_settings
from meshforge.validate.gltf_validator import check_gltf_validator, run_gltf_validator
from meshforge.validate.profiles import CHECK_IDS, load_profile
from meshforge.validate.report import validate_file

PINNED = "2.0.0-dev.3.10"
runner = CliRunner()


@pytest.fixture
def gltf_validator() -> Path:
    """The installed validator package; the test fails if it is not installed."""
    if not tools.is_installed(tools.GLTF_VALIDATOR):
        pytest.fail(
            f"gltf-validator {PINNED} is not installed at "
            f"{tools.tool_path(tools.GLTF_VALIDATOR)}: run `meshforge models install` "
            "before running the tests",
            pytrace=False,
        )
    return tools.tool_path(tools.GLTF_VALIDATOR)


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """MESHFORGE_HOME pointed at an empty folder: nothing is installed there."""
    home = tmp_path / "home"
    monkeypatch.setenv("MESHFORGE_HOME", str(home))
    get_settings.cache_clear()
    yield home
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def cube_glb(tmp_path: Path) -> Path:
    path = tmp_path / "cube.glb"
    save(box_asset(0.2, 0.2, 0.2, offset=(0.0, 0.1, 0.0), textured=True), path)
    return path


def split_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    (json_length,) = struct.unpack_from("<I", data, 12)
    gltf = json.loads(data[20 : 20 + json_length])
    (bin_length,) = struct.unpack_from("<I", data, 20 + json_length)
    return gltf, data[28 + json_length : 28 + json_length + bin_length]


def pack_glb(gltf: dict[str, Any], binary: bytes) -> bytes:
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text
    body += struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body


def broken_copy(source: Path, target: Path, edit: Any) -> Path:
    gltf, binary = split_glb(source.read_bytes())
    edit(gltf)
    target.write_bytes(pack_glb(gltf, binary))
    return target


def test_the_pinned_version() -> None:
    spec = tools.get_tool("gltf-validator")
    assert spec.package == "gltf-validator" and spec.version == PINNED
    assert spec.requirement == f"gltf-validator@{PINNED}"


def test_a_glb_written_by_meshforge_has_no_errors(gltf_validator: Path, cube_glb: Path) -> None:
    validation = run_gltf_validator(cube_glb)
    assert validation.ran and validation.passed, validation
    assert validation.validator_version == PINNED
    assert (validation.num_errors, validation.num_warnings) == (0, 0), validation.issues


def test_an_accessor_longer_than_its_buffer_view(
    gltf_validator: Path, cube_glb: Path, tmp_path: Path
) -> None:
    def lengthen(gltf: dict[str, Any]) -> None:
        gltf["accessors"][0]["count"] *= 100

    validation = run_gltf_validator(broken_copy(cube_glb, tmp_path / "long.glb", lengthen))
    assert validation.ran and not validation.passed
    assert validation.num_errors >= 1
    assert "ACCESSOR_TOO_LONG" in validation.codes("error")
    issue = next(i for i in validation.issues if i.code == "ACCESSOR_TOO_LONG")
    assert issue.pointer == "/accessors/0" and issue.severity == "error"


def test_an_out_of_range_buffer_view(gltf_validator: Path, cube_glb: Path, tmp_path: Path) -> None:
    def dangle(gltf: dict[str, Any]) -> None:
        gltf["accessors"][0]["bufferView"] = 99

    validation = run_gltf_validator(broken_copy(cube_glb, tmp_path / "dangling.glb", dangle))
    assert not validation.passed
    issue = next(i for i in validation.issues if i.code == "UNRESOLVED_REFERENCE")
    assert issue.pointer == "/accessors/0/bufferView"
    check = check_gltf_validator(validation)
    assert check.status == "FAIL" and check.id == "gltf_validator"
    assert "UNRESOLVED_REFERENCE at /accessors/0/bufferView" in check.message


def test_not_a_glb_at_all(gltf_validator: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.glb"
    junk.write_bytes(b"hello")
    validation = run_gltf_validator(junk)
    assert validation.ran and validation.num_errors == 1 and not validation.passed
    assert validation.issues[0].code.startswith("GLB_")


def test_a_gltf_with_an_external_buffer(
    gltf_validator: Path, cube_glb: Path, tmp_path: Path
) -> None:
    gltf, binary = split_glb(cube_glb.read_bytes())
    gltf["buffers"] = [{"byteLength": len(binary), "uri": "cube.bin"}]
    folder = tmp_path / "gltf"
    folder.mkdir()
    (folder / "cube.bin").write_bytes(binary)
    path = folder / "cube.gltf"
    path.write_text(json.dumps(gltf))
    validation = run_gltf_validator(path)
    assert validation.passed and validation.num_errors == 0, validation.issues
    report = validate_file(path, load_profile("web"))
    assert report.result("gltf_validator").status == "PASS"

    (folder / "cube.bin").unlink()
    missing = run_gltf_validator(path)
    assert not missing.passed and "IO_ERROR" in missing.codes("error")


def test_the_report_includes_the_check(gltf_validator: Path, cube_glb: Path) -> None:
    report = validate_file(cube_glb, load_profile("web"))
    check = report.result("gltf_validator")
    assert check.status == "PASS" and check.severity == "error"
    assert check.measured == {"errors": 0, "warnings": 0}
    assert f"the Khronos glTF Validator {PINNED} found no errors" in check.message
    assert report.passed
    data = report.to_dict()
    assert data["gltf_validator"]["ran"] and data["gltf_validator"]["errors"] == 0
    assert "PASS  gltf_validator" in report.summary()


def test_an_invalid_glb_fails_the_report_whatever_the_profile(
    gltf_validator: Path, cube_glb: Path, tmp_path: Path
) -> None:
    def misstate_bounds(gltf: dict[str, Any]) -> None:
        gltf["accessors"][0]["max"] = [1.0, 1.0, 1.0]  # the cube reaches 0.1 m, 0.2 m, 0.1 m

    broken = broken_copy(cube_glb, tmp_path / "broken.glb", misstate_bounds)
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(
        "extends: web\nchecks:\n" + "".join(f'  {check}: "off"\n' for check in CHECK_IDS)
    )
    for profile in ("web", str(lenient)):
        report = validate_file(broken, load_profile(profile))
        assert not report.passed
        assert [r.id for r in report.failures] == ["gltf_validator"]
    result = runner.invoke(app, ["validate", str(broken), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    codes = {i["code"] for i in data["gltf_validator"]["issues"] if i["severity"] == "error"}
    assert "ACCESSOR_MAX_MISMATCH" in codes


def test_a_missing_validator_fails_the_check_with_the_hint(
    empty_home: Path, cube_glb: Path
) -> None:
    validation = run_gltf_validator(cube_glb)
    assert not validation.ran and not validation.passed
    assert validation.problem is not None
    assert "not installed" in validation.problem
    assert validation.problem.endswith("run: meshforge models install")
    report = validate_file(cube_glb, load_profile("web"))
    check = report.result("gltf_validator")
    assert check.status == "FAIL" and check.measured == "not run"
    assert "meshforge models install" in check.message
    assert not report.passed
    result = runner.invoke(app, ["validate", str(cube_glb)])
    assert result.exit_code == 1
    assert "FAIL  gltf_validator" in result.output


def test_a_missing_node_is_not_a_pass(
    gltf_validator: Path, cube_glb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools, "NODE_COMMAND", ("/nonexistent/node",))
    validation = run_gltf_validator(cube_glb)
    assert not validation.passed and validation.problem is not None
    assert "node" in validation.problem and "npm" in validation.problem


def test_a_validator_that_hangs_times_out(
    gltf_validator: Path, cube_glb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        tools, "NODE_COMMAND", (sys.executable, "-c", "import time; time.sleep(30)")
    )
    validation = run_gltf_validator(cube_glb, timeout=0.5)
    assert not validation.passed
    assert validation.problem == "the glTF Validator did not finish within 0.5 s"


def test_an_stl_is_not_run_through_the_validator(tmp_path: Path) -> None:
    path = tmp_path / "part.stl"
    save(box_asset(0.05, 0.05, 0.05, offset=(0.0, 0.025, 0.0)), path)
    report = validate_file(path, load_profile("print"))
    assert "gltf_validator" not in [r.id for r in report.results]
    assert report.to_dict()["gltf_validator"] is None


# --- Installation with npm (a stand-in npm script: no network) ----------------------------------

FAKE_NPM = """
import json, sys
from pathlib import Path
args = sys.argv[1:]
Path(sys.argv[0]).with_name("npm-argv.txt").write_text("\\n".join(args))
prefix = Path(args[args.index("--prefix") + 1])
name, version = args[-1].rsplit("@", 1)
package = prefix / "node_modules" / name
package.mkdir(parents=True, exist_ok=True)
(package / "package.json").write_text(json.dumps({"name": name, "version": version}))
"""

FAILING_NPM = """
import sys
sys.stderr.write("npm error code E404\\nnpm error 404 Not Found - gltf-validator\\n")
sys.exit(1)
"""


def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str = FAKE_NPM) -> Path:
    path = tmp_path / "npm.py"
    path.write_text(script)
    monkeypatch.setattr(tools, "NPM_COMMAND", (sys.executable, str(path)))
    return tmp_path / "npm-argv.txt"


def test_install_runs_npm_with_the_pinned_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = fake_npm(tmp_path, monkeypatch)
    prefix = tmp_path / "node"
    path = tools.install_tool("gltf-validator", prefix=prefix)
    assert path == prefix / "node_modules" / "gltf-validator"
    args = argv.read_text().splitlines()
    assert args == [
        "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"gltf-validator@{PINNED}"
    ]  # fmt: skip
    assert tools.is_installed("gltf-validator", prefix=prefix)
    assert tools.require_tool("gltf-validator", prefix=prefix) == path

    argv.unlink()
    seen: list[str] = []
    tools.install_tool("gltf-validator", prefix=prefix, progress=lambda f, m: seen.append(m))
    assert seen == [f"gltf-validator {PINNED} already installed"]
    assert not argv.exists()  # npm was not run again
    tools.install_tool("gltf-validator", prefix=prefix, force=True)
    assert argv.exists()


def test_another_installed_version_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = fake_npm(tmp_path, monkeypatch)
    package = tmp_path / "node" / "node_modules" / "gltf-validator"
    package.mkdir(parents=True)
    (package / "package.json").write_text('{"version": "2.0.0-dev.3.2"}')
    assert tools.installed_version("gltf-validator", prefix=tmp_path / "node") == "2.0.0-dev.3.2"
    with pytest.raises(DependencyError, match=r"is version 2\.0\.0-dev\.3\.2"):
        tools.require_tool("gltf-validator", prefix=tmp_path / "node")
    tools.install_tool("gltf-validator", prefix=tmp_path / "node")
    assert argv.exists() and tools.is_installed("gltf-validator", prefix=tmp_path / "node")


def test_npm_missing_is_a_dependency_error_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools, "NPM_COMMAND", ("/nonexistent/npm",))
    with pytest.raises(DependencyError) as caught:
        tools.install_tool("gltf-validator", prefix=tmp_path / "node")
    assert caught.value.exit_code == 4
    assert "npm was not found" in str(caught.value)
    assert "install Node.js and npm" in str(caught.value)


def test_npm_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npm(tmp_path, monkeypatch, FAILING_NPM)
    with pytest.raises(ModelInstallError) as caught:
        tools.install_tool("gltf-validator", prefix=tmp_path / "node")
    assert caught.value.exit_code == 4
    assert f"npm could not install gltf-validator@{PINNED} (exit 1)" in str(caught.value)
    assert "E404" in str(caught.value)
    assert not tools.is_installed("gltf-validator", prefix=tmp_path / "node")


def test_the_cli_installs_and_lists_the_validator(
    empty_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_npm(tmp_path, monkeypatch)
    listed = runner.invoke(app, ["models", "list"], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert f"gltf-validator {PINNED}" in listed.output
    result = runner.invoke(app, ["models", "install", "gltf-validator"])
    assert result.exit_code == 0, result.output
    assert "ok gltf-validator" in result.output
    assert tools.tool_path("gltf-validator") == empty_home / "node/node_modules/gltf-validator"
    assert tools.is_installed("gltf-validator")

    monkeypatch.setattr(tools, "NPM_COMMAND", ("/nonexistent/npm",))
    missing = runner.invoke(app, ["models", "install", "gltf-validator", "--force"])
    assert missing.exit_code == 4
    assert "npm was not found" in missing.output
