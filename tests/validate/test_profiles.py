"""Built-in profiles load; user YAML extends and overrides; unknown keys are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshes import box_asset
from meshforge.errors import InputError
from meshforge.validate.profiles import Profile, builtin_profiles, load_profile
from meshforge.validate.report import validate_asset

BUILTINS = ["amazon", "apple-ar", "game", "print", "shopify", "web"]


def test_builtin_names() -> None:
    assert builtin_profiles() == BUILTINS


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_profile_loads(name: str) -> None:
    profile = load_profile(name)
    assert isinstance(profile, Profile)
    assert profile.name == name and profile.description and profile.formats


def test_builtin_figures() -> None:
    shopify, amazon = load_profile("shopify"), load_profile("amazon")
    assert shopify.formats == ("glb", "usdz") and shopify.budgets.file_size_mb == 15
    assert shopify.budgets.materials == 1
    assert shopify.required_maps == ("base_color", "normal", "orm")
    assert amazon.budgets.triangles == 150_000
    assert (amazon.budgets.texture_min_size, amazon.budgets.texture_max_size) == (2048, 4096)
    apple, web, printing = load_profile("apple-ar"), load_profile("web"), load_profile("print")
    assert apple.budgets.triangles == 100_000 and apple.pivot == "base-on-ground"
    assert (web.budgets.vertices, web.budgets.texture_max_size, web.budgets.file_size_mb) == (
        30_000,
        2048,
        10,
    )
    assert printing.units == "mm" and printing.formats == ("stl", "3mf")
    assert printing.level("watertight") == "error" and printing.level("pbr_maps") == "off"


def test_user_profile_extends_a_builtin_and_overrides_one_budget(tmp_path: Path) -> None:
    path = tmp_path / "tight.yaml"
    path.write_text("extends: web\nbudgets:\n  triangles: 10\n")
    profile = load_profile(path)
    web = load_profile("web")
    assert profile.name == "tight" and profile.extends == "web"
    assert profile.budgets.triangles == 10
    assert profile.budgets.vertices == web.budgets.vertices == 30_000
    assert profile.required_maps == web.required_maps
    report = validate_asset(box_asset(0.2, 0.2, 0.2, (0, 0.1, 0), textured=True), profile)
    assert [r.id for r in report.failures] == ["triangles"]
    assert report.result("triangles").measured == 12


def test_a_chain_of_user_profiles_resolves_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("extends: shopify\nbudgets: {file_size_mb: 5}\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: child\n")
    profile = load_profile(tmp_path / "child.yaml")
    assert profile.name == "child" and profile.budgets.file_size_mb == 5
    assert profile.budgets.materials == 1


def test_an_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("extends: web\nbudgets:\n  trianglez: 10\n")
    with pytest.raises(InputError, match=r"budgets\.trianglez: Extra inputs are not permitted"):
        load_profile(path)


def test_unknown_profile_lists_the_builtins() -> None:
    with pytest.raises(InputError) as info:
        load_profile("nonesuch")
    assert info.value.exit_code == 2
    assert "unknown profile 'nonesuch'" in str(info.value)
    assert "amazon, apple-ar, game, print, shopify, web" in str(info.value)


def test_a_profile_that_extends_itself_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("extends: loop.yaml\n")
    with pytest.raises(InputError, match="extends itself"):
        load_profile(path)
