"""Wall time of `meshforge generate` on the sample photo and of `import meshforge`.

Each run is a fresh process, as a user runs it. One warm-up run first (it fills the OS file cache
and builds onnxruntime's optimised-graph cache); then the median of the timed runs is reported,
with the per-stage medians from the reports. Results go to benchmarks/results/generate.json and
generate.md with the machine they came from.

    python benchmarks/bench_generate.py [--runs 9] [--import-runs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "waterbottle.png"
RESULTS = ROOT / "benchmarks" / "results"
TARGET_GENERATE_S = 2.0
TARGET_IMPORT_S = 0.3


def meshforge_command() -> list[str]:
    exe = shutil.which("meshforge", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "meshforge.cli"]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def machine() -> dict[str, object]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory_gib = round(kib / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    import onnxruntime

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--import-runs", type=int, default=30)
    args = parser.parse_args()

    out = Path(tempfile.mkdtemp(prefix="meshforge-bench-"))
    command = [
        *meshforge_command(),
        "generate",
        str(SAMPLE),
        "-o",
        str(out),
        "--height",
        "0.26",
        "-q",
    ]
    timed(command)  # warm-up
    walls, stages = [], []
    for _ in range(args.runs):
        walls.append(timed(command))
        report = json.loads((out / "waterbottle.report.json").read_text())
        stages.append(report["timings"])
        segmenter = report["stages"][1]["details"]["backend"]
    python_only = statistics.median(
        timed([sys.executable, "-c", "pass"]) for _ in range(args.import_runs)
    )
    imports = [timed([sys.executable, "-c", "import meshforge"]) for _ in range(args.import_runs)]
    shutil.rmtree(out)

    result = {
        "command": "meshforge generate examples/waterbottle.png -o OUT --height 0.26 -q",
        "segmenter": segmenter,
        "runs": args.runs,
        "generate_wall_s": {
            "median": statistics.median(walls),
            "min": min(walls),
            "max": max(walls),
            "all": [round(w, 3) for w in walls],
        },
        "stage_median_s": {k: round(statistics.median(s[k] for s in stages), 4) for k in stages[0]},
        "import_wall_s": {
            "median": statistics.median(imports),
            "min": min(imports),
            "python_startup_median": python_only,
        },
        "targets": {"generate_median_s": TARGET_GENERATE_S, "import_s": TARGET_IMPORT_S},
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "generate.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "generate.md").write_text(render_markdown(result))
    print(render_markdown(result))


def render_markdown(r: dict) -> str:  # type: ignore[type-arg]
    g, i, m = r["generate_wall_s"], r["import_wall_s"], r["machine"]
    stages = ", ".join(f"{k} {v:.3f}" for k, v in r["stage_median_s"].items())
    return (
        "# generate and import times\n\n"
        f"Command: `python benchmarks/bench_generate.py --runs {r['runs']}` on {r['date']}.\n\n"
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, "
        f"Python {m['python']}, onnxruntime {m['onnxruntime']}.\n\n"
        "| measure | median | min | max | target |\n|---|---|---|---|---|\n"
        f"| `{r['command']}` wall time, s ({r['segmenter']}) | {g['median']:.3f} | "
        f"{g['min']:.3f} | {g['max']:.3f} | <= {r['targets']['generate_median_s']} |\n"
        f'| `python -c "import meshforge"` wall time, s | {i["median"]:.3f} | {i["min"]:.3f} '
        f"| | <= {r['targets']['import_s']} |\n"
        f"| `python -c pass` (interpreter start alone), s | {i['python_startup_median']:.3f} "
        "| | | |\n\n"
        f"Per-stage medians inside the run (s): {stages}.\n\n"
        "Each run is a fresh process after one warm-up run; the machine is shared and noisy, "
        "so compare figures taken in one run.\n"
    )


if __name__ == "__main__":
    main()
