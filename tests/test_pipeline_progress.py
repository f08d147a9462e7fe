"""The pipeline's progress events: every stage reported, overall progress monotone to 1."""

from __future__ import annotations

from pathlib import Path

import meshforge
from meshforge.pipeline import STAGES, ProgressEvent
from synthetic import bottle_mask, paint, save_photo


def test_progress_events(tmp_path: Path) -> None:
    photo = save_photo(tmp_path / "p.png", paint(bottle_mask()))
    events: list[ProgressEvent] = []
    result = meshforge.generate(
        photo, tmp_path / "out", segmenter="color-key", height=0.2, on_progress=events.append
    )
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert {e.stage for e in events} == {name for name, _ in STAGES}
    assert result.report_path.exists()
    assert result.asset.size is not None and result.asset.size.source == "user"
