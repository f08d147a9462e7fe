"""Options are declared once and strict; errors say the stage, what was wrong and what to do."""

from __future__ import annotations

import pytest

from meshforge import errors
from meshforge.recipe import OutputSpec, build_recipe


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


def test_error_message_shape_and_exit_codes() -> None:
    error = errors.ImageTooSmallError("the photo is 100 x 90 px", hint="Use at least 128 px.")
    assert str(error) == "load: the photo is 100 x 90 px. Use at least 128 px."
    assert error.exit_code == 2 and error.code == "image-too-small"
    assert errors.NoForegroundError("x").exit_code == 3
    assert errors.ModelNotInstalledError("x").exit_code == 4
    assert errors.EngineError("x").exit_code == 5
    assert errors.TransformError("x", stage="decimate").stage == "decimate"
    assert errors.ExportError("x").exit_code == 7
    assert all(issubclass(getattr(errors, n), errors.MeshforgeError) for n in errors.__all__)
