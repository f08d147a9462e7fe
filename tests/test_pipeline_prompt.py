"""A text prompt (and a photo) through a remote engine and the whole pipeline: the provider's
model comes out scaled, pivoted, exported, validated and reported like the built-in engine's."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import trimesh

import meshforge
from meshforge.errors import RecipeError
from meshforge.pipeline import ProgressEvent
from meshforge.validate.profiles import load_profile
from meshforge.validate.report import validate_file
from provider_fakes import BOX_EXTENTS, FakeProviders
from synthetic import bottle_mask, paint, save_photo

PROMPT = "A red ceramic mug, glossy"


@pytest.mark.parametrize("engine", ["tripo", "meshy"])
def test_prompt_to_a_validated_real_size_glb(
    providers: FakeProviders, tmp_path: Path, engine: str
) -> None:
    events: list[ProgressEvent] = []
    result = meshforge.generate(
        prompt=PROMPT,
        output=tmp_path,
        engine=engine,
        height=0.3,
        formats="glb,stl",
        thumbnail=engine == "tripo",  # one engine also renders, the other saves the time
        on_progress=events.append,
    )
    glb = tmp_path / "a-red-ceramic-mug-glossy.glb"
    assert result.outputs["glb"] == [glb]
    assert (tmp_path / "a-red-ceramic-mug-glossy.stl").is_file()
    assert (tmp_path / "a-red-ceramic-mug-glossy.png").is_file() == (engine == "tripo")

    # The provider's 0.4 x 1.0 x 0.6 box, scaled to 0.3 m tall, standing centred on y = 0.
    mesh = trimesh.load(glb, force="mesh")
    low, high = mesh.bounds
    expected = np.array(BOX_EXTENTS) * 0.3 / BOX_EXTENTS[1]
    assert high - low == pytest.approx(expected, abs=1e-6)
    assert low[1] == pytest.approx(0.0, abs=1e-9)
    assert (low + high)[[0, 2]] == pytest.approx([0.0, 0.0], abs=1e-9)
    validation = validate_file(glb, load_profile("web"))
    for check in ("watertight", "manifold", "winding", "gltf_validator", "pivot"):
        assert validation.result(check).status == "PASS", validation.summary()

    report = result.report
    assert report["engine"]["name"] == engine
    data = PROMPT.encode()
    assert report["inputs"] == [
        {
            "kind": "prompt",
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "text": PROMPT,
        }
    ]
    assert report["options"]["input"] == {"prompt": PROMPT}
    assert report["size"]["source"] == "user" and report["mesh"]["watertight"] is True
    stages = [s["stage"] for s in report["stages"]]
    assert stages[:4] == ["reconstruct", "scale", "pivot", "export"]
    assert stages[4:] == (["render"] if engine == "tripo" else [])

    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions)
    assert {e.stage for e in events} == set(stages)
    if engine == "tripo":
        assert fractions[-1] == 1.0  # the photo's stages are skipped, not left unfilled


@pytest.mark.parametrize("engine", ["tripo", "meshy"])
def test_photo_through_a_provider_sends_the_framed_subject(
    providers: FakeProviders, tmp_path: Path, engine: str
) -> None:
    mask = bottle_mask(320)
    photo = save_photo(tmp_path / "bottle.png", paint(mask), alpha=mask)
    result = meshforge.generate(photo, tmp_path / "out", engine=engine, height=0.2, thumbnail=False)
    (received,) = providers.images
    assert received.mode == "RGBA" and received.size == (512, 512)
    alpha = np.asarray(received)[..., 3] > 127
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    # Framed: the subject's longer side fills 0.85 of the square, centred.
    tall = rows[-1] + 1 - rows[0]
    assert tall == pytest.approx(0.85 * 512, abs=3)
    assert (rows[0] + rows[-1] + 1) / 2 == pytest.approx(256, abs=2)
    assert (cols[0] + cols[-1] + 1) / 2 == pytest.approx(256, abs=2)
    report = result.report
    assert report["inputs"][0]["kind"] == "photo" and report["engine"]["name"] == engine
    assert [s["stage"] for s in report["stages"]][:5] == [
        "load",
        "segment",
        "check",
        "frame",
        "reconstruct",
    ]
    assert result.asset.extents()[1] == pytest.approx(0.2)
    assert (tmp_path / "out" / "bottle.glb").is_file()


def test_a_prompt_to_the_photo_engine_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(RecipeError) as caught:
        meshforge.generate(prompt=PROMPT, output=tmp_path / "out")
    assert str(caught.value) == (
        "engine: engine 'silhouette' does not take a text prompt. Choose an engine that does: "
        "meshy, tripo (see `meshforge engines`)."
    )
    assert caught.value.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_a_missing_key_loses_no_earlier_output(
    providers: FakeProviders, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = meshforge.generate(prompt=PROMPT, output=tmp_path, engine="tripo", thumbnail=False)
    before = first.outputs["glb"][0].read_bytes()
    monkeypatch.delenv("MESHFORGE_TRIPO_API_KEY")
    with pytest.raises(meshforge.errors.ProviderError, match="MESHFORGE_TRIPO_API_KEY"):
        meshforge.generate(prompt=PROMPT, output=tmp_path, engine="tripo", thumbnail=False)
    assert first.outputs["glb"][0].read_bytes() == before
    assert first.report["size"]["source"] == "default"


def test_a_photo_to_an_engine_without_image_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meshforge.engines import base
    from meshforge.engines.remote.tripo import TripoEngine

    class TextOnly(TripoEngine):
        name = "text-only"
        capabilities = base.Capabilities(text=True)

    monkeypatch.setitem(base._ENGINES, "text-only", lambda: TextOnly)
    # The photo does not exist: the refusal comes before anything tries to load it.
    with pytest.raises(RecipeError) as caught:
        meshforge.generate(tmp_path / "missing.png", tmp_path / "out", engine="text-only")
    assert caught.value.message == "engine 'text-only' does not take a photo"
    assert caught.value.hint == (
        "Choose an engine that does: meshy, silhouette, tripo (see `meshforge engines`)."
    )
    assert not (tmp_path / "out").exists()
