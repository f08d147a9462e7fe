"""``meshforge bench quality DIR``: score the engine against ground-truth assets."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from meshforge.cli.errors import exit_on_error

app = typer.Typer(help="Benchmarks: quality against ground truth.", no_args_is_help=True)


@app.command("quality")
def quality(
    root: Path = typer.Argument(..., help="A folder of asset folders (gt.glb, input.png, ...)."),
    out: Path = typer.Option(Path("bench-quality"), "--out", "-o", help="Where results go."),
    only: list[str] = typer.Option(None, "--only", help="Score only these assets (repeatable)."),
    engine_option: list[str] = typer.Option(
        None, "--engine-option", "-E", help="An engine option as KEY=VALUE (JSON value)."
    ),
) -> None:
    """Run the engine on every asset's input photo and score it with the protocol's metrics:
    F-score, Chamfer L1, volume IoU, silhouette IoUs and PSNR, per asset, category and overall."""
    from meshforge.evaluate.suite import run_suite

    options = {}
    for item in engine_option or []:
        key, _, value = item.partition("=")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    console = Console(stderr=True)
    if not root.is_dir():
        console.print(f"[bold red]error[/] bench: {root} is not a folder")
        raise typer.Exit(code=2)

    def progress(result: object) -> None:
        name = getattr(result, "name", "")
        error = getattr(result, "error", None)
        f005 = getattr(result, "metric", lambda *_: None)("fscore@0.05")
        status = f"[red]failed[/] {error}" if error else f"F@0.05 {f005:.3f}"
        console.print(f"{name:<32} {status}", highlight=False)

    with exit_on_error():
        document = run_suite(
            root, out, only=only or None, engine_options=options, on_asset=progress
        )
    overall = document["summary"]["aligned"]["overall"]
    Console().print_json(json.dumps(overall))
    Console().print(
        f"results: {out / 'results.json'}, {out / 'summary.md'}, {out / 'contact_sheet.png'}",
        soft_wrap=True,
        highlight=False,
    )


@app.command("photos")
def photos(
    root: Path = typer.Argument(..., help="A folder of photos (NAME_mask.png files are skipped)."),
    out: Path = typer.Option(Path("bench-photos"), "--out", "-o", help="Where results go."),
) -> None:
    """Generate an asset from every photo and check each is valid (closed, wound, UV-mapped)."""
    from meshforge.evaluate.photos import run_photos

    with exit_on_error():
        document = run_photos(root, out)
    console = Console()
    for row in document["photos"]:
        status = row.get("error") or ("valid" if row["valid"] else "[red]invalid[/]")
        console.print(f"{row['photo']:<40} {status}", highlight=False)
    console.print(
        f"{document['valid']} of {document['total']} valid; "
        f"{out / 'photos.json'}, {out / 'photos_contact_sheet.png'}",
        highlight=False,
    )
    if document["valid"] != document["total"]:
        raise typer.Exit(code=1)
