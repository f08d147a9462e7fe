"""The ``u2net`` / ``u2netp`` backends: U^2-Net salient-object ONNX models on the CPU.

The recipe is rembg's: 320 x 320 input scaled by its maximum, ImageNet mean/std, NCHW float32;
the first output, min-max normalised, resized back to the photo. onnxruntime is imported lazily
and one InferenceSession is kept per model file (building the u2net one takes about a second).
"""

from __future__ import annotations

import contextlib
import os
import platform
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.errors import DependencyError, ModelNotInstalledError
from meshforge.models import INSTALL_HINT, is_installed, model_path, require_model
from meshforge.settings import get_settings

_SIZE = 320
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# Min-max normalisation would blow a featureless response (a blank photo) up into a fake
# object; below this raw peak the output is taken as it is.
_MIN_PEAK = 0.2

_sessions: dict[tuple[str, int], Any] = {}
_lock = threading.Lock()


def _session(path: str, threads: int) -> Any:
    key = (path, threads)
    with _lock:
        if key not in _sessions:
            # Recent onnxruntime releases (1.31 here) write a device id and a telemetry queue
            # under ~/.cache/Microsoft unless this is set before the first import; meshforge
            # runs offline by default. setdefault: a user's explicit choice wins.
            os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
            try:
                import onnxruntime as ort
            except ImportError as exc:
                raise DependencyError(
                    f"onnxruntime cannot be imported ({exc})",
                    stage="segment",
                    hint="pip install onnxruntime, or use --segmenter color-key",
                ) from exc
            try:
                _sessions[key] = _create_session(ort, path, threads)
            except Exception as exc:  # onnxruntime raises its own untyped errors
                # install_model re-checks the hash of what is there and replaces a bad file.
                raise ModelNotInstalledError(
                    f"the model file {path} cannot be loaded ({exc})",
                    stage="segment",
                    hint=INSTALL_HINT,
                ) from exc
        return _sessions[key]


def optimized_cache_path(ort: Any, path: str) -> Path:
    """Where the graph-optimised copy of a model lives: next to it, keyed by the model file's
    size and time, onnxruntime's version and the CPU architecture (the copy is machine-specific)."""
    source = Path(path)
    stat = source.stat()
    tag = f"{stat.st_size}-{int(stat.st_mtime)}-ort{ort.__version__}-{platform.machine()}"
    return source.with_name(f".{source.stem}.{tag}.optimized.onnx")


def _create_session(ort: Any, path: str, threads: int) -> Any:
    """A CPU session; the optimised graph is saved on first use and loaded afterwards, which
    takes about 0.3 s off every later process's start (u2net, 2 cores)."""

    def options() -> Any:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads  # 0: onnxruntime uses every core
        opts.log_severity_level = 3  # errors only: keep the library silent
        # Idle worker threads would otherwise spin after each run and slow the stages that
        # follow on a small machine (thumbnail rendering took 2-3x longer on 2 cores).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    providers = ["CPUExecutionProvider"]
    cached = optimized_cache_path(ort, path)
    if cached.exists():
        opts = options()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(cached), sess_options=opts, providers=providers)
        except Exception:  # a stale or damaged cache: rebuild it from the model below
            cached.unlink(missing_ok=True)
    opts = options()
    partial = cached.with_name(cached.name + f".{os.getpid()}.partial")
    opts.optimized_model_filepath = str(partial)
    session = ort.InferenceSession(path, sess_options=opts, providers=providers)
    with contextlib.suppress(OSError):  # a read-only model folder only loses the speed-up
        partial.replace(cached)
    return session


def preprocess(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """RGB uint8 H x W x 3 -> the 1 x 3 x 320 x 320 float32 tensor U^2-Net expects."""
    import cv2

    height, width = rgb.shape[:2]
    shrink = height >= _SIZE and width >= _SIZE
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    small = cv2.resize(rgb, (_SIZE, _SIZE), interpolation=interpolation).astype(np.float32)
    small /= max(float(small.max()), 1.0)
    small = (small - _MEAN) / _STD
    return np.ascontiguousarray(small.transpose(2, 0, 1)[None], dtype=np.float32)


def postprocess(raw: NDArray[np.float32], height: int, width: int) -> NDArray[np.float32]:
    """The model's 320 x 320 map -> a [0, 1] map of the photo's size."""
    import cv2

    low, high = float(raw.min()), float(raw.max())
    if high >= _MIN_PEAK and high > low:
        raw = (raw - low) / (high - low)
    resized = cv2.resize(raw.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(resized, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class U2NetBackend:
    name: str = "u2net"
    soft: bool = True

    def available(self) -> bool:
        return is_installed(self.name)

    def prefetch(self) -> None:
        """Start loading the model in a background thread (it releases the GIL), so that it
        overlaps with reading the photo; ``probability`` waits for it through the lock."""
        if not self.available():
            return
        path, threads = str(model_path(self.name)), get_settings().threads

        def load() -> None:
            with contextlib.suppress(Exception):  # probability() reports errors properly
                _session(path, threads)

        threading.Thread(target=load, name=f"meshforge-{self.name}-load", daemon=True).start()

    def probability(self, pixels: NDArray[np.uint8]) -> NDArray[np.float32]:
        path = require_model(self.name, stage="segment")
        session = _session(str(path), get_settings().threads)
        rgb = np.ascontiguousarray(pixels[..., :3])
        first = session.get_outputs()[0].name
        (raw,) = session.run([first], {session.get_inputs()[0].name: preprocess(rgb)})
        return postprocess(np.asarray(raw, dtype=np.float32)[0, 0], *rgb.shape[:2])
