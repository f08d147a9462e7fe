"""The quality benchmark: run an engine on every ground-truth asset of a folder, score it with the
protocol's metrics and summarise per asset, per category and overall, with a contact sheet.

A folder holds one sub-folder per asset (``gt.glb``, ``input.png``, ``meta.json``, ...), laid out
as docs/benchmarks.md describes; ``meshforge bench quality DIR`` and benchmarks/quality.py call
:func:`run_suite`.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUMMARY_METRICS = (
    "fscore@0.05",
    "fscore@0.1",
    "chamfer_l1",
    "volume_iou",
    "silhouette_iou",
    "silhouette_iou_views",
    "psnr",
    "psnr_views",
)


@dataclass
class AssetResult:
    name: str
    category: str
    seconds_total: float = 0.0
    seconds_engine: float = 0.0
    scores: dict[str, Any] = field(default_factory=dict)
    shape: str = ""
    error: str | None = None

    def metric(self, key: str, variant: str = "aligned") -> float | None:
        value = self.scores.get(variant, {}).get(key)
        return float(value) if isinstance(value, int | float) else None


def asset_folders(root: Path, only: list[str] | None = None) -> list[Path]:
    folders = sorted(p for p in root.iterdir() if (p / "gt.glb").is_file())
    return [p for p in folders if not only or p.name in only]


def run_asset(
    folder: Path, out_dir: Path, engine_options: dict[str, Any] | None = None
) -> AssetResult:
    """Generate from the asset's input photo, then score the GLB against its ground truth."""
    from meshforge.api import generate
    from meshforge.errors import MeshforgeError
    from meshforge.evaluate.score import score

    meta = json.loads((folder / "meta.json").read_text())
    result = AssetResult(name=folder.name, category=str(meta.get("category", "other")))
    target = out_dir / folder.name
    try:
        start = time.perf_counter()
        generated = generate(
            folder / "input.png",
            target,
            height=1.0,
            engine_options=engine_options or {},
            name="pred",
            thumbnail=False,
        )
        result.seconds_total = time.perf_counter() - start
        result.seconds_engine = float(generated.report["timings"].get("reconstruct", 0.0))
        result.shape = str(generated.asset.metadata.get("shape", ""))
        result.scores = score(folder, target / "pred.glb")
    except MeshforgeError as error:
        result.error = str(error)
    return result


def summarise(results: list[AssetResult], variant: str = "aligned") -> dict[str, Any]:
    """Means per metric overall and per category (failed assets count as failures, not zeros)."""

    def means(group: list[AssetResult]) -> dict[str, float | int]:
        ok = [r for r in group if r.error is None]
        row: dict[str, float | int] = {"assets": len(group), "failures": len(group) - len(ok)}
        for key in SUMMARY_METRICS:
            values = [v for r in ok if (v := r.metric(key, variant)) is not None]
            if values:
                row[key] = round(statistics.fmean(values), 4)
        return row

    categories = sorted({r.category for r in results})
    engine_times = [r.seconds_engine for r in results if r.error is None]
    return {
        "variant": variant,
        "overall": means(results),
        "categories": {c: means([r for r in results if r.category == c]) for c in categories},
        "engine_seconds_median": round(statistics.median(engine_times), 4)
        if engine_times
        else None,
    }


def run_suite(
    root: Path,
    out_dir: Path,
    *,
    only: list[str] | None = None,
    engine_options: dict[str, Any] | None = None,
    on_asset: Callable[[AssetResult], None] | None = None,
) -> dict[str, Any]:
    """Run and score every asset; write results.json, summary.md and contact_sheet.png."""
    from meshforge.evaluate.sheet import contact_sheet

    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / "predictions"
    results = []
    for folder in asset_folders(root, only):
        result = run_asset(folder, work, engine_options)
        results.append(result)
        if on_asset is not None:
            on_asset(result)
    document = {
        "root": str(root),
        "engine_options": engine_options or {},
        "summary": {v: summarise(results, v) for v in ("aligned", "raw")},
        "assets": [
            {
                "name": r.name,
                "category": r.category,
                "shape": r.shape,
                "seconds_total": round(r.seconds_total, 4),
                "seconds_engine": round(r.seconds_engine, 4),
                "error": r.error,
                "aligned": {k: r.metric(k, "aligned") for k in SUMMARY_METRICS},
                "raw": {k: r.metric(k, "raw") for k in SUMMARY_METRICS},
            }
            for r in results
        ],
    }
    (out_dir / "results.json").write_text(json.dumps(document, indent=2) + "\n")
    (out_dir / "summary.md").write_text(summary_markdown(document))
    contact_sheet(
        [
            (
                r.name,
                root / r.name / "input.png",
                work / r.name / "pred.glb",
                root / r.name / "gt.glb",
            )
            for r in results
            if r.error is None
        ],
        out_dir / "contact_sheet.png",
    )
    return document


def summary_markdown(document: dict[str, Any]) -> str:
    keys = SUMMARY_METRICS
    lines = [
        "| asset | category | shape | " + " | ".join(keys) + " | engine s |",
        "|---" * (len(keys) + 4) + "|",
    ]
    for a in document["assets"]:
        if a["error"]:
            lines.append(f"| {a['name']} | {a['category']} | | failed: {a['error']} |")
            continue
        cells = " | ".join(
            "" if a["aligned"][k] is None else f"{a['aligned'][k]:.3f}" for k in keys
        )
        lines.append(
            f"| {a['name']} | {a['category']} | {a['shape']} | {cells} | "
            f"{a['seconds_engine']:.3f} |"
        )
    summary = document["summary"]["aligned"]
    lines += [
        "",
        "| category | assets | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 2) + "|",
    ]
    rows = [*summary["categories"].items(), ("**overall**", summary["overall"])]
    for name, row in rows:
        cells = " | ".join(f"{row[k]:.3f}" if k in row else "" for k in keys)
        lines.append(f"| {name} | {row['assets']} | {cells} |")
    lines += ["", f"Median engine time: {summary['engine_seconds_median']} s per photo.", ""]
    return "\n".join(lines)
