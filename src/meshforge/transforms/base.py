"""What every stage shares: the StageReport it fills, the Context it runs in, the Transform type.

A transform is a function over an :class:`~meshforge.asset.Asset` that returns the new Asset. The
built-ins are factories (``scale(height=0.25)``) that return a :class:`Transform` carrying a frozen
options model; a user's own function ``def my_step(asset, ctx) -> Asset`` goes through the same
call (``asset.transform(my_step)``). The runner times each step, counts faces before and after and
collects what the step writes into ``ctx`` as one StageReport.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from meshforge.asset import Asset


@dataclass(frozen=True)
class Notice:
    """A warning a stage raises without failing: ``code`` is stable, ``message`` is for people."""

    code: str
    message: str
    stage: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "stage": self.stage}


@dataclass
class StageReport:
    """What one stage did: its options, what it changed, its timings and warnings."""

    stage: str
    version: str = "1"
    options: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[Notice] = field(default_factory=list)
    seconds: float = 0.0

    def change(self, key: str, before: Any, after: Any) -> None:
        """Record that ``key`` went from ``before`` to ``after`` (faces, vertices, size ...)."""
        self.changes[key] = (before, after)

    def note(self, key: str, value: Any) -> None:
        """Record a fact the stage found or decided (a camera, a chosen backend ...)."""
        self.details[key] = value

    def warn(self, code: str, message: str) -> Notice:
        notice = Notice(code=code, message=message, stage=self.stage)
        self.warnings.append(notice)
        return notice

    @contextmanager
    def timed(self) -> Iterator[StageReport]:
        start = time.perf_counter()
        try:
            yield self
        finally:
            self.seconds += time.perf_counter() - start

    def summary(self) -> str:
        """One line for logs and the CLI: ``decimate: faces 873,000 -> 30,000 (-96.6%)``."""
        parts = [_describe_change(k, b, a) for k, (b, a) in self.changes.items()]
        text = ", ".join(parts) if parts else "done"
        return f"{self.stage}: {text} in {self.seconds * 1000:.0f} ms"

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "version": self.version,
            "seconds": round(self.seconds, 4),
            "options": self.options,
            "changes": {k: [b, a] for k, (b, a) in self.changes.items()},
            "details": self.details,
            "warnings": [w.to_dict() for w in self.warnings],
        }


def _describe_change(key: str, before: Any, after: Any) -> str:
    if isinstance(before, int | float) and isinstance(after, int | float) and before:
        pct = (after - before) / before * 100
        fmt = "{:,}" if isinstance(before, int) and isinstance(after, int) else "{:.4g}"
        return f"{key} {fmt.format(before)} -> {fmt.format(after)} ({pct:+.1f}%)"
    return f"{key} {before} -> {after}"


ProgressCallback = Callable[[float, str], None]


@dataclass
class Context:
    """What a transform sees besides the asset: its report and a progress callback (0..1)."""

    report: StageReport
    on_progress: ProgressCallback | None = None

    def progress(self, fraction: float, message: str = "") -> None:
        if self.on_progress is not None:
            self.on_progress(min(max(fraction, 0.0), 1.0), message)

    def warn(self, code: str, message: str) -> Notice:
        return self.report.warn(code, message)


class TransformFunction(Protocol):
    def __call__(self, asset: Asset, ctx: Context) -> Asset: ...


@dataclass(frozen=True)
class Transform:
    """A named, versioned step with frozen options: what the built-in factories return."""

    name: str
    function: TransformFunction
    options: Any = None
    version: str = "1"

    def __call__(self, asset: Asset, ctx: Context) -> Asset:
        return self.function(asset, ctx)

    def options_dict(self) -> dict[str, Any]:
        dump = getattr(self.options, "model_dump", None)
        return dict(dump(mode="json")) if callable(dump) else {}


def run_transform(
    asset: Asset,
    step: Transform | TransformFunction,
    on_progress: ProgressCallback | None = None,
) -> Asset:
    """Run one step, time it, record faces/vertices before and after and append its report."""
    if isinstance(step, Transform):
        report = StageReport(stage=step.name, version=step.version, options=step.options_dict())
    else:
        report = StageReport(stage=getattr(step, "__name__", "transform"), version="user")
    faces_before, vertices_before = asset.face_count, asset.vertex_count
    with report.timed():
        result = step(asset, Context(report=report, on_progress=on_progress))
    if result.face_count != faces_before:
        report.change("faces", faces_before, result.face_count)
    if result.vertex_count != vertices_before:
        report.change("vertices", vertices_before, result.vertex_count)
    return result.with_report(report)
