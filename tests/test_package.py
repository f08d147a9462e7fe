"""The package's surface: a light import, an explicit __all__, typed, linted, documented setup."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["numpy", "PIL", "cv2", "onnxruntime", "trimesh", "pydantic", "scipy", "typer"]


def test_import_is_light() -> None:
    code = "import sys, json, meshforge; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = set(json.loads(out.stdout))
    assert not [m for m in HEAVY if m in loaded]


def test_public_names_resolve() -> None:
    import meshforge

    for name in meshforge.__all__:
        assert getattr(meshforge, name) is not None
    with pytest.raises(AttributeError):
        meshforge.nothing_here  # noqa: B018


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(python3 -m venv .*)\n```", readme)
    assert len(commands) == 2, "the quickstart has exactly two set-up commands"
    assert "meshforge generate examples/" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
