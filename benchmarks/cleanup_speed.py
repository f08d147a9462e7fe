"""Speed of the clean-up transforms (weld, repair, dedup; default options) on a ~500k-face mesh.

    python benchmarks/cleanup_speed.py [--eval ../shared/eval] [--asset WaterBottle]
                                       [--faces 500000] [--runs 3] [--before REF]

The mesh: shopify_speed.py's dense one (the asset's gt.glb subdivided to exactly ``--faces``,
UVs and normals carried), read from ``$TMPDIR/meshforge-bench/<asset>_<faces>.glb`` and made
there first when missing. Timed: ``asset.transform(weld())`` (and ``repair()``, ``dedup()``) on
the loaded asset, ``--runs`` times each with ``time.perf_counter``; the table gives the best and
the median. The machine may be shared, so compare the best.

``--before REF`` also runs weld.py, dedup.py and repair.py as they were at git ``REF`` (read with
``git show``; nothing is checked out), interleaved with today's runs, and checks that both give
the same output: vertex, face, UV and normal arrays, report details, changes and warnings.

Targets: weld <= 0.6 s, repair <= 1.5 s. Results: benchmarks/results/cleanup_speed.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import machine
from shopify_speed import DENSE_DIR, make_dense

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODULES = ("weld", "dedup", "repair")
TARGETS_S = {"weld": 0.6, "repair": 1.5}


def dense_asset(eval_dir: Path, asset_name: str, faces: int) -> tuple[Any, Path, float]:
    """The dense asset loaded from its GLB (made first when missing) and the seconds it took."""
    from meshforge.api import load

    t0 = time.perf_counter()
    path = DENSE_DIR / f"{asset_name}_{faces}.glb"
    if not path.is_file():
        _, path = make_dense(eval_dir, asset_name, faces)
    return load(path), path, time.perf_counter() - t0


def modules_at(ref: str) -> dict[str, ModuleType]:
    """weld, dedup and repair as they were at git ``ref``, imported as a throwaway package whose
    modules import each other (and today's rest of meshforge)."""
    package = "cleanup_before"
    folder = Path(tempfile.mkdtemp(prefix="meshforge-cleanup-")) / package
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for name in MODULES:
        source = subprocess.run(
            ["git", "show", f"{ref}:src/meshforge/transforms/{name}.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for other in MODULES:
            source = source.replace(
                f"from meshforge.transforms.{other} import", f"from .{other} import"
            )
        (folder / f"{name}.py").write_text(source)
    sys.path.insert(0, str(folder.parent))
    return {name: importlib.import_module(f"{package}.{name}") for name in MODULES}


def outcome(result: Any) -> dict[str, Any]:
    report = result.reports[-1]
    return {
        "meshes": [(m.vertices, m.faces, m.uv, m.normals, m.material) for m in result.meshes],
        "details": report.details,
        "changes": report.changes,
        "warnings": [w.to_dict() for w in report.warnings],
    }


def same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=True)
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    return bool(a == b)


def timed(asset: Any, factory: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = asset.transform(factory())
    return time.perf_counter() - t0, result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--asset", default="WaterBottle")
    parser.add_argument("--faces", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", help="git ref whose weld/dedup/repair to time alongside")
    args = parser.parse_args()

    from meshforge.transforms import dedup, repair, weld

    asset, path, load_s = dense_asset(args.eval, args.asset, args.faces)
    print(f"{path}: {asset.face_count} faces, {asset.vertex_count} vertices ({load_s:.1f} s)")
    today: dict[str, Callable[[], Any]] = {"weld": weld, "repair": repair, "dedup": dedup}
    old = modules_at(args.before) if args.before else {}
    rows: list[dict[str, Any]] = []
    for name, factory in today.items():
        after: list[float] = []
        before: list[float] = []
        identical: bool | None = None
        for _ in range(args.runs):
            seconds, result = timed(asset, factory)
            after.append(seconds)
            if name in old:
                # Interleaved, so the old and new runs see the same load on a shared machine.
                seconds, old_result = timed(asset, getattr(old[name], name))
                before.append(seconds)
                match = same(outcome(result), outcome(old_result))
                identical = match if identical is None else identical and match
        row = {
            "transform": name,
            "after_best_s": min(after),
            "after_median_s": statistics.median(after),
            "before_best_s": min(before) if before else None,
            "before_median_s": statistics.median(before) if before else None,
            "identical": identical,
            "target_s": TARGETS_S.get(name),
            "details": result.reports[-1].details,
        }
        rows.append(row)
        print(row)

    document = {
        "command": "python benchmarks/cleanup_speed.py "
        + f"--asset {args.asset} --faces {args.faces} --runs {args.runs}"
        + (f" --before {args.before}" if args.before else ""),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "load_average": os.getloadavg(),
        "input": {"glb": path.name, "faces": asset.face_count, "vertices": asset.vertex_count},
        "runs": args.runs,
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = markdown(document)
    (RESULTS / "cleanup_speed.md").write_text(text)
    print(text)


def markdown(d: dict[str, Any]) -> str:
    m = d["machine"]

    def seconds(value: float | None) -> str:
        return "" if value is None else f"{value:.3f}"

    lines = [
        "# Clean-up transforms (weld, repair, dedup) on a ~500k-face mesh",
        "",
        f"Command: `{d['command']}`  ",
        f"Date: {d['date']}  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}  ",
        "Load average at the end (1, 5, 15 min): "
        + ", ".join(f"{x:.2f}" for x in d["load_average"]),
        "",
        f"Input: `{d['input']['glb']}`, {d['input']['faces']:,} faces / "
        f"{d['input']['vertices']:,} vertices (UVs, normals). Default options; "
        f"`asset.transform(<transform>())`, {d['runs']} runs each.",
        "",
        "| transform | before best (s) | before median (s) | after best (s) "
        "| after median (s) | speed-up (best) | target (s) | identical output |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in d["rows"]:
        before, after = r["before_best_s"], r["after_best_s"]
        speedup = f"{before / after:.1f}x" if before else ""
        identical = "" if r["identical"] is None else ("yes" if r["identical"] else "**no**")
        lines.append(
            f"| {r['transform']} | {seconds(before)} | {seconds(r['before_median_s'])} "
            f"| {seconds(after)} | {seconds(r['after_median_s'])} | {speedup} "
            f"| {seconds(r['target_s'])} | {identical} |"
        )
    lines += ["", "Report details (after):", ""]
    lines += [f"- {r['transform']}: {r['details']}" for r in d["rows"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
