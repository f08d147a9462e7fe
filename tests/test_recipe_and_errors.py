"""Options are declared once and strict; errors say the stage, what was wrong and what to do."""

from __future__ import annotations

import hashlib

import pytest

from meshforge import errors
from meshforge.recipe import ImageInput, OutputSpec, PromptInput, build_recipe, prompt_slug


def test_unknown_keys_are_errors() -> None:
    with pytest.raises(errors.RecipeError, match=r"recipe: invalid options: segment.segmentr"):
        build_recipe({"input": {"path": "a.png"}, "segment": {"segmentr": "u2net"}})


def test_size_takes_one_dimension() -> None:
    with pytest.raises(errors.RecipeError, match="give only one of height, width or depth"):
        build_recipe({"input": {"path": "a.png"}, "size": {"height": 1, "width": 2}})
    recipe = build_recipe({"input": {"path": "a.png"}, "size": {"depth": 0.3}})
    assert recipe.size.given == ("depth", 0.3)


def test_formats_from_a_comma_list() -> None:
    assert OutputSpec(formats="glb, STL,glb").formats == ("glb", "stl")  # type: ignore[arg-type]
    with pytest.raises(errors.RecipeError, match=r"output\.formats"):
        build_recipe({"input": {"path": "a.png"}, "output": {"formats": "glb,fbx"}})


def test_foreground_ratio_bounds() -> None:
    with pytest.raises(errors.RecipeError, match=r"frame\.foreground_ratio"):
        build_recipe({"input": {"path": "a.png"}, "frame": {"foreground_ratio": 1.5}})


def test_output_name_defaults_to_the_photo_stem() -> None:
    assert build_recipe({"input": {"path": "x/shoe.jpg"}}).output_name == "shoe"


def test_the_input_is_a_photo_or_a_prompt() -> None:
    assert isinstance(build_recipe({"input": {"path": "a.png"}}).input, ImageInput)
    recipe = build_recipe({"input": {"prompt": "  a red mug  "}})
    assert recipe.input == PromptInput(prompt="a red mug")
    assert build_recipe({"input": {"path": None, "prompt": "a red mug"}}).input == recipe.input
    for given, got in (({}, "neither"), ({"path": "a.png", "prompt": "a mug"}, "path and prompt")):
        with pytest.raises(errors.RecipeError) as caught:
            build_recipe({"input": given})
        assert caught.value.message == (
            "invalid options: input: Value error, give exactly one input, path (a photo) or "
            f"prompt (a text prompt); got {got}"
        )
    with pytest.raises(errors.RecipeError, match="the prompt is blank"):
        build_recipe({"input": {"prompt": "   "}})
    with pytest.raises(errors.RecipeError, match="Extra inputs are not permitted"):
        build_recipe({"input": {"prompt": "a mug", "seed": 3}})


def test_output_name_defaults_to_the_prompts_slug() -> None:
    recipe = build_recipe({"input": {"prompt": "A red Crème brûlée MUG!"}})
    assert recipe.output_name == "a-red-creme-brulee-mug"
    assert build_recipe({**recipe.model_dump(), "output": {"name": "mug"}}).output_name == "mug"
    assert len(prompt_slug("word " * 40)) <= 64 and not prompt_slug("word " * 40).endswith("-")
    digest = hashlib.sha256("白い花瓶".encode()).hexdigest()
    assert prompt_slug("白い花瓶") == "prompt-" + digest[:8]
    OutputSpec(name=prompt_slug("白い花瓶"))  # a valid output name


def test_error_message_shape_and_exit_codes() -> None:
    error = errors.ImageTooSmallError("the photo is 100 x 90 px", hint="Use at least 128 px.")
    assert str(error) == "load: the photo is 100 x 90 px. Use at least 128 px."
    assert error.exit_code == 2 and error.code == "image-too-small"
    assert errors.NoForegroundError("x").exit_code == 3
    assert errors.ModelNotInstalledError("x").exit_code == 4
    assert errors.EngineError("x").exit_code == 5
    provider = errors.ProviderError("x", stage="reconstruct")
    assert isinstance(provider, errors.EngineError) and provider.exit_code == 5
    assert provider.code == "provider"
    assert errors.TransformError("x", stage="decimate").stage == "decimate"
    assert errors.ExportError("x").exit_code == 7
    assert all(issubclass(getattr(errors, n), errors.MeshforgeError) for n in errors.__all__)
