"""``meshforge render FILE --preset thumbnail|turntable|sheet|studio -o DIR``.

Renders any mesh file meshforge reads with the OpenGL renderer (headless EGL; a GPU where there
is one). Exit codes: 0 written, 2 bad input (a missing file, an unknown preset or format),
4 no OpenGL (the message names the packages to install).
"""

from __future__ import annotations

from pathlib import Path

import typer

from meshforge.cli.errors import exit_on_error

PRESET_HELP = (
    "thumbnail (one 3/4 view), turntable (frames around +Y as animated WebP, GIF and MP4),"
    " sheet (eight views in a grid), studio (a hero shot at --width x --height)."
)


def _background(value: str) -> tuple[int, int, int] | None:
    from meshforge.errors import InputError

    text = value.strip().lower()
    if text in ("transparent", "none"):
        return None
    if text == "white":
        return (255, 255, 255)
    hex_digits = text.lstrip("#")
    if len(hex_digits) == 6:
        try:
            r, g, b = (int(hex_digits[i : i + 2], 16) for i in (0, 2, 4))
        except ValueError:
            pass
        else:
            return (r, g, b)
    raise InputError(
        f"unknown background {value!r}",
        stage="render",
        hint="Use white, transparent or a colour as #rrggbb.",
    )


def render(
    source: Path = typer.Argument(
        ..., help="The mesh file to render (GLB, glTF, OBJ, PLY, STL, USDZ)."
    ),
    preset: str = typer.Option("thumbnail", "--preset", help=PRESET_HELP),
    out_dir: Path = typer.Option(Path("renders"), "--output", "-o", help="Output directory."),
    name: str | None = typer.Option(
        None, "--name", help="Base name of the files (default: FILE's)."
    ),
    size: int = typer.Option(512, "--size", min=16, max=8192, help="Side of square images (px)."),
    width: int | None = typer.Option(None, "--width", min=16, max=8192, help="studio: width (px)."),
    height: int | None = typer.Option(
        None, "--height", min=16, max=8192, help="studio: height (px)."
    ),
    azimuth: float = typer.Option(30.0, "--azimuth", help="Degrees around +Y from the front (+Z)."),
    elevation: float = typer.Option(
        20.0, "--elevation", min=-89.0, max=89.0, help="Degrees above."
    ),
    frames: int = typer.Option(36, "--frames", min=1, max=720, help="turntable: number of frames."),
    fps: float = typer.Option(
        12.0, "--fps", min=1.0, max=120.0, help="turntable: frames per second."
    ),
    background: str = typer.Option("white", "--background", help="white, transparent or #rrggbb."),
    shadow: float = typer.Option(
        0.5, "--shadow", min=0.0, max=1.0, help="Contact shadow strength (0: none)."
    ),
    lights: str = typer.Option(
        "studio",
        "--lights",
        help="Light rig: studio, or protocol (the benchmark's Lambert lights).",
    ),
    supersample: int = typer.Option(
        1, "--supersample", min=1, max=4, help="Draw N x N pixels per output pixel."
    ),
    formats: str | None = typer.Option(
        None, "--formats", help="Comma-separated: png, webp (images); webp, gif, mp4 (turntable)."
    ),
) -> None:
    """Render a thumbnail, a turntable, a contact sheet or a studio shot of a mesh file."""
    with exit_on_error():
        from meshforge.api import load
        from meshforge.errors import InputError
        from meshforge.render.lights import LIGHT_RIGS
        from meshforge.render.presets import PRESETS, RenderOptions, render_preset

        if preset not in PRESETS:
            raise InputError(
                f"unknown preset {preset!r}",
                stage="render",
                hint=f"Use one of: {', '.join(PRESETS)}.",
            )
        if lights not in LIGHT_RIGS:
            raise InputError(
                f"unknown light rig {lights!r}",
                stage="render",
                hint=f"Use one of: {', '.join(sorted(LIGHT_RIGS))}.",
            )
        chosen = (
            tuple(f.strip().lower() for f in formats.split(",") if f.strip()) if formats else ()
        )
        allowed = ("webp", "gif", "mp4") if preset == "turntable" else ("png", "webp")
        bad = [f for f in chosen if f not in allowed]
        if bad:
            raise InputError(
                f"format {bad[0]!r} is not available for the {preset} preset",
                stage="render",
                hint=f"Use: {', '.join(allowed)}.",
            )
        options = RenderOptions(
            size=size,
            width=width,
            height=height,
            azimuth_deg=azimuth,
            elevation_deg=elevation,
            frames=frames,
            fps=fps,
            background=_background(background),
            shadow=shadow,
            lights=lights,
            supersample=supersample,
            formats=chosen,
        )
        asset = load(source)
        written = render_preset(asset, preset, out_dir, name or source.stem, options)
    for path in written:
        typer.echo(f"wrote {path}")
