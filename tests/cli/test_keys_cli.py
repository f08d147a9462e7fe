"""``meshforge keys``: the secret alone on the last line, usable at once, listed, revoked."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshforge.cli.app import app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    monkeypatch.setenv("MESHFORGE_DATABASE_URL", url)
    monkeypatch.setenv("MESHFORGE_HOME", str(tmp_path / "home"))
    return url


def test_create_list_revoke(env: str) -> None:
    from meshforge.catalog.db import Catalog
    from meshforge.catalog.keys import find_key

    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "shop", "--scope", "read"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("mf_") and " " not in secret
    catalog = Catalog(env)
    row = find_key(catalog, secret)
    assert row is not None and row.scopes == "read" and row.name == "shop"

    listed = runner.invoke(app, ["keys", "list"])
    assert row.id in listed.stdout and secret not in listed.stdout

    assert runner.invoke(app, ["keys", "revoke", row.id]).exit_code == 0
    assert find_key(catalog, secret) is None
    again = runner.invoke(app, ["keys", "revoke", row.id])
    assert again.exit_code == 2 and "no active key" in again.output
    catalog.dispose()


def test_unknown_scope_is_refused(env: str) -> None:
    result = CliRunner().invoke(app, ["keys", "create", "x", "--scope", "root"])
    assert result.exit_code == 2
    assert "unknown scope" in result.output
