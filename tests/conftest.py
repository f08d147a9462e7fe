"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


def _installed_model(name: str) -> Path:
    """The path of an installed model; fails (never skips) when it is missing."""
    from meshforge.models import is_installed, model_path

    if not is_installed(name):
        pytest.fail(
            f"model {name!r} is not installed at {model_path(name)}: "
            "run `meshforge models install` (or "
            "`python -c 'from meshforge.models import install_model; "
            f'install_model("{name}")\'`) before running the tests',
            pytrace=False,
        )
    return model_path(name)


@pytest.fixture
def u2netp_model() -> Path:
    """The u2netp model file (the fast one); the test fails if it is not installed."""
    return _installed_model("u2netp")


@pytest.fixture
def u2net_model() -> Path:
    """The u2net model file (176 MB); the test fails if it is not installed."""
    return _installed_model("u2net")
