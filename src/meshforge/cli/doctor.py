"""``meshforge doctor``: what is installed and which optional parts work on this machine."""

from __future__ import annotations

import importlib
import platform
import sys
from importlib import metadata

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from meshforge import __version__

FBX_NOTE = (
    "FBX: not supported. The only maintained registry package that writes FBX is Blender's "
    "`bpy` (hundreds of MB, tied to one Python version); export GLB, glTF or USDZ instead."
)

# (import name, distribution, what it enables, extra that installs it)
PARTS = [
    ("numpy", "numpy", "core", None),
    ("PIL", "pillow", "image input", None),
    ("cv2", "opencv-python-headless", "color-key segmenter, framing", None),
    ("onnxruntime", "onnxruntime", "u2net / u2netp segmenters", None),
    ("triangle", "triangle", "silhouette engine", None),
    ("trimesh", "trimesh", "mesh import", None),
    ("moderngl", "moderngl", "OpenGL renderer (thumbnails, turntables, studio shots)", None),
    ("imageio_ffmpeg", "imageio-ffmpeg", "MP4 turntables", "video"),
    ("pillow_heif", "pillow-heif", "HEIC / AVIF photos", "heif"),
    ("pxr", "usd-core", "USDZ export", "usdz"),
    ("httpx", "httpx", "remote engines (tripo, meshy)", "remote"),
    ("fastapi", "fastapi", "REST service", "service"),
    ("celery", "celery", "distributed workers", "distributed"),
    ("sqlalchemy", "sqlalchemy", "PostgreSQL catalog", "postgres"),
    ("s3fs", "s3fs", "S3 storage", "s3"),
]


def _opengl() -> tuple[bool, str, str]:
    """Whether a headless OpenGL context can be made, its status cell and what draws."""
    from meshforge.errors import DependencyError

    try:
        from meshforge.render.gl import renderer_name

        return True, "[green]ok[/]", f"renders with {renderer_name()}"
    except DependencyError as error:
        return False, "[red]missing[/]", escape(str(error))


def doctor() -> None:
    """Report the Python, the packages and models found, and what each enables."""
    from meshforge.models import MODELS, is_installed, model_path
    from meshforge.settings import get_settings

    console = Console()
    console.print(
        f"meshforge {__version__} on Python {platform.python_version()} "
        f"({sys.platform}), MESHFORGE_HOME={get_settings().home}",
        highlight=False,
    )
    table = Table("part", "status", "enables")
    problems = 0
    for module, dist, enables, extra in PARTS:
        try:
            importlib.import_module(module)
            status = f"[green]ok[/] {metadata.version(dist)}"
        except Exception as exc:  # any import failure means the part is unusable here
            hint = f"pip install 'meshforge[{extra}]'" if extra else f"pip install {dist}"
            # escape: "[service]" in the hint would otherwise be read as rich markup.
            status = f"[yellow]missing[/] ({type(exc).__name__}; {escape(hint)})"
            problems += extra is None
        table.add_row(dist, status, enables)
    for name in sorted(MODELS):
        ok = is_installed(name)
        status = "[green]ok[/]" if ok else "[yellow]missing[/] (meshforge models install)"
        table.add_row(f"model {name}", status, str(model_path(name)))
    works, status, detail = _opengl()
    problems += not works
    table.add_row("OpenGL (EGL)", status, detail)
    console.print(table)
    console.print(escape(FBX_NOTE), highlight=False)
    if problems:
        raise typer.Exit(code=1)
