"""The contract every engine shares, local or remote, and the registry that finds them.

An engine has a name, a version, declared capabilities and an options model, and turns a
:class:`GenerationRequest` into a raw :class:`~meshforge.asset.Asset` in the canonical frame
(+Y up, front towards +Z; the size is the engine's own, the pipeline scales it afterwards).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, cast

from pydantic import BaseModel, ValidationError

from meshforge.errors import RecipeError
from meshforge.recipe import describe_validation_error

if TYPE_CHECKING:
    from meshforge.asset import Asset, Camera
    from meshforge.image.frame import FramedImage
    from meshforge.transforms.base import StageReport


@dataclass(frozen=True)
class Capabilities:
    """What an engine accepts and what it produces."""

    image: bool = False
    images: bool = False
    text: bool = False
    textured: bool = False
    pbr: bool = False


@dataclass
class GenerationRequest:
    """The engine's input: a framed subject and what is known of the camera that shot it, or
    a text ``prompt`` (then ``image`` is None).

    ``photo_size`` is the original photo's (width, height); the framed image's ``scale`` and
    ``offset`` map photo pixels to framed pixels, so engines can report the camera in the photo.
    """

    image: FramedImage | None = None
    photo_size: tuple[int, int] | None = None
    focal_length_35mm: float | None = None
    camera: Camera | None = None
    prompt: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


ProgressFn = Callable[[float, str], None]


class Engine(Protocol):
    name: ClassVar[str]
    version: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    options_model: ClassVar[type[BaseModel]]
    #: The option that caps the model's faces (a job's ``target_faces`` sets it), or None.
    face_budget_option: ClassVar[str | None]
    options: BaseModel

    def generate(
        self, request: GenerationRequest, report: StageReport, progress: ProgressFn
    ) -> Asset: ...


_ENGINES: dict[str, Callable[[], type[Engine]]] = {}


def register_engine(name: str, loader: Callable[[], type[Engine]]) -> None:
    """Make an engine class available by name (a loader, so heavy imports wait until use)."""
    _ENGINES[name] = loader


def engine_names() -> list[str]:
    _register_builtins()
    return sorted(_ENGINES)


def get_engine_class(name: str) -> type[Engine]:
    _register_builtins()
    try:
        loader = _ENGINES[name]
    except KeyError:
        raise RecipeError(
            f"unknown engine {name!r}",
            stage="engine",
            hint=f"Choose one of: {', '.join(sorted(_ENGINES))}.",
        ) from None
    return loader()


def create_engine(name: str, options: dict[str, Any] | None = None) -> Engine:
    """The named engine with validated options; unknown or invalid options are a RecipeError."""
    cls = get_engine_class(name)
    try:
        parsed = cls.options_model.model_validate(options or {})
    except ValidationError as exc:
        raise RecipeError(
            f"invalid options for engine {name!r}: {describe_validation_error(exc)}",
            stage="engine",
            hint="Unknown keys are not allowed; see `meshforge generate --help`.",
        ) from exc
    return cls(parsed)  # type: ignore[call-arg]


def check_input(engine: Engine, kind: Literal["photo", "prompt"]) -> None:
    """Refuse an input the engine does not declare it takes (before any work is done), naming
    the engines that do take it."""
    capability = "text" if kind == "prompt" else "image"
    if getattr(engine.capabilities, capability):
        return
    able = [n for n in engine_names() if getattr(get_engine_class(n).capabilities, capability)]
    what = "a text prompt" if kind == "prompt" else "a photo"
    raise RecipeError(
        f"engine {engine.name!r} does not take {what}",
        stage="engine",
        hint=f"Choose an engine that does: {', '.join(able) or 'none is installed'} "
        "(see `meshforge engines`).",
    )


# Built-in engines: name -> (module, class). Loaded on first use, so that neither
# ``import meshforge`` nor listing the names imports an engine's dependencies.
_BUILTINS: dict[str, tuple[str, str]] = {
    "silhouette": ("meshforge.engines.silhouette.engine", "SilhouetteEngine"),
    "tripo": ("meshforge.engines.remote.tripo", "TripoEngine"),
    "meshy": ("meshforge.engines.remote.meshy", "MeshyEngine"),
}


def _loader(module: str, attribute: str) -> Callable[[], type[Engine]]:
    def load() -> type[Engine]:
        return cast("type[Engine]", getattr(importlib.import_module(module), attribute))

    return load


def _register_builtins() -> None:
    for name, (module, attribute) in _BUILTINS.items():
        if name not in _ENGINES:
            register_engine(name, _loader(module, attribute))
