"""The library's front door: ``generate`` a photo (or, with a remote engine, a text prompt) into
files, ``load`` a mesh file as an Asset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from meshforge.asset import Asset
from meshforge.pipeline import GenerateResult, ProgressListener, run
from meshforge.recipe import build_recipe


def generate(
    photo: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] = "out",
    *,
    prompt: str | None = None,
    height: float | None = None,
    width: float | None = None,
    depth: float | None = None,
    formats: tuple[str, ...] | str = ("glb",),
    segmenter: str = "auto",
    foreground_ratio: float = 0.85,
    engine: str = "silhouette",
    engine_options: dict[str, Any] | None = None,
    name: str | None = None,
    thumbnail: bool = True,
    on_progress: ProgressListener | None = None,
) -> GenerateResult:
    """Photo (or prompt) in, files out: NAME.glb (and other formats), NAME.png and
    NAME.report.json. Give exactly one of ``photo`` and ``prompt``; a prompt needs an engine
    that takes text (``engine="tripo"`` or ``"meshy"``)."""
    recipe = build_recipe(
        {
            "input": {"path": None if photo is None else Path(photo), "prompt": prompt},
            "segment": {"segmenter": segmenter},
            "frame": {"foreground_ratio": foreground_ratio},
            "engine": {"name": engine, "options": engine_options or {}},
            "size": {"height": height, "width": width, "depth": depth},
            "output": {
                "directory": Path(output),
                "name": name,
                "formats": formats,
                "thumbnail": thumbnail,
            },
        }
    )
    return run(recipe, on_progress=on_progress)


def load(path: str | os.PathLike[str]) -> Asset:
    """Read GLB/glTF/OBJ/PLY/STL/USD/USDZ into an Asset (node transforms applied; normals, PBR
    textures and factors, alpha mode and double-sidedness kept; see meshforge.loading)."""
    from meshforge.loading import load_asset

    return load_asset(path)
