"""NAME.report.json: inputs with digests, options, every stage's report, timings, warnings,
outputs with digests, and the mesh's facts."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meshforge import __version__
from meshforge.asset import Asset
from meshforge.recipe import Recipe
from meshforge.validate.checks import mesh_facts

REPORT_SCHEMA = "meshforge.report/1"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_report(
    recipe: Recipe, asset: Asset, outputs: dict[str, list[Path]], seconds: float
) -> dict[str, Any]:
    base = recipe.output.directory
    return {
        "schema": REPORT_SCHEMA,
        "meshforge_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": [i.to_dict() for i in asset.provenance.inputs],
        "options": recipe.model_dump(mode="json"),
        "engine": {
            "name": asset.provenance.engine,
            "version": asset.provenance.engine_version,
            "options": asset.provenance.engine_options,
        },
        "camera": asset.camera.to_dict() if asset.camera else None,
        "size": asset.size.to_dict() if asset.size else None,
        "mesh": mesh_facts(asset),
        "stages": [r.to_dict() for r in asset.reports],
        "timings": {
            **{r.stage: round(r.seconds, 4) for r in asset.reports},
            "total": round(seconds, 4),
        },
        "warnings": [w.to_dict() for w in asset.warnings()],
        "outputs": {
            kind: [
                {
                    "path": os.path.relpath(p, base),
                    "bytes": p.stat().st_size,
                    "sha256": file_digest(p),
                }
                for p in paths
            ]
            for kind, paths in outputs.items()
        },
    }


def write_report(document: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    tmp.replace(path)
    return path
