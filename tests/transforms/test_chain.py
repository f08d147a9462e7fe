"""chain: profile transform lists become steps; unknown names and options are errors."""

from __future__ import annotations

import pytest

from meshforge.errors import InputError
from meshforge.transforms.chain import build_chain, transforms_for
from meshforge.validate.profiles import Profile, builtin_profiles, load_profile


@pytest.mark.parametrize("name", builtin_profiles())
def test_every_builtin_profile_runs(name: str) -> None:
    steps = transforms_for(load_profile(name))
    assert steps and all(callable(s) for s in steps)


def test_names_and_options_come_from_the_profile() -> None:
    shopify = [(s.name, s.options_dict()) for s in transforms_for(load_profile("shopify"))]
    names = [n for n, _ in shopify]
    assert names == ["weld", "repair", "decimate", "unwrap", "bake", "resize", "pivot"]
    assert shopify[3][1]["merge_materials"] and shopify[3][1]["keep_existing"]
    assert shopify[4][1]["normal_map"] and shopify[4][1]["ao"]
    assert shopify[2][1]["target_faces"] == 100_000
    assert [s.name for s in transforms_for(load_profile("print"))] == [
        "weld",
        "solidify",
        "pivot",
    ]


def test_unknown_names_are_named() -> None:
    profile = Profile.model_validate(
        {"name": "x", "formats": ["glb"], "transforms": [{"name": "frobnicate"}, {"name": "zap"}]}
    )
    with pytest.raises(InputError, match=r"profile x: unknown transform.*'frobnicate', 'zap'"):
        transforms_for(profile)


def test_bad_options_are_errors() -> None:
    with pytest.raises(InputError, match=r"pivot.*mode"):
        build_chain([("pivot", {"mode": "center"})])
    with pytest.raises(InputError, match="decimate"):
        build_chain([("decimate", {"target_faces": -1})])


def test_chained_bake_uses_the_asset_before_decimate() -> None:
    from meshes import checker_sphere

    sphere = checker_sphere()
    steps = build_chain(
        [
            ("decimate", {"target_faces": 500}),
            ("unwrap", {"resolution": 128}),
            ("bake", {"size": 128, "ao_directions": 8}),
        ]
    )
    out = sphere.transform(*steps)
    report = out.reports[-1]
    assert report.stage == "bake" and report.details["source"]["faces"] == sphere.face_count
    assert out.face_count <= 500 and out.materials[0].base_color_texture is not None


def test_chained_bake_refuses_moves_before_it() -> None:
    with pytest.raises(InputError, match="pivot"):
        build_chain([("decimate", {"ratio": 0.5}), ("pivot", {}), ("bake", {})])
    with pytest.raises(InputError, match="bake"):
        build_chain([("bake", {"sizes": 3})])
