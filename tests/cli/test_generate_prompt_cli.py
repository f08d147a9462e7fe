"""`meshforge generate --prompt` through a remote engine (the fake providers), its errors and
exit codes, and `meshforge engines`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshforge.cli.app import app
from provider_fakes import FakeProviders
from synthetic import bottle_mask, paint, save_photo

runner = CliRunner()


def test_prompt_writes_the_asset_and_passes_engine_options(
    providers: FakeProviders, tmp_path: Path
) -> None:
    result = runner.invoke(
        app,
        [
            "generate",
            "--prompt",
            "a red ceramic mug",
            "--engine",
            "tripo",
            "-o",
            str(tmp_path),
            "--height",
            "0.3",
            "-E",
            "face_limit=5000",
            "--engine-option",
            "texture=false",
            "--no-thumbnail",
        ],
    )
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["a-red-ceramic-mug.glb", "a-red-ceramic-mug.report.json"]
    (create,) = providers.called("POST", "/tripo/task")
    sent = json.loads(create.body)
    assert (sent["face_limit"], sent["texture"], sent["pbr"]) == (5000, False, True)
    report = json.loads((tmp_path / "a-red-ceramic-mug.report.json").read_text())
    assert report["engine"]["options"]["face_limit"] == 5000
    assert report["size"]["height_m"] == pytest.approx(0.3)
    output = result.output.replace("\n", "")
    assert "prompt 'a red ceramic mug'" in output and "tripo 1" in output


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    mask = bottle_mask(256)
    return save_photo(tmp_path / "bottle.png", paint(mask), alpha=mask)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "give exactly one input, path (a photo) or prompt (a text prompt); got neither"),
        (["PHOTO", "--prompt", "a mug"], 2, "got path and prompt"),
        (["--prompt", "a mug"], 2, "engine 'silhouette' does not take a text prompt"),
        (["--prompt", "a mug", "--engine", "tripo", "-E", "pbr"], 2, "'pbr' is not KEY=VALUE"),
        (
            ["--prompt", "a mug", "--engine", "tripo", "-E", "shape=box"],
            2,
            "invalid options for engine 'tripo': shape: Extra inputs are not permitted",
        ),
        (["--prompt", "a mug", "--engine", "warp"], 2, "unknown engine 'warp'"),
        (["--prompt", "a mug", "--engine", "meshy", "--bad-key"], 5, "meshy refused the API key"),
        (["--prompt", "a mug", "--engine", "tripo", "--no-key"], 5, "MESHFORGE_TRIPO_API_KEY"),
        (["PHOTO", "--engine", "meshy", "-E", "art_style=realistic"], 2, "text prompts only"),
    ],
    ids=[
        "no-input",
        "two-inputs",
        "prompt-to-silhouette",
        "option-not-key-value",
        "unknown-option",
        "unknown-engine",
        "bad-key",
        "no-key",
        "text-option-with-photo",
    ],
)
def test_errors_and_exit_codes(
    providers: FakeProviders,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    photo: Path,
    args: list[str],
    code: int,
    message: str,
) -> None:
    if "--bad-key" in args:
        monkeypatch.setenv("MESHFORGE_MESHY_API_KEY", "wrong")
    if "--no-key" in args:
        monkeypatch.delenv("MESHFORGE_TRIPO_API_KEY")
    argv = [str(photo) if a == "PHOTO" else a for a in args if a not in ("--bad-key", "--no-key")]
    out = tmp_path / "out"
    result = runner.invoke(app, ["generate", *argv, "-o", str(out), "--no-thumbnail"])
    assert result.exit_code == code, result.output
    assert message in result.output.replace("\n", "")
    assert not out.exists()


def test_engines_lists_capabilities_and_options() -> None:
    result = runner.invoke(app, ["engines", "--json"])
    assert result.exit_code == 0, result.output
    engines = {e["name"]: e for e in json.loads(result.stdout)}
    assert set(engines) >= {"silhouette", "tripo", "meshy"}
    assert engines["tripo"]["capabilities"] == {
        "image": True,
        "images": False,
        "text": True,
        "textured": True,
        "pbr": True,
    }
    assert engines["silhouette"]["capabilities"]["text"] is False
    assert engines["meshy"]["options"]["refine"]["default"] is True
    assert engines["tripo"]["options"]["face_limit"]["help"].startswith("The most faces")
    table = runner.invoke(app, ["engines"])
    assert table.exit_code == 0
    row = next(line for line in table.stdout.splitlines() if "tripo 1" in line)
    assert "image, text" in row and "textured, pbr" in row
