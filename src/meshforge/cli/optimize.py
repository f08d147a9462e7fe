"""``meshforge optimize IN -o OUT --profile P``: bring a mesh file to a target's budgets.

Runs the profile's transforms (weld, repair, decimate to its budget, pivot ...), writes OUT,
validates it against the profile and prints what each transform changed. Exit codes: 0 written
and passed, 1 a required check failed, 2 bad input (a missing or unreadable file, an unknown
profile or output format); the other error classes keep their codes from meshforge.errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from meshforge.cli.convert import (
    PROFILE_HELP,
    VALIDATION_FAILED,
    check_output_format,
    echo_outcome,
    outcome,
)
from meshforge.cli.errors import exit_on_error


def optimize(
    source: Path = typer.Argument(..., help="The mesh file to read (GLB, glTF, OBJ, PLY, STL)."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="The file to write; its extension sets the format."
    ),
    profile: str = typer.Option(..., "--profile", "-p", help=PROFILE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON on stdout."),
) -> None:
    """Run a profile's transforms on a mesh file, save it and validate it against the profile.

    Exit codes: 0 written and passed, 1 a required check failed, 2 bad input.
    """
    with exit_on_error():
        from meshforge.api import load
        from meshforge.export.registry import save
        from meshforge.transforms.chain import apply_profile
        from meshforge.validate.profiles import load_profile
        from meshforge.validate.report import validate_file

        check_output_format(output)
        chosen = load_profile(profile)
        asset, reports = apply_profile(load(source), chosen)
        written = save(asset, output)
        validation = validate_file(output, chosen)
    if as_json:
        typer.echo(json.dumps(outcome(source, written, reports, validation), indent=2))
    else:
        echo_outcome(written, reports, validation)
    if not validation.passed:
        raise typer.Exit(code=VALIDATION_FAILED)
