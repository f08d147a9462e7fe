"""``meshforge generate PHOTO`` (or ``--prompt TEXT``): one photo, or a text prompt through a
remote engine, to a scaled, textured GLB (and more formats)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from meshforge.cli.errors import exit_on_error
from meshforge.engines.base import engine_names
from meshforge.engines.silhouette.options import SilhouetteOptions
from meshforge.errors import RecipeError
from meshforge.recipe import (
    FrameOptions,
    OutputSpec,
    PromptInput,
    SegmentOptions,
    SizeSpec,
    build_recipe,
    field_help,
)

console = Console(stderr=True)


def generate(
    photo: Path | None = typer.Argument(
        None,
        metavar="PHOTO",
        help="The product photo (JPEG, PNG, WebP, TIFF, BMP, HEIC); or give --prompt.",
    ),
    prompt: str | None = typer.Option(None, "--prompt", help=field_help(PromptInput, "prompt")),
    output: Path = typer.Option(
        Path("out"), "--output", "-o", help=field_help(OutputSpec, "directory")
    ),
    name: str | None = typer.Option(None, "--name", help=field_help(OutputSpec, "name")),
    height: float | None = typer.Option(None, "--height", help=field_help(SizeSpec, "height")),
    width: float | None = typer.Option(None, "--width", help=field_help(SizeSpec, "width")),
    depth: float | None = typer.Option(None, "--depth", help=field_help(SizeSpec, "depth")),
    formats: str = typer.Option("glb", "--format", "-f", help=field_help(OutputSpec, "formats")),
    foreground_ratio: float = typer.Option(
        FrameOptions.model_fields["foreground_ratio"].default,
        "--foreground-ratio",
        help=field_help(FrameOptions, "foreground_ratio"),
    ),
    segmenter: str = typer.Option(
        "auto", "--segmenter", help=field_help(SegmentOptions, "segmenter")
    ),
    engine: str = typer.Option(
        "silhouette",
        "--engine",
        help=f"The engine that builds the mesh: {', '.join(engine_names())} "
        "(see `meshforge engines`).",
    ),
    engine_option: list[str] = typer.Option(
        [],
        "--engine-option",
        "-E",
        help="An engine option as KEY=VALUE (repeatable), e.g. -E face_limit=20000; "
        "`meshforge engines` lists each engine's options.",
    ),
    max_faces: int | None = typer.Option(
        None, "--max-faces", help=field_help(SilhouetteOptions, "max_faces")
    ),
    shape: str | None = typer.Option(None, "--shape", help=field_help(SilhouetteOptions, "shape")),
    fov: float | None = typer.Option(
        None, "--fov", help=field_help(SilhouetteOptions, "fov_y_deg")
    ),
    thumbnail: bool = typer.Option(
        True, "--thumbnail/--no-thumbnail", help=field_help(OutputSpec, "thumbnail")
    ),
    turntable: bool = typer.Option(
        False, "--turntable/--no-turntable", help=field_help(OutputSpec, "turntable")
    ),
    profile: str | None = typer.Option(
        None,
        "--profile",
        help="Run this profile's transforms on the result, re-save and validate it "
        "(exit 1 when a required check fails).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Build a textured, real-size 3D asset from one product photo (the built-in engine
    reconstructs it) or from a text prompt (a remote engine generates it: --engine tripo)."""
    engine_options: dict[str, Any] = {}
    if max_faces is not None:
        engine_options["max_faces"] = max_faces
    if fov is not None:
        engine_options["fov_y_deg"] = fov
    if shape is not None:
        engine_options["shape"] = shape
    with exit_on_error():
        from meshforge.pipeline import apply_profile_to_result, run
        from meshforge.validate.profiles import load_profile

        engine_options.update(parse_engine_options(engine_option))
        chosen = load_profile(profile) if profile is not None else None

        recipe = build_recipe(
            {
                "input": {"path": photo, "prompt": prompt},
                "segment": {"segmenter": segmenter},
                "frame": {"foreground_ratio": foreground_ratio},
                "engine": {"name": engine, "options": engine_options},
                "size": {"height": height, "width": width, "depth": depth},
                "output": {
                    "directory": output,
                    "name": name,
                    "formats": formats,
                    "thumbnail": thumbnail,
                    "turntable": turntable,
                },
            }
        )
        if quiet or as_json:
            result = run(recipe)
        else:
            with Progress(
                TextColumn("{task.description:<12}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task("starting", total=1.0)
                result = run(
                    recipe,
                    on_progress=lambda e: bar.update(
                        task, completed=e.fraction, description=e.stage
                    ),
                )
        passed = apply_profile_to_result(result, chosen) if chosen is not None else True
    if as_json:
        typer.echo(json.dumps(result.report, indent=2))
    elif not quiet:
        _summary(result.report, result.report_path)
    if not passed:
        raise typer.Exit(code=1)


def parse_engine_options(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict; the engine's options model converts the values."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise RecipeError(
                f"engine option {pair!r} is not KEY=VALUE",
                stage="engine",
                hint="Write it as -E key=value, e.g. -E face_limit=20000.",
            )
        options[key.strip()] = value
    return options


def _summary(report: dict[str, Any], report_path: Path) -> None:
    out = Console()
    mesh, size = report["mesh"], report["size"]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    source = report["inputs"][0]
    shown = source["path"] if "path" in source else f"prompt {source['text']!r}"
    table.add_row("input", escape(shown))
    table.add_row("engine", f"{report['engine']['name']} {report['engine']['version']}")
    dims = f"{size['width_m']:.3f} x {size['height_m']:.3f} x {size['depth_m']:.3f} m (w x h x d)"
    table.add_row("size", dims + ("" if size["source"] == "user" else "  [yellow](default)[/]"))
    closed = "watertight" if mesh.get("watertight") else "[red]not watertight[/]"
    table.add_row("mesh", f"{mesh['faces']:,} faces, {mesh['vertices']:,} vertices, {closed}")
    stage_times = ", ".join(
        f"{k} {v * 1000:.0f}" for k, v in report["timings"].items() if k != "total"
    )
    table.add_row("time", f"{report['timings']['total']:.2f} s ({stage_times} ms)")
    out.print(table)
    # Paths on lines of their own, never wrapped or shortened, so they can be copied.
    base = report_path.parent
    for kind, files in report["outputs"].items():
        for entry in files:
            out.print(
                f"[bold]{kind:<10}[/] {base / entry['path']}", soft_wrap=True, highlight=False
            )
    out.print(f"[bold]{'report':<10}[/] {report_path}", soft_wrap=True, highlight=False)
    for warning in report["warnings"]:
        out.print(f"[yellow]warning[/] {warning['stage']}: {warning['message']}", highlight=False)
    if "profile" in report:
        for stage in report["profile"]["transforms"]:
            changes = ", ".join(f"{k} {b} -> {a}" for k, (b, a) in stage["changes"].items())
            out.print(f"[bold]{stage['stage']:<10}[/] {changes or 'done'}", highlight=False)
        validation = report["profile"]["validation"]
        failed = [c["id"] for c in validation["checks"] if c["status"] == "FAIL"]
        verdict = "PASSED" if validation["passed"] else f"FAILED: {', '.join(failed)}"
        out.print(f"[bold]{'profile':<10}[/] {validation['profile']} {verdict}", highlight=False)
