"""How the CLI shows an error: one red line on stderr and the error class's exit code."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console

from meshforge.errors import MeshforgeError

T = TypeVar("T")
stderr = Console(stderr=True)


@contextmanager
def exit_on_error() -> Iterator[None]:
    try:
        yield
    except MeshforgeError as error:
        stderr.print(f"[bold red]error[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=error.exit_code) from error


def guarded(function: Callable[[], T]) -> T:
    with exit_on_error():
        return function()
