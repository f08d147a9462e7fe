"""Exporters by format name, and ``save``: the one call that writes an Asset to a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from meshforge.asset import Asset
from meshforge.errors import ExportError


@dataclass(frozen=True)
class Exporter:
    name: str
    extension: str
    write: Callable[[Asset, Path], list[Path]]
    description: str


_EXPORTERS: dict[str, Exporter] = {}


def register_exporter(exporter: Exporter) -> None:
    _EXPORTERS[exporter.name] = exporter


def exporters() -> dict[str, Exporter]:
    if not _EXPORTERS:
        from meshforge.export import glb, gltf, obj, ply, stl, threemf, usdz

        for module in (glb, gltf, obj, stl, threemf, ply, usdz):
            register_exporter(module.EXPORTER)
    return dict(_EXPORTERS)


def save(asset: Asset, path: str | Path, format: str | None = None) -> list[Path]:
    """Write ``asset`` to ``path``; the format comes from ``format`` or the file's extension.

    Returns every file written (OBJ writes a material file and a texture beside it). The file
    appears complete or not at all: it is written to a temporary name and renamed.
    """
    target = Path(path)
    name = (format or target.suffix.lstrip(".")).lower()
    available = exporters()
    if name not in available:
        raise ExportError(
            f"unknown format {name!r}", hint=f"Choose one of: {', '.join(sorted(available))}."
        )
    if not asset.meshes or asset.face_count == 0:
        raise ExportError(
            "the asset has no faces to export",
            hint="Check the reconstruction's report for what went wrong.",
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return available[name].write(asset, target)
    except OSError as exc:
        raise ExportError(
            f"could not write {target}: {exc.strerror or exc}",
            hint="Check the output directory exists and is writable.",
        ) from exc


def write_atomically(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
