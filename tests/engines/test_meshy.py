"""The ``meshy`` engine against a fake of Meshy's API: the preview -> refine chain for text, the
image-to-3D task for photos, and Meshy's errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from meshforge.errors import ProviderError, RecipeError
from provider_fakes import FakeProviders, Fault, framed_bottle, run_engine

TEXT = "/meshy/openapi/v2/text-to-3d"
IMAGE = "/meshy/openapi/v1/image-to-3d"


def test_text_preview_then_refine(providers: FakeProviders) -> None:
    run = run_engine(
        "meshy", prompt="a red ceramic mug", art_style="realistic", target_polycount=3000
    )
    calls = [(c.method, c.path) for c in providers.calls]
    preview, refine = "meshy-preview-0", "meshy-refine-1"
    assert calls == [
        ("POST", TEXT),
        *[("GET", f"{TEXT}/{preview}")] * 3,
        ("POST", TEXT),
        *[("GET", f"{TEXT}/{refine}")] * 3,
        ("GET", "/files/model.glb"),  # the refined, textured model
    ]
    first, second = (json.loads(c.body) for c in providers.called("POST", TEXT))
    assert first == {
        "mode": "preview",
        "prompt": "a red ceramic mug",
        "art_style": "realistic",
        "target_polycount": 3000,
    }
    assert second == {"mode": "refine", "preview_task_id": preview}
    assert run.report.details["preview_task_id"] == preview
    assert run.report.details["refine_task_id"] == refine
    assert run.asset.materials[0].base_color_texture is not None
    # The preview fills 0.05..0.4325 of the stage and the refine 0.4325..0.9, never backwards
    # (the fake reports 0, 33 and 100 %).
    fractions = [f for f, _ in run.progress]
    assert fractions == sorted(fractions)
    assert fractions == pytest.approx(
        [0.05, 0.05 + 0.3825 * 0.33, 0.4325, 0.4325, 0.4325 + 0.4675 * 0.33, 0.9, 0.9, 1.0]
    )
    assert [m.split(":")[0] for _, m in run.progress[:6]] == [
        f"meshy preview task {preview}"
    ] * 3 + [f"meshy refine task {refine}"] * 3


def test_text_without_refine_takes_the_preview(providers: FakeProviders) -> None:
    run = run_engine("meshy", refine=False, should_remesh=True)
    assert len(providers.called("POST", TEXT)) == 1
    assert json.loads(providers.called("POST", TEXT)[0].body)["should_remesh"] is True
    assert [c.path for c in providers.calls if c.path.startswith("/files/")] == [
        "/files/preview.glb"
    ]
    assert "refine_task_id" not in run.report.details
    assert run.asset.materials[0].base_color_texture is None  # a preview has no texture
    assert [f for f, _ in run.progress][-3:] == pytest.approx([0.9, 0.9, 1.0])


def test_photo_is_sent_as_a_png_data_uri_of_the_framed_subject(
    providers: FakeProviders,
) -> None:
    framed = framed_bottle()
    run = run_engine("meshy", prompt=None, image=framed, ai_model="meshy-5")
    (received,) = providers.images
    assert received.mode == "RGBA" and received.size == (framed.size, framed.size)
    assert np.array_equal(np.asarray(received), framed.pixels)
    (create,) = providers.called("POST", IMAGE)
    body = json.loads(create.body)
    assert set(body) == {"image_url", "ai_model"} and body["ai_model"] == "meshy-5"
    assert body["image_url"].startswith("data:image/png;base64,")
    assert len(providers.called("GET", f"{IMAGE}/meshy-image-0")) == 3
    assert run.report.details["task_id"] == "meshy-image-0"
    assert run.asset.materials[0].base_color_texture is not None


def test_art_style_with_a_photo_is_refused_before_any_request(
    providers: FakeProviders,
) -> None:
    with pytest.raises(RecipeError, match="art_style applies to text prompts only"):
        run_engine("meshy", prompt=None, image=framed_bottle(), art_style="realistic")
    assert providers.calls == []


def test_a_failed_task_carries_meshys_message(providers: FakeProviders) -> None:
    providers.outcome = "failed"
    providers.failure_message = "The prompt violates the content policy"
    with pytest.raises(ProviderError) as caught:
        run_engine("meshy")
    assert caught.value.message == (
        "the meshy preview task meshy-preview-0 failed (FAILED): "
        "The prompt violates the content policy"
    )
    assert len(providers.called("POST", TEXT)) == 1  # no refine of a failed preview


def test_no_credits_is_named(providers: FakeProviders) -> None:
    providers.faults.append(
        Fault("POST", TEXT, 402, {"message": "Insufficient funds for this request"})
    )
    with pytest.raises(ProviderError) as caught:
        run_engine("meshy")
    assert caught.value.message == (
        "meshy refused the task for lack of credits (Insufficient funds for this request)"
    )
    assert "MESHFORGE_MESHY_API_KEY" in (caught.value.hint or "")


def test_a_bad_key_is_named(providers: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHFORGE_MESHY_API_KEY", "wrong")
    with pytest.raises(ProviderError) as caught:
        run_engine("meshy")
    assert caught.value.message == "meshy refused the API key (HTTP 401) (Invalid API key)"
    assert caught.value.hint == "Check MESHFORGE_MESHY_API_KEY: it must hold a valid meshy API key."
