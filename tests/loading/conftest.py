"""The exporters write opaque maps as JPEG; ``lossless`` makes them write PNG instead."""

from __future__ import annotations

import pytest

from .assets import png


@pytest.fixture
def lossless(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exporters write opaque maps as JPEG; PNG instead, so pixels can be compared exactly."""
    import meshforge.export.glb
    import meshforge.export.usdz

    monkeypatch.setattr(meshforge.export.glb, "encode_texture", png)
    monkeypatch.setattr(meshforge.export.usdz, "encode_texture", png)
