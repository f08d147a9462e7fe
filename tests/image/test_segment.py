"""Background removal on synthetic product photos with known masks, for every backend."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from meshforge.errors import (
    ModelNotInstalledError,
    NoForegroundError,
    RecipeError,
    SegmentationError,
)
from meshforge.image.segment import Segmentation, choose_backend, fill_holes, segment
from meshforge.settings import get_settings

Box = tuple[float, float, float, float]  # top, left, bottom, right as fractions of the photo


def rounded_box(shape: tuple[int, int], box: Box, radius: float = 0.06) -> NDArray[np.bool_]:
    """A rounded rectangle (a box-shaped product seen from the front)."""
    height, width = shape
    top, left, bottom, right = box[0] * height, box[1] * width, box[2] * height, box[3] * width
    r = radius * min(height, width)
    yy, xx = np.mgrid[0:height, 0:width] + 0.5
    cy, cx = np.clip(yy, top + r, bottom - r), np.clip(xx, left + r, right - r)
    inside = (yy >= top) & (yy <= bottom) & (xx >= left) & (xx <= right)
    return np.asarray(inside & ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r))


def photo(
    mask: NDArray[np.bool_],
    background: str = "white",
    colour: tuple[int, int, int] = (200, 40, 40),
    printed: bool = True,
) -> NDArray[np.uint8]:
    """An opaque RGBA photo: a printed product (stripes, dots) on white or a grey gradient."""
    height, width = mask.shape
    yy, xx = np.mgrid[0:height, 0:width]
    if background == "white":
        image = np.full((height, width, 3), 255.0)
    else:  # a light grey studio sweep: darker towards the bottom and the right
        grey = 228.0 - 30.0 * yy / height - 10.0 * xx / width
        image = np.repeat(grey[..., None], 3, axis=2)
    body = np.empty((height, width, 3))
    body[...] = colour
    if printed:
        body[((yy // 12) % 2 == 0) & ((xx // 40) % 3 == 0)] = (250, 220, 60)
        body[(yy % 30 - 15) ** 2 + (xx % 30 - 15) ** 2 < 25] = (30, 30, 120)
    image[mask] = body[mask]
    image += np.random.default_rng(0).normal(0.0, 2.0, image.shape)  # sensor noise
    rgb = np.clip(image, 0, 255).astype(np.uint8)
    return np.dstack([rgb, np.full((height, width), 255, np.uint8)])


def with_alpha(pixels: NDArray[np.uint8], mask: NDArray[np.bool_]) -> NDArray[np.uint8]:
    out = pixels.copy()
    out[..., 3] = np.where(mask, 255, 0)
    return out


def iou(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


PRODUCT: Box = (0.2, 0.3, 0.85, 0.7)


@pytest.fixture
def product() -> NDArray[np.bool_]:
    return rounded_box((512, 512), PRODUCT)


@pytest.fixture
def no_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty MESHFORGE_HOME: no model is installed."""
    monkeypatch.setenv("MESHFORGE_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def check(result: Segmentation, mask: NDArray[np.bool_], backend: str) -> float:
    assert result.backend == backend == result.details["backend"]
    assert result.alpha.dtype == np.float32
    assert result.alpha.shape == mask.shape
    assert result.alpha.min() >= 0.0
    assert result.alpha.max() <= 1.0
    assert result.warnings == []
    return iou(result.mask, mask)


# --- color-key -----------------------------------------------------------------------------


@pytest.mark.parametrize("background", ["white", "gradient"])
@pytest.mark.parametrize("shape", [(512, 512), (300, 200), (900, 1400)])
def test_color_key(background: str, shape: tuple[int, int]) -> None:
    mask = rounded_box(shape, PRODUCT)
    result = segment(photo(mask, background), has_alpha=False, backend="color-key")
    # Measured: 1.0 up to 512 px; 0.998 at 1400 px (grabCut runs downscaled, edge re-decided).
    assert check(result, mask, "color-key") >= 0.95
    assert result.details["objects"] == 1
    assert result.details["kept_fraction"] == pytest.approx(mask.mean(), rel=0.05)


def test_color_key_product_touching_the_border() -> None:
    mask = rounded_box((400, 400), (0.25, 0.3, 1.0, 0.7))  # cut off by the bottom edge
    result = segment(photo(mask, "gradient"), has_alpha=False, backend="color-key")
    assert iou(result.mask, mask) >= 0.95


def test_color_key_letterboxed_photo() -> None:
    mask = rounded_box((360, 480), PRODUCT)
    pixels = photo(mask)
    pixels[..., :3][~mask] = (240, 190, 190)  # a pink backdrop ...
    pixels[:40, :, :3] = pixels[-40:, :, :3] = 0  # ... padded with black bars
    result = segment(pixels, has_alpha=False, backend="color-key")
    assert iou(result.mask, mask) >= 0.95


def test_color_key_refuses_a_busy_background() -> None:
    mask = rounded_box((256, 256), PRODUCT)
    pixels = photo(mask)
    noise = np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    pixels[..., :3][~mask] = noise[~mask]
    with pytest.raises(SegmentationError, match="needs a plain background") as caught:
        segment(pixels, has_alpha=False, backend="color-key")
    assert "--segmenter u2net" in str(caught.value)


def test_feather() -> None:
    mask = rounded_box((256, 256), PRODUCT)
    pixels = photo(mask)
    soft = segment(pixels, has_alpha=False, backend="color-key", feather_px=1.5).alpha
    hard = segment(pixels, has_alpha=False, backend="color-key", feather_px=0).alpha
    assert set(np.unique(hard)) <= {0.0, 1.0}
    edge = ((soft > 0.05) & (soft < 0.95)).sum()
    assert edge > 0.5 * np.count_nonzero(mask ^ np.roll(mask, 1, axis=1))
    assert iou(soft >= 0.5, hard >= 0.5) > 0.98


def test_white_on_white_is_reported() -> None:
    mask = rounded_box((256, 256), PRODUCT)
    pixels = photo(mask, colour=(255, 255, 255), printed=False)
    with pytest.raises(NoForegroundError, match="white on white") as caught:
        segment(pixels, has_alpha=False, backend="color-key")
    assert caught.value.stage == "segment"
    assert "--segmenter u2net" in str(caught.value)


def test_blank_white_image_color_key() -> None:
    blank = np.full((256, 256, 4), 255, np.uint8)
    with pytest.raises(NoForegroundError):
        segment(blank, has_alpha=False, backend="color-key")


# --- alpha --------------------------------------------------------------------------------


def test_alpha(product: NDArray[np.bool_]) -> None:
    pixels = with_alpha(photo(product), product)
    result = segment(pixels, has_alpha=True, backend="alpha")
    assert check(result, product, "alpha") >= 0.95  # measured: 1.0


def test_alpha_keeps_a_soft_edge(product: NDArray[np.bool_]) -> None:
    pixels = with_alpha(photo(product), product)
    edge = product & ~np.roll(product, 1, axis=0)
    pixels[..., 3][edge] = 100
    alpha = segment(pixels, has_alpha=True, backend="alpha").alpha
    assert np.allclose(alpha[edge], 100 / 255)


def test_alpha_backend_on_an_opaque_photo(product: NDArray[np.bool_]) -> None:
    pixels = photo(product)
    with pytest.raises(SegmentationError, match="no transparency") as caught:
        segment(pixels, has_alpha=True, backend="alpha")
    assert "--segmenter auto, u2net or color-key" in str(caught.value)
    with pytest.raises(SegmentationError, match="no alpha channel"):
        segment(pixels, has_alpha=False, backend="alpha")


def test_whole_image_foreground() -> None:
    pixels = np.full((200, 200, 4), 255, np.uint8)
    pixels[0, :, 3] = 0  # one transparent row: the rest "is the product"
    with pytest.raises(NoForegroundError, match="whole photo"):
        segment(pixels, has_alpha=True)


# --- auto ---------------------------------------------------------------------------------


def test_auto_chooses_alpha(product: NDArray[np.bool_]) -> None:
    result = segment(with_alpha(photo(product), product), has_alpha=True)
    assert result.backend == "alpha"
    assert result.details["backend_reason"] == "the photo has transparency"
    assert iou(result.mask, product) >= 0.95


def test_auto_without_models_uses_color_key(product: NDArray[np.bool_], no_models: Path) -> None:
    result = segment(photo(product, "gradient"), has_alpha=False)
    assert result.backend == "color-key"
    assert "u2net not installed" in result.details["backend_reason"]
    assert iou(result.mask, product) >= 0.95


def test_auto_skips_an_opaque_alpha_channel(product: NDArray[np.bool_], no_models: Path) -> None:
    result = segment(photo(product), has_alpha=True)
    assert result.backend == "color-key"
    assert "no transparent pixels" in result.details["backend_reason"]


def test_auto_prefers_u2net_when_installed(product: NDArray[np.bool_], u2net_model: Path) -> None:
    chosen, reason = choose_backend(photo(product), has_alpha=False)
    assert chosen.name == "u2net"
    assert reason == "u2net is installed"


def test_color_key_on_a_transparent_photo(product: NDArray[np.bool_]) -> None:
    pixels = with_alpha(photo(product), product)
    # Under alpha 0 the colour is arbitrary (here noise); backends see the photo over white.
    noise = np.random.default_rng(2).integers(0, 256, (*pixels.shape[:2], 3), dtype=np.uint8)
    pixels[..., :3][~product] = noise[~product]
    result = segment(pixels, has_alpha=True, backend="color-key")
    assert iou(result.mask, product) >= 0.95


def test_unknown_backend(product: NDArray[np.bool_]) -> None:
    with pytest.raises(RecipeError, match="unknown segmenter 'magic'"):
        segment(photo(product), has_alpha=False, backend="magic")


# --- post-processing ----------------------------------------------------------------------


def test_multiple_objects_keeps_the_largest() -> None:
    big = rounded_box((400, 600), (0.2, 0.1, 0.8, 0.45))
    small = rounded_box((400, 600), (0.4, 0.6, 0.75, 0.85))
    result = segment(photo(big | small), has_alpha=False, backend="color-key")
    assert iou(result.mask, big) >= 0.95
    assert result.alpha[small].max() == 0.0
    assert [w.code for w in result.warnings] == ["multiple-objects"]
    notice = result.warnings[0]
    assert notice.stage == "segment"
    assert "found 2 separate objects" in notice.message
    assert "Crop the photo to one product" in notice.message
    assert result.details["objects"] == 2
    assert result.details["second_largest_ratio"] == pytest.approx(small.sum() / big.sum(), 0.05)


def test_small_specks_are_dropped_silently(product: NDArray[np.bool_]) -> None:
    speck = rounded_box((512, 512), (0.05, 0.05, 0.1, 0.1))
    pixels = with_alpha(photo(product), product | speck)
    result = segment(pixels, has_alpha=True, backend="alpha")
    assert result.warnings == []
    assert result.details == result.details | {"objects": 1, "components": 2}
    assert result.alpha[speck].max() == 0.0


def test_small_holes_are_filled_large_ones_kept(product: NDArray[np.bool_]) -> None:
    yy, xx = np.mgrid[0:512, 0:512]
    pinhole = (yy - 250) ** 2 + (xx - 230) ** 2 < 16  # ~50 px: a speck the backend missed
    window = (yy > 300) & (yy < 380) & (xx > 220) & (xx < 290)  # a real opening (~5 %)
    pixels = with_alpha(photo(product), product & ~pinhole & ~window)
    result = segment(pixels, has_alpha=True, backend="alpha")
    assert result.alpha[pinhole].min() == 1.0
    assert result.alpha[window].max() == 0.0
    assert result.details["holes_filled"] == 1


def test_fill_holes_ignores_background_open_to_the_border() -> None:
    mask = np.zeros((50, 50), bool)
    mask[10:40, 10:40] = True
    mask[20:25, 20:25] = False  # hole
    mask[30:, 30:35] = False  # notch running out to the border
    filled, count = fill_holes(mask, max_area=100)
    assert count == 1
    assert filled[20:25, 20:25].all()
    assert not filled[45:, 30:35].any()


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="H x W x 4"):
        segment(np.zeros((10, 10), np.uint8), has_alpha=False)
    with pytest.raises(ValueError, match="feather_px"):
        segment(np.zeros((10, 10, 4), np.uint8), has_alpha=False, feather_px=-1)


# --- u2net / u2netp -----------------------------------------------------------------------


@pytest.mark.parametrize("background", ["white", "gradient"])
def test_u2netp(product: NDArray[np.bool_], background: str, u2netp_model: Path) -> None:
    result = segment(photo(product, background), has_alpha=False, backend="u2netp")
    assert check(result, product, "u2netp") >= 0.95  # measured: 0.994 on both backgrounds
    assert result.details["inference_seconds"] > 0


def test_u2netp_blank_image(u2netp_model: Path) -> None:
    # Min-max normalisation must not turn a featureless response into an object.
    with pytest.raises(NoForegroundError):
        segment(np.full((320, 320, 4), 255, np.uint8), has_alpha=False, backend="u2netp")


@pytest.mark.slow
def test_u2net(product: NDArray[np.bool_], u2net_model: Path) -> None:
    result = segment(photo(product, "gradient"), has_alpha=False, backend="u2net")
    assert check(result, product, "u2net") >= 0.95  # measured: 0.991


def test_missing_model(product: NDArray[np.bool_], no_models: Path) -> None:
    with pytest.raises(ModelNotInstalledError) as caught:
        segment(photo(product), has_alpha=False, backend="u2netp")
    assert caught.value.stage == "segment"
    assert "run: meshforge models install" in str(caught.value)


def test_corrupt_model_file(product: NDArray[np.bool_], no_models: Path) -> None:
    from meshforge.models import MODELS, model_path

    path = model_path("u2netp")
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(MODELS["u2netp"].size))  # the right size, but not a model
    with pytest.raises(ModelNotInstalledError, match="cannot be loaded") as caught:
        segment(photo(product), has_alpha=False, backend="u2netp")
    assert str(caught.value).endswith("run: meshforge models install")


def test_no_onnxruntime_telemetry(tmp_path: Path, u2netp_model: Path) -> None:
    code = (
        "import numpy as np; from meshforge.image.segment import segment; "
        "px = np.full((64, 64, 4), 255, np.uint8); px[16:48, 16:48, :3] = (200, 30, 30); "
        "segment(px, has_alpha=False, backend='u2netp')"
    )
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env |= {"HOME": str(tmp_path), "MESHFORGE_HOME": str(u2netp_model.parent.parent)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    assert not (tmp_path / ".cache" / "Microsoft").exists()


def test_import_stays_light() -> None:
    code = (
        "import sys, meshforge.image.segment, meshforge.models; "
        "print(sorted({'cv2', 'onnxruntime'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
