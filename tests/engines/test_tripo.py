"""The ``tripo`` engine against a fake of Tripo's OpenAPI v2: the requests it sends, the model it
takes, and Tripo's own ways of failing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from meshforge.errors import ProviderError, RecipeError
from provider_fakes import FakeProviders, Fault, framed_bottle, run_engine


def test_text_task_sends_the_prompt_and_options_and_takes_the_pbr_model(
    providers: FakeProviders,
) -> None:
    run = run_engine(
        "tripo",
        prompt="a red ceramic mug",
        face_limit=5000,
        negative_prompt="a handle",
        model_version="v9",
        texture=False,
    )
    (create,) = providers.called("POST", "/tripo/task")
    assert json.loads(create.body) == {
        "type": "text_to_model",
        "prompt": "a red ceramic mug",
        "negative_prompt": "a handle",
        "texture": False,
        "pbr": True,
        "model_version": "v9",
        "face_limit": 5000,
    }
    # pbr_model is the textured box; model (the untextured one) was not taken.
    assert [c.path for c in providers.calls if c.path.startswith("/files/")] == ["/files/model.glb"]
    assert run.report.details["task_id"] == "tripo-text_to_model-0"
    assert run.report.details["model_kind"] == "pbr_model"
    assert run.asset.materials[0].base_color_texture is not None
    assert run.asset.provenance.engine == "tripo" and run.asset.provenance.engine_version == "1"
    assert run.asset.provenance.engine_options["face_limit"] == 5000
    assert run.asset.extents() == pytest.approx([0.4, 1.0, 0.6])


@pytest.mark.parametrize(
    ("output", "taken"),
    [
        ({"base_model": "preview.glb", "model": "model.glb"}, "model"),
        ({"base_model": "preview.glb", "rendered_image": "x"}, "base_model"),
    ],
)
def test_model_then_base_model_when_there_is_no_pbr_model(
    providers: FakeProviders, output: dict[str, str], taken: str
) -> None:
    providers.tripo_output = {k: providers.url(f"/files/{v}") for k, v in output.items()}
    run = run_engine("tripo")
    assert run.report.details["model_kind"] == taken
    textured = run.asset.materials[0].base_color_texture is not None
    assert textured == (output[taken] == "model.glb")


def test_photo_is_uploaded_as_the_framed_subjects_png(providers: FakeProviders) -> None:
    framed = framed_bottle()
    run_engine("tripo", prompt=None, image=framed, pbr=False)
    (upload,) = providers.called("POST", "/tripo/upload")
    assert upload.headers["content-type"].startswith("multipart/form-data")
    (received,) = providers.images
    assert received.mode == "RGBA" and received.size == (framed.size, framed.size)
    assert np.array_equal(np.asarray(received), framed.pixels)  # PNG is lossless
    (create,) = providers.called("POST", "/tripo/task")
    assert json.loads(create.body) == {
        "type": "image_to_model",
        "file": {"type": "png", "file_token": "token-1"},
        "texture": True,
        "pbr": False,
    }


def test_negative_prompt_with_a_photo_is_refused_before_any_request(
    providers: FakeProviders,
) -> None:
    with pytest.raises(RecipeError, match="negative_prompt applies to text prompts only"):
        run_engine("tripo", prompt=None, image=framed_bottle(), negative_prompt="a handle")
    assert providers.calls == []


@pytest.mark.parametrize("status", ["failed", "banned", "expired", "cancelled", "unknown"])
def test_a_task_that_ended_badly_is_an_error(providers: FakeProviders, status: str) -> None:
    providers.outcome = status
    with pytest.raises(ProviderError) as caught:
        run_engine("tripo")
    assert caught.value.message == (
        f"the tripo task tripo-text_to_model-0 failed ({status}): the provider gave no reason"
    )
    assert not [c for c in providers.calls if c.path.startswith("/files/")]


def test_a_success_without_a_model_url_is_an_error(providers: FakeProviders) -> None:
    providers.tripo_output = {"rendered_image": providers.url("/files/render.webp")}
    with pytest.raises(ProviderError) as caught:
        run_engine("tripo")
    assert caught.value.message == (
        "the tripo task tripo-text_to_model-0 succeeded but names no model URL (its output "
        "has: rendered_image)"
    )


@pytest.mark.parametrize(
    ("status", "answer", "message"),
    [
        (
            200,
            {"code": 2002, "message": "Unsupported task type", "suggestion": "Check the docs"},
            "tripo refused the request with an error "
            "(code 2002: Unsupported task type; Check the docs)",
        ),
        (
            403,
            {"code": 2010, "message": "You don't have enough credit to create this task"},
            "tripo refused the task for lack of credits "
            "(You don't have enough credit to create this task)",
        ),
        (
            402,
            {"code": 2010, "message": "Payment required"},
            "tripo refused the task for lack of credits (Payment required)",
        ),
    ],
    ids=["non-zero-code", "credits-403", "credits-402"],
)
def test_tripo_refusals_carry_its_message(
    providers: FakeProviders, status: int, answer: dict[str, object], message: str
) -> None:
    providers.faults.append(Fault("POST", "/tripo/task", status, answer))
    with pytest.raises(ProviderError) as caught:
        run_engine("tripo")
    assert caught.value.message == message
    assert len(providers.called("POST", "/tripo/task")) == 1  # a refusal is not retried
    if "credits" in message:
        assert "MESHFORGE_TRIPO_API_KEY" in (caught.value.hint or "")
