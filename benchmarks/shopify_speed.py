"""Speed and look of the `shopify` profile on a ~500k-face textured mesh.

    python benchmarks/shopify_speed.py [--eval ../shared/eval] [--asset WaterBottle]
                                       [--faces 500000] [--runs 3]

The dense mesh: the asset's gt.glb (read in place) with its pivot put at the bottom centre (so the
profile's own pivot step moves nothing and renders line up), split 1-to-4 at edge midpoints
(``trimesh.remesh.subdivide``, UVs and normals carried as vertex attributes and interpolated
linearly) while that stays under the target, then the remaining faces made by 1-to-3 centroid
splits of the first faces (which adds no vertex on any edge, so no T-junction): WaterBottle's
4,510 faces -> 288,640 -> exactly 500,000. Seams stay seams: the source's split vertices are
split in the dense mesh too.

Timed: ``asset.transform(*transforms_for(load_profile("shopify")))`` followed by
``meshforge.save(..., "out.glb")``, ``--runs`` times in one process (the first run reported
apart), and once `meshforge optimize dense.glb -o out.glb --profile shopify` as a fresh process
(load, transforms, save and validation). Look: base colour (unlit, ``lit=False``) renders of the
dense mesh and of the written GLB read back, 512 px, ``fit_camera`` on the dense mesh's bounds,
8 azimuths at 15 degrees elevation; PSNR over the whole frame on white and over the pixels either
render covers. Targets: <= 10 s, >= 30 dB.

Results: benchmarks/results/shopify_speed.json and shopify_speed.md (and the renders side by side
in benchmarks/results/shopify_speed.png). The dense GLB is left at
``$TMPDIR/meshforge-bench/<asset>_<faces>.glb`` for benchmarks/vs_gltf_transform.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import machine, meshforge_command

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PROFILE_YAML = ROOT / "src" / "meshforge" / "validate" / "profiles" / "shopify.yaml"
DENSE_DIR = Path(tempfile.gettempdir()) / "meshforge-bench"
TARGET_S = 10.0
TARGET_PSNR_DB = 30.0
AZIMUTHS = (0, 45, 90, 135, 180, 225, 270, 315)
ELEVATION = 15.0


def subdivide_mesh(mesh: Any, target: int) -> Any:
    """The mesh split to exactly ``target`` faces (or the nearest count below it reachable)."""
    import trimesh.remesh

    from meshforge.asset import Mesh

    vertices, faces = np.asarray(mesh.vertices, float), np.asarray(mesh.faces, np.int64)
    attributes: dict[str, np.ndarray] = {}
    if mesh.uv is not None:
        attributes["uv"] = np.asarray(mesh.uv, float)
    if mesh.normals is not None:
        attributes["normals"] = np.asarray(mesh.normals, float)
    while len(faces) * 4 <= target:
        vertices, faces, attributes = trimesh.remesh.subdivide(
            vertices, faces, vertex_attributes=attributes
        )
    # 1-to-3 centroid splits of the first k faces: +2 faces each, no new vertex on an edge.
    k = min((target - len(faces)) // 2, len(faces))
    if k > 0:
        chosen = faces[:k]
        centre_index = len(vertices) + np.arange(k)
        vertices = np.vstack([vertices, vertices[chosen].mean(axis=1)])
        attributes = {
            name: np.vstack([values, values[chosen].mean(axis=1)])
            for name, values in attributes.items()
        }
        a, b, c = chosen[:, 0], chosen[:, 1], chosen[:, 2]
        faces = np.vstack(
            [
                np.column_stack([a, b, centre_index]),
                np.column_stack([b, c, centre_index]),
                np.column_stack([c, a, centre_index]),
                faces[k:],
            ]
        )
    normals = attributes.get("normals")
    if normals is not None:
        normals = normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return Mesh(
        vertices.astype(np.float64),
        faces.astype(np.int64),
        uv=attributes.get("uv"),
        normals=normals,
        material=mesh.material,
        name=mesh.name,
    )


def make_dense(eval_dir: Path, asset_name: str, faces: int) -> tuple[Any, Path]:
    """The dense asset in memory and written as a GLB under DENSE_DIR (reused when present)."""
    import dataclasses

    import meshforge
    from meshforge.api import load
    from meshforge.transforms import pivot

    source = load(eval_dir / asset_name / "gt.glb").transform(pivot(position="bottom-center"))
    total = source.face_count
    meshes = []
    for mesh in source.meshes:  # each mesh gets its share of the target
        share = round(faces * len(mesh.faces) / total)
        meshes.append(subdivide_mesh(mesh, share))
    dense = dataclasses.replace(source, meshes=meshes, reports=[])
    path = DENSE_DIR / f"{asset_name}_{dense.face_count}.glb"
    if not path.is_file():
        DENSE_DIR.mkdir(parents=True, exist_ok=True)
        meshforge.save(dense, path)
    return dense, path


def renders(asset: Any, bounds: np.ndarray) -> list[np.ndarray]:
    from meshforge.render.camera import fit_camera
    from meshforge.render.raster import render_asset

    return [
        render_asset(asset, fit_camera(bounds, az, ELEVATION, size=512), lit=False)
        for az in AZIMUTHS
    ]


def psnr(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """PSNR over the frame composited on white, and over the pixels either image covers."""

    def on_white(rgba: np.ndarray) -> np.ndarray:
        a = rgba[..., 3:4].astype(np.float64) / 255
        return rgba[..., :3].astype(np.float64) * a + 255 * (1 - a)

    x, y = on_white(before), on_white(after)
    covered = (before[..., 3] > 0) | (after[..., 3] > 0)

    def db(err: np.ndarray) -> float:
        mse = float(np.mean(err))
        return float("inf") if mse == 0 else round(10 * np.log10(255.0**2 / mse), 2)

    sq = (x - y) ** 2
    return {"frame_db": db(sq), "object_db": db(sq[covered])}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--asset", default="WaterBottle")
    parser.add_argument("--faces", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-cli", action="store_true", help="skip the fresh-process run")
    args = parser.parse_args()

    import meshforge
    from meshforge.api import load
    from meshforge.transforms.chain import transforms_for
    from meshforge.validate.profiles import load_profile

    started = time.time()
    t0 = time.perf_counter()
    dense, dense_path = make_dense(args.eval, args.asset, args.faces)
    make_s = time.perf_counter() - t0
    print(f"dense mesh: {dense.face_count} faces, {dense.vertex_count} vertices ({make_s:.1f} s)")

    profile = load_profile("shopify")
    runs: list[dict[str, Any]] = []
    out_dir = Path(tempfile.mkdtemp(prefix="meshforge-shopify-"))
    output = out_dir / "out.glb"
    result = dense
    for i in range(args.runs):
        t0 = time.perf_counter()
        result = dense.transform(*transforms_for(profile))
        t1 = time.perf_counter()
        meshforge.save(result, output)
        t2 = time.perf_counter()
        stages = {r.stage: round(r.seconds, 3) for r in result.reports}
        runs.append(
            {
                "seconds": round(t2 - t0, 3),
                "transforms_s": round(t1 - t0, 3),
                "save_s": round(t2 - t1, 3),
                "stages": stages,
            }
        )
        print(f"run {i + 1}: {runs[-1]}")
    decimate_report = next(r for r in result.reports if r.stage == "decimate")
    timed = runs[1:] if len(runs) > 1 else runs

    # One fresh process, as a user runs it: load, transforms, save and validation.
    cli_out = out_dir / "cli.glb"
    command = [*meshforge_command(), "optimize", str(dense_path), "-o", str(cli_out)]
    command += ["--profile", "shopify", "--json"]
    cli_s, exit_code, cli_validation = float("nan"), None, None
    if not args.no_cli:
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        cli_s, exit_code = time.perf_counter() - t0, done.returncode
        cli_validation = json.loads(done.stdout)["validation"] if done.stdout else None

    after = load(output)
    bounds = dense.bounds()
    shift = float(np.abs(after.bounds() - bounds).max())
    before_images, after_images = renders(dense, bounds), renders(after, bounds)
    views = [
        {"azimuth": az, **psnr(b, a)}
        for az, b, a in zip(AZIMUTHS, before_images, after_images, strict=True)
    ]
    from PIL import Image

    sheet = np.concatenate(
        [np.concatenate(before_images, axis=1), np.concatenate(after_images, axis=1)], axis=0
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).resize((sheet.shape[1] // 4, sheet.shape[0] // 4)).save(
        RESULTS / "shopify_speed.png"
    )

    median_s = round(statistics.median(r["seconds"] for r in timed), 3)
    mean_frame = round(float(np.mean([v["frame_db"] for v in views])), 2)
    mean_object = round(float(np.mean([v["object_db"] for v in views])), 2)
    document = {
        "command": "python benchmarks/shopify_speed.py "
        + f"--asset {args.asset} --faces {args.faces} --runs {args.runs}"
        + (" --no-cli" if args.no_cli else ""),
        "profile_sha256": hashlib.sha256(PROFILE_YAML.read_bytes()).hexdigest()[:16],
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "input": {
            "asset": args.asset,
            "faces": dense.face_count,
            "vertices": dense.vertex_count,
            "build_seconds": round(make_s, 2),
            "glb": str(dense_path),
            "glb_bytes": dense_path.stat().st_size,
        },
        "profile_transforms": [t.name for t in profile.transforms],
        "output": {
            "faces": after.face_count,
            "vertices": after.vertex_count,
            "glb_bytes": output.stat().st_size,
            "decimate": decimate_report.details,
            "bounds_shift_m": shift,
        },
        "runs": runs,
        "first_run_s": runs[0]["seconds"],
        "median_s": median_s,
        "median_of": "runs 2.." if len(runs) > 1 else "run 1",
        "target_s": TARGET_S,
        "cli_optimize": {
            "command": "meshforge optimize DENSE.glb -o OUT.glb --profile shopify --json",
            "seconds": round(cli_s, 2),
            "exit_code": exit_code,
            "failing": [c["id"] for c in cli_validation["checks"] if c["status"] == "FAIL"]
            if cli_validation
            else None,
        },
        "look": {
            "render": "base colour (lit=False), 512 px, fit_camera on the dense bounds, "
            f"elevation {ELEVATION} deg",
            "views": views,
            "mean_frame_db": mean_frame,
            "mean_object_db": mean_object,
            "min_object_db": min(v["object_db"] for v in views),
            "target_db": TARGET_PSNR_DB,
        },
        "seconds": round(time.time() - started, 1),
    }
    (RESULTS / "shopify_speed.json").write_text(json.dumps(document, indent=1, default=str) + "\n")
    (RESULTS / "shopify_speed.md").write_text(markdown(document))
    print(markdown(document))


def markdown(d: dict[str, Any]) -> str:
    m = d["machine"]
    inp, out, look = d["input"], d["output"], d["look"]
    lines = [
        "# `shopify` profile on a ~500k-face textured mesh",
        "",
        f"Command: `{d['command']}`  ",
        f"Date: {d['date']}  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}",
        "",
        f"Input: {inp['asset']} gt.glb subdivided to {inp['faces']:,} faces / "
        f"{inp['vertices']:,} vertices ({inp['glb_bytes'] / 1e6:.1f} MB GLB).  ",
        f"Transforms: {', '.join(d['profile_transforms'])}; then `meshforge.save` to GLB.  ",
        f"Output: {out['faces']:,} faces / {out['vertices']:,} vertices, "
        f"{out['glb_bytes'] / 1e6:.2f} MB.",
        "",
        "| | seconds | target |",
        "|---|---|---|",
        f"| first run (transforms + save) | {d['first_run_s']} | |",
        f"| median of {d['median_of']} (transforms + save) | {d['median_s']} "
        f"| <= {d['target_s']} |",
        f"| `meshforge optimize` fresh process (load + transforms + save + validate) "
        f"| {d['cli_optimize']['seconds']} | |",
        "",
        "Per run: "
        + "; ".join(
            f"{r['seconds']} s ("
            + ", ".join(f"{k} {v}" for k, v in r["stages"].items())
            + f", save {r['save_s']})"
            for r in d["runs"]
        ),
        "",
        f"`meshforge optimize` exit code {d['cli_optimize']['exit_code']}, failing checks: "
        f"{', '.join(d['cli_optimize']['failing'] or []) or 'none'}.",
        "",
        f"## Look ({look['render']})",
        "",
        "| azimuth | PSNR frame (dB) | PSNR object pixels (dB) |",
        "|---|---|---|",
        *[f"| {v['azimuth']} | {v['frame_db']} | {v['object_db']} |" for v in look["views"]],
        f"| **mean** | **{look['mean_frame_db']}** | **{look['mean_object_db']}** |",
        "",
        f"Target >= {look['target_db']} dB. Renders (top: dense input, bottom: written GLB read "
        "back): `shopify_speed.png`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
