"""`meshforge bench photos`: every photo of a folder, its validity, the sheet; masks skipped."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from meshforge.cli.app import app
from synthetic import bottle_mask, disc_mask, paint, save_photo


def test_bench_photos(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    save_photo(photos / "bottle.png", paint(bottle_mask()))
    save_photo(photos / "ball.png", paint(disc_mask(), seed=3))
    save_photo(photos / "ball_mask.png", paint(disc_mask()))  # a mask file: not a photo
    result = CliRunner().invoke(app, ["bench", "photos", str(photos), "-o", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "o" / "photos.json").read_text())
    assert [r["photo"] for r in document["photos"]] == ["ball.png", "bottle.png"]
    assert (document["valid"], document["total"]) == (2, 2)
    assert {r["shape"] for r in document["photos"]} <= {"inflate", "revolve", "box"}
    assert all(r["watertight"] and r["winding_consistent"] for r in document["photos"])
    assert (tmp_path / "o" / "photos_contact_sheet.png").stat().st_size > 10_000
    assert "2 of 2 valid" in result.output
