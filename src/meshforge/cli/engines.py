"""``meshforge engines``: every engine, what it takes and makes, and its options."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from meshforge.cli.errors import exit_on_error

INPUTS = ("image", "images", "text")
OUTPUTS = ("textured", "pbr")


def describe_engines() -> list[dict[str, Any]]:
    """Each registered engine: name, version, capabilities and options (default, help)."""
    from meshforge.engines.base import engine_names, get_engine_class

    described = []
    for name in engine_names():
        cls = get_engine_class(name)
        options = {
            key: {"default": info.get_default(call_default_factory=True), "help": info.description}
            for key, info in cls.options_model.model_fields.items()
        }
        described.append(
            {
                "name": name,
                "version": cls.version,
                "capabilities": asdict(cls.capabilities),
                "options": options,
            }
        )
    return described


def engines(
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON on stdout."),
) -> None:
    """List the engines: the inputs each takes (image, images, text), whether its models are
    textured and PBR, and its options (pass them as -E KEY=VALUE to `meshforge generate`)."""
    with exit_on_error():
        described = describe_engines()
    if as_json:
        typer.echo(json.dumps(described, indent=2, default=str))
        return
    table = Table("engine", "takes", "makes", "options (default)")
    for engine in described:
        caps = engine["capabilities"]
        takes = ", ".join(k for k in INPUTS if caps[k])
        makes = ", ".join(k for k in OUTPUTS if caps[k]) or "untextured"
        options = "\n".join(f"{k} ({v['default']})" for k, v in engine["options"].items())
        table.add_row(f"{engine['name']} {engine['version']}", takes, makes, escape(options))
    Console().print(table)
