"""``meshforge validate FILE --profile NAME|PATH``: check a mesh file against a target's rules.

Exit codes: 0 when every required check passes (warnings allowed), 1 when a required check
fails, 2 for bad input (a missing or unreadable file, an unknown or invalid profile); the other
error classes keep their codes from meshforge.errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from meshforge.cli.errors import exit_on_error

VALIDATION_FAILED = 1


def validate(
    file: Path = typer.Argument(..., help="The mesh file to check (GLB, glTF, OBJ, PLY, STL)."),
    profile: str = typer.Option(
        "web",
        "--profile",
        "-p",
        help="A built-in profile (web, shopify, amazon, apple-ar, print, game) or a YAML path.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
) -> None:
    """Check a mesh file against a profile; exit 0 only when every required check passes.

    Exit codes: 0 passed (warnings allowed), 1 a required check failed, 2 bad input (missing or
    unreadable file, unknown or invalid profile).
    """
    with exit_on_error():
        from meshforge.validate.profiles import load_profile
        from meshforge.validate.report import validate_file

        chosen = load_profile(profile)
        report = validate_file(file, chosen)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(report.summary())
    if not report.passed:
        raise typer.Exit(code=VALIDATION_FAILED)
