"""Quality of the built-in engine against the ground truth in ../shared/eval (PROTOCOL.md), and
validity on the real photos; results, summary and contact sheets under benchmarks/results/.

    python benchmarks/quality.py [--eval ../shared/eval] [--only NAME ...] [-E shape=inflate]

Equivalent to `meshforge bench quality DIR -o benchmarks/results/quality` followed by
`meshforge bench photos DIR/photos -o benchmarks/results/photos`, plus the machine description.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from meshforge.evaluate.photos import run_photos
from meshforge.evaluate.suite import run_suite

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("-E", "--engine-option", action="append", default=[])
    parser.add_argument("--no-photos", action="store_true")
    args = parser.parse_args()
    options = {}
    for item in args.engine_option:
        key, _, value = item.partition("=")
        options[key] = json.loads(value) if value[:1] in "0123456789-[{tf" else value

    started = time.time()
    document = run_suite(args.eval, RESULTS / "quality", only=args.only, engine_options=options)
    if not args.no_photos and (args.eval / "photos").is_dir():
        photos = run_photos(args.eval / "photos", RESULTS / "photos")
        print(f"photos: {photos['valid']} of {photos['total']} valid")
    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }
    (RESULTS / "quality" / "run.json").write_text(
        json.dumps(
            {
                "command": "python benchmarks/quality.py "
                + " ".join(
                    [f"-E {o}" for o in args.engine_option]
                    + (["--only", *args.only] if args.only else [])
                ),
                "date": time.strftime("%Y-%m-%d"),
                "seconds": round(time.time() - started, 1),
                "machine": machine,
            },
            indent=2,
        )
        + "\n"
    )
    print(json.dumps(document["summary"]["aligned"]["overall"], indent=2))


if __name__ == "__main__":
    main()
