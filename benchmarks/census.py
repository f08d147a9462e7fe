"""Profile census: which assets pass which profile, and why the others fail.

    python benchmarks/census.py [--eval ../shared/eval] [--only NAME ...] [--no-generate]

(a) Every ground-truth asset (``EVAL/*/gt.glb``, read in place) is run through each profile
(web, shopify, amazon, apple-ar, print, game) with `meshforge optimize` semantics: the profile's
transforms, saved in the profile's first format, then ``validate_file`` on the written file (the
same calls as ``meshforge optimize IN -o OUT --profile P``, in one process). Where the written
file cannot be read back (USDZ), the transformed asset is also checked in memory, without the
file-level checks, and that verdict is recorded beside the error.

(b) Every input photo (``EVAL/*/input.png``) goes through
``meshforge generate PHOTO -o DIR --profile P --json`` for P in web and shopify (a fresh process
each, as a user runs it); the verdict is the validation that run makes of the GLB it wrote.

Results: benchmarks/results/census/census.json and census.md, with the command, date and machine.
Outputs are written to a temporary folder and deleted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import machine, meshforge_command

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "census"
PROFILES = ("web", "shopify", "amazon", "apple-ar", "print", "game")
GENERATE_PROFILES = ("web", "shopify")
# Why the failures happen, written after reading the results (see census.json for the detail).
READING: list[str] = [
    "Nothing was tuned to any asset; the causes of what changed, from census.json:",
    "",
    "- **web, amazon, apple-ar**: their chains now `unwrap` (keeping a usable atlas; charts "
    "lying whole in another UV tile are moved back into [0, 1], which repeating textures make "
    "lossless) and `bake` only the maps a material lacks: GSO_CHICKEN_NESTING gets UVs and a "
    "base-colour map, SheenChair's metal part UVs, ToyCar's glass a base-colour map keeping its "
    "alpha; amazon and apple-ar re-atlas SheenChair's tiled fabric into one tile.",
    "- **winding (LightsPunctualLamp)**: a crumpled fold of slivers on the shade could not be "
    "wound consistently; `repair` now drops the faces that still disagree and fills the gap.",
    "- **print**: `solidify` asks `repair` to fill every hole (ear clipping in the loop's plane, "
    "a centre fan where the projection crosses itself) and cleans manifold3d's union so a "
    "position-welding STL reader sees a closed 2-manifold; only `thin-walls` warnings remain.",
    "- **watertight / manifold**: warnings on the display profiles (a viewer shows an open "
    "surface correctly); errors for print.",
]


def failing(report_dict: dict[str, Any]) -> list[str]:
    return [c["id"] for c in report_dict["checks"] if c["status"] == "FAIL"]


def brief_checks(report_dict: dict[str, Any]) -> list[dict[str, Any]]:
    """The failed and warned checks only, with their measured value and message."""
    return [
        {k: c[k] for k in ("id", "status", "measured", "limit", "message")}
        for c in report_dict["checks"]
        if c["status"] != "PASS"
    ]


def convert_one(source: Path, profile_name: str, out_dir: Path) -> dict[str, Any]:
    """`meshforge optimize` on one file and profile, every failure recorded rather than raised."""
    from meshforge.api import load
    from meshforge.cli.convert import apply_profile
    from meshforge.export.registry import save
    from meshforge.validate.profiles import load_profile
    from meshforge.validate.report import validate_asset, validate_file

    profile = load_profile(profile_name)
    fmt = profile.formats[0]
    output = out_dir / f"{source.parent.name}.{profile_name}.{fmt}"
    row: dict[str, Any] = {"profile": profile_name, "format": fmt, "passed": False}
    started = time.perf_counter()
    try:
        asset, reports = apply_profile(load(source), profile)
    except Exception as exc:
        row.update(stage="transforms", error=f"{type(exc).__name__}: {exc}")
        return row
    row["transform_warnings"] = [w.code for r in reports for w in r.warnings]
    row["faces"] = int(sum(len(m.faces) for m in asset.meshes))
    try:
        written = save(asset, output)
    except Exception as exc:
        row.update(stage="save", error=f"{type(exc).__name__}: {exc}")
        return row
    row["bytes"] = sum(p.stat().st_size for p in written)
    try:
        report = validate_file(output, profile).to_dict()
    except Exception as exc:
        message = str(exc).replace(str(out_dir), "OUT")
        row.update(stage="validate", error=f"{type(exc).__name__}: {message}")
        memory = validate_asset(asset, profile).to_dict()
        row["in_memory"] = {
            "passed": memory["passed"],
            "failing": failing(memory),
            "checks": brief_checks(memory),
        }
        return row
    finally:
        row["seconds"] = round(time.perf_counter() - started, 2)
    row.update(passed=report["passed"], failing=failing(report), checks=brief_checks(report))
    return row


def generate_one(photo: Path, out_dir: Path) -> dict[str, Any]:
    """`meshforge generate --profile P --json` for each generate profile, in fresh processes."""
    row: dict[str, Any] = {"seconds": {}}
    for profile in GENERATE_PROFILES:
        target = out_dir / f"{photo.parent.name}-{profile}"
        command = [*meshforge_command(), "generate", str(photo), "-o", str(target)]
        command += ["--profile", profile, "--json"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        row["seconds"][profile] = round(time.perf_counter() - started, 2)
        try:
            document = json.loads(done.stdout)
        except ValueError:
            row["error"] = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return row
        row["mesh"] = {k: document["mesh"].get(k) for k in ("faces", "vertices", "watertight")}
        row["shape"] = next(
            (s["details"].get("shape") for s in document["stages"] if s["stage"] == "reconstruct"),
            None,
        )
        verdict = document["profile"]["validation"]
        row[profile] = {
            "passed": verdict["passed"],
            "failing": failing(verdict),
            "checks": brief_checks(verdict),
        }
    return row


def markdown(document: dict[str, Any]) -> str:
    lines = [
        "# Profile census",
        "",
        f"Command: `{document['command']}`  ",
        f"Date: {document['date']}, {document['seconds']} s  ",
        f"Machine: {document['machine']['cpu']}, {document['machine']['cores']} cores, "
        f"{document['machine']['memory_gib']} GiB, Python {document['machine']['python']}",
        "",
        "## (a) Ground-truth assets through each profile (`optimize` semantics)",
        "",
        "Pass = the written file passes every required check of the profile. "
        "`err` = the step in brackets raised (see below).",
        "",
    ]
    conv = document["convert"]
    names = sorted(conv)
    head = "| asset | " + " | ".join(PROFILES) + " |"
    lines += [head, "|---" * (len(PROFILES) + 1) + "|"]

    def cell(r: dict[str, Any]) -> str:
        if "error" in r:
            return f"err ({r['stage']})"
        return "PASS" if r["passed"] else "fail"

    for n in names:
        lines.append(f"| {n} | " + " | ".join(cell(conv[n][p]) for p in PROFILES) + " |")
    totals = document["summary"]["convert"]
    lines.append(
        "| **passed** | "
        + " | ".join(f"**{totals[p]['passed']}/{totals[p]['total']}**" for p in PROFILES)
        + " |"
    )
    lines += ["", "### Failing checks (asset x profile)", ""]
    lines += [head, "|---" * (len(PROFILES) + 1) + "|"]

    def why(r: dict[str, Any]) -> str:
        if "error" in r:
            extra = ""
            if "in_memory" in r:
                mem = r["in_memory"]
                extra = " / in memory: " + (", ".join(mem["failing"]) or "pass")
            return f"{r['stage']} error{extra}"
        return ", ".join(r["failing"]) or "-"

    for n in names:
        lines.append(f"| {n} | " + " | ".join(why(conv[n][p]) for p in PROFILES) + " |")
    lines += ["", "### How often each check failed, per profile", ""]
    for p in PROFILES:
        counts = totals[p]["failing_checks"]
        errors = totals[p]["errors"]
        text = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
        if errors:
            text += "; errors: " + ", ".join(f"{k} {v}" for k, v in errors.items())
        lines.append(f"- **{p}**: {text}")
    messages = sorted(
        {
            f"{p}: {r['stage']}: {r['error']}"
            for n in names
            for p, r in conv[n].items()
            if "error" in r
        }
    )
    if messages:
        lines += ["", "### Errors", ""]
        lines += [f"- {m}" for m in messages[:20]]
    gen = document.get("generate")
    if gen:
        lines += [
            "",
            "## (b) `meshforge generate --profile web|shopify` on the input photos",
            "",
            "The GLB each run writes, as validated by that run; s = seconds of the web run "
            "and of the shopify run.",
            "",
            "| photo | shape | faces | s | web | web failing | shopify | shopify failing |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for n in sorted(gen):
            r = gen[n]
            if "web" not in r:
                lines.append(f"| {n} | | | | error | {r.get('error')} | | |")
                continue
            lines.append(
                f"| {n} | {r['shape']} | {r['mesh']['faces']} | "
                f"{r['seconds'].get('web')} / {r['seconds'].get('shopify')} | "
                f"{'PASS' if r['web']['passed'] else 'fail'} | {', '.join(r['web']['failing'])} | "
                f"{'PASS' if r['shopify']['passed'] else 'fail'} | "
                f"{', '.join(r['shopify']['failing'])} |"
            )
        g = document["summary"]["generate"]
        lines.append(
            "| **passed** | | | | "
            + " | ".join(
                f"**{g[p]['passed']}/{g[p]['total']}** | "
                + ", ".join(f"{k} {v}" for k, v in g[p]["failing_checks"].items())
                for p in GENERATE_PROFILES
            )
            + " |"
        )
    lines += ["", "## Reading", "", *document.get("reading", []), ""]
    return "\n".join(lines)


def summarise(document: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {"convert": {}, "generate": {}}
    conv = document["convert"]
    for p in PROFILES:
        rows = [conv[n][p] for n in conv]
        summary["convert"][p] = {
            "passed": sum(r["passed"] for r in rows),
            "total": len(rows),
            "failing_checks": dict(Counter(c for r in rows for c in r.get("failing", []))),
            "errors": dict(Counter(r["stage"] for r in rows if "error" in r)),
        }
    gen = document.get("generate") or {}
    for p in GENERATE_PROFILES:
        rows = [gen[n][p] for n in gen if p in gen[n]]
        summary["generate"][p] = {
            "passed": sum(r["passed"] for r in rows),
            "total": len(gen),
            "failing_checks": dict(Counter(c for r in rows for c in r["failing"])),
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--no-generate", action="store_true")
    parser.add_argument(
        "--markdown-only", action="store_true", help="rewrite census.md from census.json"
    )
    args = parser.parse_args()
    if args.markdown_only:
        document = json.loads((RESULTS / "census.json").read_text())
        document["reading"] = READING
        (RESULTS / "census.json").write_text(json.dumps(document, indent=1, default=str) + "\n")
        (RESULTS / "census.md").write_text(markdown(document))
        return
    assets = sorted(p.parent for p in args.eval.glob("*/gt.glb"))
    if args.only:
        assets = [a for a in assets if a.name in args.only]
    started = time.time()
    document: dict[str, Any] = {
        "command": "python benchmarks/census.py "
        + " ".join(
            (["--only", *args.only] if args.only else []) + (["--no-generate"] * args.no_generate)
        ),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "convert": {},
    }
    with tempfile.TemporaryDirectory(prefix="meshforge-census-") as tmp:
        out = Path(tmp)
        for asset in assets:
            document["convert"][asset.name] = {}
            for p in PROFILES:
                try:
                    row = convert_one(asset / "gt.glb", p, out)
                except Exception as exc:  # a bug in the benchmark, not a profile verdict
                    traceback.print_exc()
                    row = {"profile": p, "passed": False, "stage": "other", "error": repr(exc)}
                document["convert"][asset.name][p] = row
                print(f"{asset.name:32s} {p:9s} {row.get('failing', row.get('error'))}")
                for f in out.iterdir():
                    f.unlink()
        if not args.no_generate:
            document["generate"] = {}
            for asset in assets:
                row = generate_one(asset / "input.png", out)
                document["generate"][asset.name] = row
                print(f"generate {asset.name:32s} {row.get('web', row.get('error'))}")
    document["seconds"] = round(time.time() - started, 1)
    document["summary"] = summarise(document)
    document["reading"] = READING
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "census.json").write_text(json.dumps(document, indent=1, default=str) + "\n")
    (RESULTS / "census.md").write_text(markdown(document))
    print(json.dumps(document["summary"], indent=1))


if __name__ == "__main__":
    main()
