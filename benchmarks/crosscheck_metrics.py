"""Cross-check meshforge.evaluate against the benchmark's reference scorer (evalkit/score.py).

    python benchmarks/crosscheck_metrics.py --evalkit ../shared/evalkit \\
        --evalkit-python /tmp/evalkit/bin/python --eval ../shared/eval \\
        --work /tmp/xc --out benchmarks/results/metrics_crosscheck.md

The reference runs in its own interpreter through a subprocess (it is never imported). The
predictions: the WaterBottle GT scored against itself, the Avocado GT against WaterBottle (a
wrong object), and meshforge's own output for three assets (``meshforge generate`` is run into
``--work`` when the file is not there yet). Both scorers' values are rounded to 5 decimals, as the
reference prints them; a metric agrees when |ours - ref| / max(|ref|, 1e-9) <= 1 %, or, for a
reference value below 1e-3 in magnitude, when |ours - ref| <= 1e-4.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from meshforge.evaluate import score

METRICS = [
    "chamfer_l1",
    "accuracy",
    "completeness",
    "fscore@0.05",
    "precision@0.05",
    "recall@0.05",
    "fscore@0.1",
    "precision@0.1",
    "recall@0.1",
    "volume_iou",
    "silhouette_iou",
    "silhouette_iou_views",
    "psnr",
    "ssim",
    "psnr_input",
    "ssim_input",
    "psnr_views",
    "ssim_views",
]
GENERATED = ["YCB_005_tomato_soup_can", "YCB_003_cracker_box", "SheenChair"]
REL_TOL, ABS_TOL, NEAR_ZERO = 0.01, 1e-4, 1e-3
NOTES = """## Notes

- A GT scored against itself is the one case where PSNR cannot agree within 1 %: the
  reference renders the GT with the very OpenGL (llvmpipe) pipeline that made `input.png` and the
  views, so its ~68 dB only measures 8-bit rounding (rms ~0.1 of an 8-bit step). Staying within
  1 % (0.68 dB) would need every pixel bit-identical to llvmpipe's; one edge sample that lands
  differently already moves it by more. meshforge's numpy rasteriser gets ~61-63 dB (rms ~0.2 to
  0.3 of a step): llvmpipe's texture filtering (mipmaps, anisotropy, 8-bit fixed-point lerps) is
  not reproduced. SSIM and the silhouettes of the same renders agree within 0.005 %.
- Sampling that matches the reference (WaterBottle GT, input view, PSNR / silhouette IoU vs the
  reference's 68.41 / 1.0): meshforge.render.render supersample 2: 43.7 / 0.9962; 4: 49.0 /
  0.9986; 8: 57.7 / 0.9997; llvmpipe's four MSAA positions on the 2x raster, shaded at the pixel
  centre: 60.9 / 0.99997; the same shaded per sample (what meshforge.evaluate does): 63.2 /
  0.99997, at about the cost of supersample 4.
- Geometry (samples, chamfer, F-score, volume IoU, ICP) follows the same recipe with the same
  libraries, so it agrees to the printed 5 decimals; mesh facts and ICP transforms are identical.
"""


def cases(eval_dir: Path, work: Path) -> list[tuple[str, Path, Path]]:
    """(label, GT folder, prediction file) for every cross-checked prediction."""
    out = [
        ("WaterBottle GT vs itself", eval_dir / "WaterBottle", eval_dir / "WaterBottle/gt.glb"),
        ("Avocado GT vs WaterBottle", eval_dir / "WaterBottle", eval_dir / "Avocado/gt.glb"),
    ]
    meshforge = shutil.which("meshforge") or str(Path(sys.executable).parent / "meshforge")
    for name in GENERATED:
        pred = work / name / "input.glb"
        if not pred.is_file():
            photo = eval_dir / name / "input.png"
            flags = ["--height", "1", "--no-thumbnail", "-q"]
            out_dir = str(work / name)
            subprocess.run([meshforge, "generate", str(photo), "-o", out_dir, *flags], check=True)
        out.append((f"meshforge {name}", eval_dir / name, pred))
    return out


def reference(python: str, evalkit: Path, gt: Path, pred: Path) -> dict[str, Any]:
    run = subprocess.run(
        [python, str(evalkit / "score.py"), str(gt), str(pred), "--compact"],
        check=False,
        capture_output=True,
        text=True,
    )
    if not run.stdout.strip():
        raise RuntimeError(f"reference scorer failed: {run.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def agreement(ours: float, ref: float) -> tuple[float, bool]:
    diff = abs(ours - ref)
    rel = diff / max(abs(ref), 1e-9)
    ok = rel <= REL_TOL or (abs(ref) < NEAR_ZERO and diff <= ABS_TOL)
    return rel, ok


def table(label: str, ref: dict[str, Any], ours: dict[str, Any]) -> tuple[list[str], int, float]:
    """Markdown lines for one prediction, the number of failing metrics and the worst rel."""
    lines = [
        f"### {label}",
        "",
        f"`{ours['pred']}` scored against `{ours['gt_dir']}`",
        "",
        "| metric | raw ref | raw ours | raw rel | aligned ref | aligned ours | aligned rel |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    failures, worst = 0, 0.0
    for metric in METRICS:
        cells = [metric]
        for part in ("raw", "aligned"):
            r, o = float(ref[part][metric]), round(float(ours[part][metric]), 5)
            rel, ok = agreement(o, r)
            failures += not ok
            worst = max(worst, rel if abs(r) >= NEAR_ZERO else 0.0)
            cells += [f"{r:.5f}", f"{o:.5f}", f"{100 * rel:.3f} %" + ("" if ok else " **FAIL**")]
        lines.append("| " + " | ".join(cells) + " |")
    same_facts = ref["mesh"] == ours["mesh"]
    failures += not same_facts
    ref_icp, our_icp = ref["aligned"]["icp"], ours["aligned"]["icp"]
    lines += [
        "",
        f"- mesh facts identical: {same_facts}"
        + ("" if same_facts else f" (ref {ref['mesh']}, ours {ours['mesh']})"),
        f"- ICP start yaw: ref {ref_icp['start_yaw_deg']}, ours {our_icp['start_yaw_deg']}; "
        f"rotation ref {ref_icp['rotation_angle_deg']} deg, ours {our_icp['rotation_angle_deg']} "
        f"deg; translation ref {ref_icp['translation']}, ours {our_icp['translation']}",
        f"- seconds: ref {ref['seconds']}, ours {ours['seconds']}",
        "",
    ]
    return lines, failures, worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--evalkit", type=Path, required=True, help="folder holding score.py")
    ap.add_argument("--evalkit-python", default="/tmp/evalkit/bin/python")
    ap.add_argument("--eval", type=Path, required=True, help="the ground-truth folders")
    ap.add_argument("--work", type=Path, default=Path("/tmp/xc"), help="generated predictions")
    ap.add_argument("--cache", type=Path, help="keep the reference's JSON here and reuse it")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/metrics_crosscheck.md"))
    a = ap.parse_args(argv)
    command = " ".join(["python", "benchmarks/crosscheck_metrics.py", *sys.argv[1:]])
    body, total_failures = [], 0
    for label, gt, pred in cases(a.eval, a.work):
        cached = a.cache / f"{label.replace(' ', '_')}.json" if a.cache else None
        if cached is not None and cached.is_file():
            ref = json.loads(cached.read_text())
        else:
            ref = reference(a.evalkit_python, a.evalkit, gt, pred)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_text(json.dumps(ref))
        if "error" in ref:
            raise RuntimeError(f"reference scorer: {ref['error']}")
        ours = score(gt, pred)
        lines, failures, worst = table(label, ref, ours)
        total_failures += failures
        body += lines
        sys.stderr.write(f"{label}: {failures} failing, worst rel {100 * worst:.3f} %\n")
    header = [
        "# meshforge.evaluate vs the reference scorer (evalkit/score.py)",
        "",
        f"Made by `{command}` on {time.strftime('%Y-%m-%d')}.",
        "",
        "Both scorers' values rounded to 5 decimals (as the reference prints them). rel = "
        "|ours - ref| / max(|ref|, 1e-9); a metric agrees when rel <= 1 %, or, where the "
        "reference is below 1e-3 in magnitude (chamfer of a GT against itself), when "
        "|ours - ref| <= 1e-4.",
        "",
        f"**Failing metrics: {total_failures}.**",
        "",
    ]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(header + body) + "\n" + NOTES)
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(main())
