"""``meshforge convert IN OUT [--profile P]``: read a mesh file and write it in OUT's format.

With a profile, the profile's transforms run first (``--no-transforms`` skips them) and the
written file is validated against it. Exit codes: 0 written (and passed), 1 a required check
failed, 2 bad input (a missing or unreadable file, an unknown profile or output format); the
other error classes keep their codes from meshforge.errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from meshforge.cli.errors import exit_on_error

if TYPE_CHECKING:
    from meshforge.transforms.base import StageReport
    from meshforge.validate.report import ValidationReport

VALIDATION_FAILED = 1
PROFILE_HELP = "A built-in profile (web, shopify, amazon, apple-ar, print, game) or a YAML path."


def check_output_format(path: Path) -> str:
    """OUT's format from its extension; an InputError (exit 2) when no exporter writes it."""
    from meshforge.errors import InputError
    from meshforge.export.registry import exporters

    name = path.suffix.lstrip(".").lower()
    available = exporters()
    if name not in available:
        raise InputError(
            f"cannot write {path.name}: unknown output format {name or '(none)'!r}",
            stage="convert",
            hint=f"End the output name with one of: {', '.join(sorted(available))}.",
        )
    return name


def outcome(
    source: Path,
    written: list[Path],
    reports: list[StageReport],
    validation: ValidationReport | None,
) -> dict[str, Any]:
    """The JSON document convert and optimize print with ``--json``."""
    return {
        "input": str(source),
        "outputs": [str(p) for p in written],
        "transforms": [r.to_dict() for r in reports],
        "validation": validation.to_dict() if validation is not None else None,
    }


def echo_outcome(
    written: list[Path], reports: list[StageReport], validation: ValidationReport | None
) -> None:
    """What each transform changed, the files written, then the validation summary."""
    for report in reports:
        typer.echo(report.summary())
        for warning in report.warnings:
            typer.echo(f"warning {warning.stage}: {warning.message}")
    for path in written:
        typer.echo(f"wrote {path}")
    if validation is not None:
        typer.echo(validation.summary())


def convert(
    source: Path = typer.Argument(..., help="The mesh file to read (GLB, glTF, OBJ, PLY, STL)."),
    target: Path = typer.Argument(..., help="The file to write; its extension sets the format."),
    profile: str | None = typer.Option(None, "--profile", "-p", help=PROFILE_HELP),
    transforms: bool = typer.Option(
        True, "--transforms/--no-transforms", help="Run the profile's transforms before saving."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON on stdout."),
) -> None:
    """Convert a mesh file to OUT's format; with --profile, transform and validate it too.

    Exit codes: 0 written (and passed), 1 a required check failed, 2 bad input.
    """
    with exit_on_error():
        from meshforge.api import load
        from meshforge.export.registry import save
        from meshforge.transforms.chain import apply_profile
        from meshforge.validate.profiles import load_profile
        from meshforge.validate.report import validate_file

        check_output_format(target)
        chosen = load_profile(profile) if profile is not None else None
        asset = load(source)
        reports: list[StageReport] = []
        if chosen is not None and transforms:
            asset, reports = apply_profile(asset, chosen)
        written = save(asset, target)
        validation = validate_file(target, chosen) if chosen is not None else None
    if as_json:
        typer.echo(json.dumps(outcome(source, written, reports, validation), indent=2))
    else:
        echo_outcome(written, reports, validation)
    if validation is not None and not validation.passed:
        raise typer.Exit(code=VALIDATION_FAILED)
