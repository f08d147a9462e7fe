"""``meshforge keys create|list|revoke``: the service's API keys, in its catalog."""

from __future__ import annotations

import typer

from meshforge.cli.errors import exit_on_error

app = typer.Typer(
    help="Create, list and revoke API keys of the REST service.", no_args_is_help=True
)


def _catalog() -> object:
    from meshforge.catalog.db import Catalog, upgrade_database
    from meshforge.service.settings import ServiceSettings

    settings = ServiceSettings()
    upgrade_database(settings.catalog_url)
    return Catalog(settings.catalog_url)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="What the key is for (shown in lists)."),
    scope: list[str] = typer.Option(
        ["read", "write"], "--scope", help="read, write or admin; repeat for several."
    ),
    rate: float | None = typer.Option(
        None, "--rate", help="Requests per minute (default: the service's)."
    ),
    max_active_jobs: int | None = typer.Option(
        None, "--max-active-jobs", help="Queued + running jobs."
    ),
) -> None:
    """Create a key. The secret is printed once, alone on the last line."""
    with exit_on_error():
        from meshforge.catalog.keys import create_key
        from meshforge.errors import InputError

        try:
            created = create_key(
                _catalog(),  # type: ignore[arg-type]
                name,
                tuple(scope),
                rate_per_minute=rate,
                max_active_jobs=max_active_jobs,
            )
        except ValueError as error:
            raise InputError(str(error).removeprefix("keys: "), stage="keys") from error
        typer.echo(f"id:             {created.id}", err=True)
        typer.echo(f"scopes:         {','.join(created.scopes)}", err=True)
        typer.echo(f"webhook secret: {created.webhook_secret}", err=True)
        typer.echo("The key (shown only now):", err=True)
        typer.echo(created.secret)


@app.command("list")
def list_() -> None:
    """List keys (never their secrets)."""
    with exit_on_error():
        from meshforge.catalog.keys import list_keys
        from meshforge.service.views import iso

        for row in list_keys(_catalog()):  # type: ignore[arg-type]
            status = f"revoked {iso(row.revoked_at)}" if row.revoked_at else "active"
            typer.echo(f"{row.id}  {row.prefix}…  {row.scopes:<16} {row.name}  ({status})")


@app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The key's id (or its secret's prefix)."),
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    with exit_on_error():
        from meshforge.catalog.keys import revoke_key
        from meshforge.errors import InputError

        if not revoke_key(_catalog(), key_id):  # type: ignore[arg-type]
            raise InputError(
                f"no active key {key_id!r}", stage="keys", hint="See `meshforge keys list`."
            )
        typer.echo(f"revoked {key_id}")
