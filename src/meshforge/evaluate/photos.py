"""Real photos without ground truth: every one must give a valid asset. Records, per photo, the
mesh's facts, the warnings and the time, and draws a contact sheet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def photo_files(root: Path) -> list[Path]:
    """The photos of a folder, leaving out the ``NAME_mask.png`` files that come with some."""
    suffixes = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".avif"}
    return sorted(
        p for p in root.iterdir() if p.suffix.lower() in suffixes and not p.stem.endswith("_mask")
    )


def run_photos(root: Path, out_dir: Path) -> dict[str, Any]:
    from meshforge.api import generate
    from meshforge.errors import MeshforgeError
    from meshforge.evaluate.sheet import contact_sheet

    rows: list[dict[str, Any]] = []
    sheet_rows: list[tuple[str, Path, Path, Path | None]] = []
    for photo in photo_files(root):
        target = out_dir / "predictions" / photo.stem
        row: dict[str, Any] = {"photo": photo.name}
        try:
            result = generate(photo, target, name="pred", thumbnail=False)
        except MeshforgeError as error:
            row["error"] = str(error)
            rows.append(row)
            continue
        mesh = result.report["mesh"]
        row.update(
            valid=bool(mesh["watertight"] and mesh["winding_consistent"] and mesh["has_uv"]),
            faces=mesh["faces"],
            watertight=mesh["watertight"],
            winding_consistent=mesh["winding_consistent"],
            segmenter=result.report["stages"][1]["details"].get("backend"),
            shape=result.asset.metadata.get("shape"),
            warnings=[w["code"] for w in result.report["warnings"]],
            seconds=round(result.seconds, 3),
        )
        rows.append(row)
        sheet_rows.append((photo.stem, photo, target / "pred.glb", None))
    document = {
        "root": str(root),
        "photos": rows,
        "valid": sum(bool(r.get("valid")) for r in rows),
        "total": len(rows),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "photos.json").write_text(json.dumps(document, indent=2) + "\n")
    contact_sheet(sheet_rows, out_dir / "photos_contact_sheet.png")
    return document
