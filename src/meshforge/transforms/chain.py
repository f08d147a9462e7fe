"""Transforms by name: what turns a profile's (or a batch file's) ``transforms`` list into steps.

Each entry names a built-in factory and gives its keyword options::

    transforms:
      - {name: decimate, options: {target_faces: 150000}}
      - {name: pivot, options: {position: bottom-center}}

Unknown names and unknown or invalid options are an InputError that names them. Factories are
imported only when a chain is built, so ``import meshforge`` stays light.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from meshforge.errors import InputError
from meshforge.recipe import describe_validation_error
from meshforge.transforms.base import Transform

if TYPE_CHECKING:
    from meshforge.validate.profiles import Profile

# name -> module under meshforge.transforms holding a factory of the same name.
BUILTIN: tuple[str, ...] = (
    "weld",
    "dedup",
    "repair",
    "decimate",
    "lods",
    "unwrap",
    "bake",
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
    return [build_transform(name, options) for name, options in pairs]


def transforms_for(profile: Profile) -> list[Transform]:
    """The steps a profile's ``transforms`` list names, in order, ready for ``asset.transform``."""
    try:
        return build_chain((spec.name, spec.options) for spec in profile.transforms)
    except InputError as exc:
        raise InputError(
            f"profile {profile.name}: {exc.message}", stage="transforms", hint=exc.hint
        ) from exc
