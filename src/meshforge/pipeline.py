"""Runs a Recipe stage by stage: load, segment, check, frame (a photo's stages; a prompt skips
them), reconstruct, scale, pivot, export, render. Each stage is timed and leaves a StageReport;
progress goes to an optional callback.

The library never prints: the CLI and the service turn the events and reports into output.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshforge.asset import Asset, InputRecord
from meshforge.recipe import ImageInput, PromptInput, Recipe
from meshforge.transforms.base import StageReport

if TYPE_CHECKING:
    from meshforge.engines.base import GenerationRequest
    from meshforge.validate.profiles import Profile

# Stage names in order, with their rough share of the run time (for the overall progress).
# A prompt skips the photo's stages (PHOTO_STAGES).
STAGES: tuple[tuple[str, float], ...] = (
    ("load", 0.05),
    ("segment", 0.35),
    ("check", 0.05),
    ("frame", 0.05),
    ("reconstruct", 0.25),
    ("scale", 0.02),
    ("pivot", 0.02),
    ("export", 0.11),
    ("render", 0.10),
)
PHOTO_STAGES = ("load", "segment", "check", "frame")


@dataclass(frozen=True)
class ProgressEvent:
    """``fraction`` is the whole job's progress (0..1); ``stage_fraction`` the stage's."""

    stage: str
    fraction: float
    stage_fraction: float
    message: str = ""


ProgressListener = Callable[[ProgressEvent], None]


@dataclass
class GenerateResult:
    asset: Asset
    outputs: dict[str, list[Path]]
    report_path: Path
    report: dict[str, Any]
    seconds: float
    reports: list[StageReport] = field(default_factory=list)

    @property
    def warnings(self) -> list[Any]:
        return [w for r in self.reports for w in r.warnings]


class _Progress:
    """Stage fractions into the job's fraction; the stages in ``skip`` do not run, so the
    others' weights are scaled up to fill the whole."""

    def __init__(self, listener: ProgressListener | None, skip: tuple[str, ...] = ()) -> None:
        self.listener = listener
        stages = [(name, weight) for name, weight in STAGES if name not in skip]
        total = sum(weight for _, weight in stages)
        self.starts: dict[str, float] = {}
        self.weights = {name: weight / total for name, weight in stages}
        done = 0.0
        for name, _ in stages:
            self.starts[name] = done
            done += self.weights[name]

    def emit(self, stage: str, stage_fraction: float, message: str = "") -> None:
        if self.listener is None:
            return
        overall = self.starts.get(stage, 0.0) + self.weights.get(stage, 0.0) * stage_fraction
        self.listener(ProgressEvent(stage, min(overall, 1.0), stage_fraction, message))

    def for_stage(self, stage: str) -> Callable[[float, str], None]:
        def report(fraction: float, message: str = "") -> None:
            self.emit(stage, fraction, message)

        return report


def run(recipe: Recipe, on_progress: ProgressListener | None = None) -> GenerateResult:
    """Execute one generate job and write its outputs and NAME.report.json.

    A photo goes through load, segment, check and frame before the engine; a prompt goes to
    the engine as it is. Either way the engine's asset is then scaled, pivoted, exported,
    rendered and reported the same way.
    """
    from meshforge.engines.base import check_input, create_engine
    from meshforge.export.registry import exporters, save
    from meshforge.transforms.pivot import pivot
    from meshforge.transforms.scale import scale

    started = time.perf_counter()
    prompt = isinstance(recipe.input, PromptInput)
    progress = _Progress(on_progress, skip=PHOTO_STAGES if prompt else ())
    reports: list[StageReport] = []

    @contextmanager
    def stage(name: str, **options: Any) -> Iterator[StageReport]:
        report = StageReport(stage=name, options=options)
        progress.emit(name, 0.0)
        with report.timed():
            yield report
        reports.append(report)
        progress.emit(name, 1.0, report.summary())

    # Validate the engine, its options and that it takes this input before any work, so a
    # typo or a mismatch fails fast.
    engine = create_engine(recipe.engine.name, recipe.engine.options)
    check_input(engine, "prompt" if prompt else "photo")

    if isinstance(recipe.input, PromptInput):
        request, source = _prompt_request(recipe.input.prompt)
    else:
        request, source = _photo_request(recipe, stage)

    engine_options = engine.options.model_dump(mode="json")
    with stage("reconstruct", engine=engine.name, **engine_options) as rep:
        raw = engine.generate(request, rep, progress.for_stage("reconstruct"))
        rep.version = engine.version
    raw.provenance.inputs.append(source)
    asset = raw.transform(
        scale(height=recipe.size.height, width=recipe.size.width, depth=recipe.size.depth)
    )
    asset = asset.transform(pivot())
    for transform_report in asset.reports:
        progress.emit(transform_report.stage, 1.0, transform_report.summary())
    reports.extend(asset.reports)

    out_dir = recipe.output.directory
    name = recipe.output_name
    outputs: dict[str, list[Path]] = {}
    with stage("export", formats=list(recipe.output.formats)) as report:
        for fmt in recipe.output.formats:
            ext = exporters()[fmt].extension
            outputs[fmt] = save(asset, out_dir / f"{name}{ext}", fmt)
            report.note(f"{fmt}_bytes", sum(p.stat().st_size for p in outputs[fmt]))

    if recipe.output.thumbnail or recipe.output.turntable:
        with stage("render", size=recipe.output.thumbnail_size) as report:
            outputs.update(_render_previews(asset, recipe, out_dir, name, report))

    asset.reports = reports
    seconds = time.perf_counter() - started
    from meshforge.reporting import build_report, write_report

    report_path = out_dir / f"{name}.report.json"
    document = build_report(recipe, asset, outputs, seconds)
    write_report(document, report_path)
    return GenerateResult(
        asset=asset,
        outputs=outputs,
        report_path=report_path,
        report=document,
        seconds=seconds,
        reports=reports,
    )


StageContext = Callable[..., AbstractContextManager[StageReport]]


def _prompt_request(prompt: str) -> tuple[GenerationRequest, InputRecord]:
    """The engine's request for a text prompt, and the prompt's input record."""
    from meshforge.engines.base import GenerationRequest

    data = prompt.encode()
    record = InputRecord(
        kind="prompt",
        path="",
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
        details={"text": prompt},
    )
    return GenerationRequest(prompt=prompt), record


def _photo_request(recipe: Recipe, stage: StageContext) -> tuple[GenerationRequest, InputRecord]:
    """Load, segment, check and frame the photo: the engine's request and the photo's record."""
    from meshforge.engines.base import GenerationRequest
    from meshforge.image.frame import frame_subject
    from meshforge.image.load import load_image
    from meshforge.image.quality import check_quality
    from meshforge.image.segment import prefetch, segment

    assert isinstance(recipe.input, ImageInput)
    prefetch(recipe.segment.segmenter)
    with stage("load") as report:
        photo = load_image(recipe.input.path)
        report.warnings.extend(photo.warnings)
        report.note("format", photo.format)
        report.note("size_px", [photo.width, photo.height])
        report.note("has_alpha", photo.has_alpha)
        report.note("sha256", photo.sha256)

    with stage("segment", **recipe.segment.model_dump(mode="json")) as report:
        cut = segment(
            photo.pixels,
            has_alpha=photo.has_alpha,
            backend=recipe.segment.segmenter,
            feather_px=recipe.segment.feather_px,
        )
        report.warnings.extend(cut.warnings)
        report.note("backend", cut.backend)
        report.details.update(cut.details)

    with stage("check") as report:
        report.warnings.extend(check_quality(photo.pixels[..., :3], cut.alpha))

    with stage("frame", **recipe.frame.model_dump(mode="json")) as report:
        framed = frame_subject(
            photo.pixels[..., :3],
            cut.alpha,
            foreground_ratio=recipe.frame.foreground_ratio,
            size=recipe.frame.size,
        )
        report.note("subject_box_px", list(framed.subject_box))
        report.note("scale", round(framed.scale, 6))

    request = GenerationRequest(
        image=framed,
        photo_size=(photo.width, photo.height),
        focal_length_35mm=photo.focal_length_35mm,
    )
    record = InputRecord(
        kind="photo",
        path=str(recipe.input.path),
        sha256=photo.sha256,
        bytes=photo.bytes,
        details={"format": photo.format, "width": photo.width, "height": photo.height},
    )
    return request, record


def _render_previews(
    asset: Asset, recipe: Recipe, out_dir: Path, name: str, report: StageReport
) -> dict[str, list[Path]]:
    """The thumbnail (NAME.png) and, when asked, the turntable (NAME_turntable.*).

    Without OpenGL the thumbnail comes from the numpy rasteriser instead, with a warning: a
    missing preview must not lose the asset. A turntable asked for needs OpenGL.
    """
    from meshforge.errors import DependencyError
    from meshforge.render.presets import RenderOptions, render_preset

    spec = recipe.output
    written: dict[str, list[Path]] = {}
    options = RenderOptions(size=spec.thumbnail_size)
    if spec.thumbnail:
        try:
            written["thumbnail"] = render_preset(asset, "thumbnail", out_dir, name, options)
            report.note("renderer", "opengl")
        except DependencyError as error:
            from meshforge.render.thumbnail import render_thumbnail, save_png

            report.warn("no-opengl", f"{error}; the thumbnail was drawn by the numpy rasteriser")
            report.note("renderer", "numpy")
            path = out_dir / f"{name}.png"
            save_png(render_thumbnail(asset, size=spec.thumbnail_size), path)
            written["thumbnail"] = [path]
    if spec.turntable:
        small = RenderOptions(size=spec.turntable_size, frames=spec.turntable_frames)
        written["turntable"] = render_preset(asset, "turntable", out_dir, name, small)
    return written


# Output kinds that are renders of the asset, not files of it.
PREVIEWS = ("thumbnail", "turntable")


def resave(result: GenerateResult, asset: Asset) -> dict[str, Path]:
    """Write ``asset`` over the result's model files (not its previews); they, by format."""
    from meshforge.export.registry import save

    files = {fmt: paths[0] for fmt, paths in result.outputs.items() if fmt not in PREVIEWS}
    for fmt, path in files.items():
        save(asset, path, fmt)
    result.asset = asset
    return files


def apply_profile_to_result(result: GenerateResult, profile: Profile) -> bool:
    """Run the profile's transforms, re-save the outputs, validate the first output the profile
    accepts (else the first) and add it all to the report as ``profile``; True when it passed."""
    from meshforge.reporting import write_report
    from meshforge.transforms.chain import apply_profile
    from meshforge.validate.report import validate_file

    asset, reports = apply_profile(result.asset, profile)
    files = resave(result, asset)
    checked = next((files[f] for f in profile.formats if f in files), next(iter(files.values())))
    validation = validate_file(checked, profile)
    result.report["profile"] = {
        "name": profile.name,
        "transforms": [r.to_dict() for r in reports],
        "validation": validation.to_dict(),
        # The previews a reviewer looks at beside the checks.
        "renders": {
            k: [str(p) for p in result.outputs[k]] for k in PREVIEWS if k in result.outputs
        },
    }
    write_report(result.report, result.report_path)
    return validation.passed
