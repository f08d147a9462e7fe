"""The ``meshforge`` command: a Typer app whose commands live one per module."""

from __future__ import annotations

import sys

import typer

from meshforge import __version__
from meshforge.cli import (
    bench,
    convert,
    doctor,
    engines,
    generate,
    keys,
    models,
    optimize,
    render,
    serve,
    validate,
)

app = typer.Typer(
    name="meshforge",
    help="Product photos in, production-ready 3D assets out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("generate")(generate.generate)
app.command("engines")(engines.engines)
app.command("doctor")(doctor.doctor)
app.command("validate")(validate.validate)
app.command("convert")(convert.convert)
app.command("optimize")(optimize.optimize)
app.command("render")(render.render)
app.command("serve")(serve.serve)
app.command("worker")(serve.worker)
app.add_typer(models.app, name="models")
app.add_typer(keys.app, name="keys")
app.add_typer(bench.app, name="bench")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"meshforge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Product photos in, production-ready 3D assets out."""


def main() -> None:
    sys.exit(app())
