"""meshforge: product photos in, production-ready 3D assets out.

``import meshforge`` is kept light: the public names below are loaded on first use.

>>> import meshforge
>>> result = meshforge.generate("photo.jpg", output="out", height=0.25)   # doctest: +SKIP
>>> asset = meshforge.load("out/photo.glb").transform(meshforge.transforms.scale(height=0.3))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> (module, attribute or None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "Asset": ("meshforge.asset", "Asset"),
    "Mesh": ("meshforge.asset", "Mesh"),
    "Material": ("meshforge.asset", "Material"),
    "Texture": ("meshforge.asset", "Texture"),
    "Camera": ("meshforge.asset", "Camera"),
    "RealSize": ("meshforge.asset", "RealSize"),
    "Recipe": ("meshforge.recipe", "Recipe"),
    "StageReport": ("meshforge.transforms.base", "StageReport"),
    "Transform": ("meshforge.transforms.base", "Transform"),
    "MeshforgeError": ("meshforge.errors", "MeshforgeError"),
    "generate": ("meshforge.api", "generate"),
    "load": ("meshforge.api", "load"),
    "save": ("meshforge.export.registry", "save"),
    "errors": ("meshforge.errors", None),
    "transforms": ("meshforge.transforms", None),
}

__all__ = [
    "Asset",
    "Camera",
    "Material",
    "Mesh",
    "MeshforgeError",
    "RealSize",
    "Recipe",
    "StageReport",
    "Texture",
    "Transform",
    "__version__",
    "errors",
    "generate",
    "load",
    "save",
    "transforms",
]

if TYPE_CHECKING:
    from meshforge import errors, transforms
    from meshforge.api import generate, load
    from meshforge.asset import Asset, Camera, Material, Mesh, RealSize, Texture
    from meshforge.errors import MeshforgeError
    from meshforge.export.registry import save
    from meshforge.recipe import Recipe
    from meshforge.transforms.base import StageReport, Transform


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'meshforge' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
