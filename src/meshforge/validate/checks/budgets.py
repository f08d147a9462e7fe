"""Budget checks: triangles, vertices, file size and file format."""

from __future__ import annotations

from pathlib import Path

from meshforge.asset import Asset
from meshforge.validate.checks.base import CheckResult, verdict


def check_triangles(asset: Asset, max_triangles: int) -> CheckResult:
    """Triangle budget: render cost and file size grow with it."""
    count = asset.face_count
    return verdict(
        "triangles",
        count <= max_triangles,
        count,
        max_triangles,
        f"{count:,} triangles",
        f"{count:,} triangles, more than {max_triangles:,}; "
        f"run decimate(target_faces={max_triangles})",
    )


def check_vertices(asset: Asset, max_vertices: int) -> CheckResult:
    """Vertex budget (UV seams and hard edges split vertices, so it can bind before triangles)."""
    count = asset.vertex_count
    return verdict(
        "vertices",
        count <= max_vertices,
        count,
        max_vertices,
        f"{count:,} vertices",
        f"{count:,} vertices, more than {max_vertices:,}; run the decimate transform "
        "(fewer faces) or weld (fewer split vertices)",
    )


def check_file_size(size_bytes: int, max_mb: float) -> CheckResult:
    """File size in MB of 1,000,000 bytes (the stricter reading of a marketplace's "MB")."""
    mb = size_bytes / 1e6
    return verdict(
        "file_size",
        mb <= max_mb,
        round(mb, 3),
        max_mb,
        f"{mb:.2f} MB",
        f"{mb:.2f} MB, more than {max_mb:g} MB; decimate the mesh or bake smaller textures",
    )


def check_file_format(path: Path, formats: tuple[str, ...]) -> CheckResult:
    """The file's format is one the target accepts."""
    suffix = path.suffix.lower().lstrip(".")
    return verdict(
        "file_format",
        suffix in formats,
        suffix,
        list(formats),
        f"{suffix} is accepted",
        f"{suffix or 'no extension'} is not accepted; export as {' or '.join(formats)}",
    )
