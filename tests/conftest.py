"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from provider_fakes import FakeProviders


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


@pytest.fixture(scope="session")
def fake_providers() -> Iterator[FakeProviders]:
    """Fake Tripo and Meshy APIs on 127.0.0.1 (tests/provider_fakes.py), one per session."""
    from provider_fakes import running_fake

    with running_fake() as fake:
        yield fake


@pytest.fixture
def providers(fake_providers: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> FakeProviders:
    """The fake providers, reset, with both remote engines pointed at them (and no key from
    the machine's own environment)."""
    fake_providers.reset()
    for name in ("TRIPO_API_KEY", "MESHY_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in fake_providers.env().items():
        monkeypatch.setenv(name, value)
    return fake_providers
