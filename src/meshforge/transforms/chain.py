"""Transforms by name: what turns a profile's (or a batch file's) ``transforms`` list into steps.

Each entry names a built-in factory and gives its keyword options::

    transforms:
      - {name: decimate, options: {target_faces: 150000}}
      - {name: pivot, options: {position: bottom-center}}

Unknown names and unknown or invalid options are an InputError that names them. Factories are
imported only when a chain is built, so ``import meshforge`` stays light.

``bake`` needs a source asset, which a list of names cannot give: in a chain it bakes from the
asset as it entered the first step before it that loses the look (``decimate``, ``lods``,
``unwrap`` or ``solidify``: they reduce the geometry or drop the textures), else as it entered
the bake itself. That step's input is recorded when the chain runs; steps that move the asset
(``scale``, ``orient``, ``pivot``) between the two would put source and target in different
frames, so they are an error there: place them after the bake.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from meshforge.errors import InputError
from meshforge.recipe import describe_validation_error
from meshforge.transforms.base import Context, Transform

if TYPE_CHECKING:
    from meshforge.asset import Asset
    from meshforge.transforms.base import StageReport

if TYPE_CHECKING:
    from meshforge.validate.profiles import Profile

LOOK_LOSING = frozenset({"decimate", "remesh", "lods", "unwrap", "solidify"})
MOVING = frozenset({"scale", "orient", "pivot"})

# name -> module under meshforge.transforms holding a factory of the same name.
BUILTIN: tuple[str, ...] = (
    "weld",
    "dedup",
    "repair",
    "decimate",
    "remesh",
    "lods",
    "unwrap",
    "bake",
    "resize",
    "scale",
    "orient",
    "pivot",
    "solidify",
)


def available_transforms() -> list[str]:
    """The names a chain may use (the built-ins whose module is installed)."""
    return [name for name in BUILTIN if importlib.util.find_spec(f"meshforge.transforms.{name}")]


def factory(name: str) -> Callable[..., Transform]:
    """The factory of a built-in transform by name."""
    if name not in available_transforms():
        raise InputError(
            f"unknown transform {name!r}",
            stage="transforms",
            hint=f"Use one of: {', '.join(available_transforms())}.",
        )
    module = importlib.import_module(f"meshforge.transforms.{name}")
    made: Callable[..., Transform] = getattr(module, name)
    return made


def build_transform(name: str, options: Mapping[str, Any] | None = None) -> Transform:
    """One step from its name and options, checked as its factory checks them."""
    make = factory(name)
    try:
        return make(**dict(options or {}))
    except TypeError as exc:
        raise InputError(
            f"transform {name}: {exc}".replace(f"{name}() ", ""),
            stage="transforms",
            hint=f"Check the options given to {name}; unknown options are not allowed.",
        ) from exc
    except ValidationError as exc:
        raise InputError(
            f"transform {name}: {describe_validation_error(exc)}",
            stage="transforms",
            hint=f"Check the options given to {name}.",
        ) from exc


def build_chain(specs: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Transform]:
    """Steps from (name, options) pairs; every unknown name is reported at once."""
    pairs = list(specs)
    known = set(available_transforms())
    unknown = [name for name, _ in pairs if name not in known]
    if unknown:
        raise InputError(
            f"unknown transform(s): {', '.join(repr(n) for n in unknown)}",
            stage="transforms",
            hint=f"Use one of: {', '.join(sorted(known))}.",
        )
    steps: list[Transform] = []
    for index, (name, options) in enumerate(pairs):
        if name == "bake" and "source" not in options:
            steps.append(_chained_bake(steps, [n for n, _ in pairs[:index]], options))
        else:
            steps.append(build_transform(name, options))
    return steps


class _Recorded:
    """The asset one step of a chain received, kept for a later ``bake``."""

    def __init__(self) -> None:
        self.asset: Asset | None = None

    def wrap(self, step: Transform) -> Transform:
        def record(asset: Asset, ctx: Context) -> Asset:
            self.asset = asset
            return step(asset, ctx)

        return dataclasses.replace(step, function=record)


def _chained_bake(
    steps: list[Transform], before: list[str], options: Mapping[str, Any]
) -> Transform:
    """A bake whose source is recorded from an earlier step of the chain (module docstring);
    ``steps`` (those before it) gets the recording step wrapped in place."""
    from meshforge.transforms.bake import BakeOptions, bake_asset

    try:
        checked = BakeOptions(**dict(options))
    except ValidationError as exc:
        raise InputError(
            f"transform bake: {describe_validation_error(exc)}",
            stage="transforms",
            hint="Check the options given to bake.",
        ) from exc
    at = next((i for i, n in enumerate(before) if n in LOOK_LOSING), len(before))
    moving = sorted({n for n in before[at:] if n in MOVING})
    if moving:
        raise InputError(
            f"bake bakes from the asset before {before[at]}, but {', '.join(moving)} moves it "
            "in between",
            stage="transforms",
            hint="Place scale, orient and pivot after bake.",
        )
    recorded = _Recorded()
    bake_step = Transform(
        name="bake",
        function=lambda asset, ctx: bake_asset(
            asset, ctx, asset if recorded.asset is None else recorded.asset, checked
        ),
        options=checked,
    )
    if at < len(steps):
        steps[at] = recorded.wrap(steps[at])
    return bake_step


def transforms_for(profile: Profile) -> list[Transform]:
    """The steps a profile's ``transforms`` list names, in order, ready for ``asset.transform``."""
    try:
        return build_chain((spec.name, spec.options) for spec in profile.transforms)
    except InputError as exc:
        raise InputError(
            f"profile {profile.name}: {exc.message}", stage="transforms", hint=exc.hint
        ) from exc


def apply_profile(asset: Asset, profile: Profile) -> tuple[Asset, list[StageReport]]:
    """Run the profile's transforms; the result and the reports they added."""
    before = len(asset.reports)
    result = asset.transform(*transforms_for(profile))
    return result, result.reports[before:]
