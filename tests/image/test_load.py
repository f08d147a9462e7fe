"""load_image: every format, orientation, bit depth and colour mode, and every refusal.

Fixtures are written by code into tmp_path; none is shipped.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import ExifTags, Image, ImageFile, features

from meshforge.errors import (
    EmptyFileError,
    ImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    InputError,
    NotAnImageError,
    TruncatedImageError,
)
from meshforge.image import load as load_module
from meshforge.image.load import LoadedImage, load_image

W, H = 640, 520


def scene(width: int = W, height: int = H) -> np.ndarray:
    """Four flat quadrants (they survive lossy codecs) with a distinct colour each."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[: height // 2, : width // 2] = (220, 30, 40)
    rgb[: height // 2, width // 2 :] = (30, 200, 60)
    rgb[height // 2 :, : width // 2] = (40, 60, 210)
    rgb[height // 2 :, width // 2 :] = (240, 240, 30)
    return rgb


def save(image: Image.Image, path: Path, fmt: str, **options: object) -> Path:
    image.save(path, fmt, **options)
    return path


def png_with_size(path: Path, width: int, height: int) -> Path:
    """A real 16x16 1-bit PNG whose IHDR then claims ``width`` x ``height`` (CRC fixed)."""
    save(Image.new("1", (16, 16)), path, "PNG")
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


# --- formats -------------------------------------------------------------------------------------

LOSSLESS = [("PNG", {}), ("TIFF", {}), ("BMP", {}), ("WEBP", {"lossless": True})]


@pytest.mark.parametrize(("fmt", "options"), LOSSLESS)
def test_lossless_formats_round_trip_exactly(tmp_path: Path, fmt: str, options: dict) -> None:
    rgb = scene()
    path = save(Image.fromarray(rgb), tmp_path / f"photo.{fmt.lower()}", fmt, **options)
    loaded = load_image(path)
    assert isinstance(loaded, LoadedImage)
    assert loaded.format == fmt
    assert (loaded.width, loaded.height) == (W, H)
    assert loaded.pixels.shape == (H, W, 4)
    assert loaded.pixels.dtype == np.uint8
    np.testing.assert_array_equal(loaded.pixels[..., :3], rgb)
    assert (loaded.pixels[..., 3] == 255).all()
    assert loaded.has_alpha is False
    assert loaded.warnings == []


def _lossy_writers() -> list[tuple[str, str]]:
    writers = [("JPEG", "jpg"), ("WEBP", "webp")]
    if features.check("avif"):
        writers.append(("AVIF", "avif"))
    return writers


@pytest.mark.parametrize(("fmt", "ext"), _lossy_writers())
def test_lossy_formats_decode_close(tmp_path: Path, fmt: str, ext: str) -> None:
    rgb = scene()
    path = save(Image.fromarray(rgb), tmp_path / f"photo.{ext}", fmt, quality=95)
    loaded = load_image(path)
    assert loaded.format == fmt
    assert loaded.pixels.shape == (H, W, 4)
    # Quadrant centres are far from any edge: within a few levels of the original.
    for y in (H // 4, 3 * H // 4):
        for x in (W // 4, 3 * W // 4):
            diff = np.abs(loaded.pixels[y, x, :3].astype(int) - rgb[y, x].astype(int))
            assert diff.max() <= 6, (fmt, y, x, loaded.pixels[y, x])
    assert loaded.has_alpha is False


def test_heic_is_read_with_pillow_heif(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("this libheif has no HEVC encoder")
    rgb = scene()
    path = tmp_path / "photo.heic"
    pillow_heif.from_pillow(Image.fromarray(rgb)).save(path, quality=95)
    loaded = load_image(path)
    assert loaded.format == "HEIF"
    assert loaded.pixels.shape == (H, W, 4)
    diff = np.abs(loaded.pixels[H // 4, W // 4, :3].astype(int) - rgb[H // 4, W // 4].astype(int))
    assert diff.max() <= 8


def test_heic_without_pillow_heif_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load_module, "_register_heif", lambda: False)
    path = tmp_path / "photo.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    with pytest.raises(NotAnImageError, match=r"pip install 'meshforge\[heif\]'") as info:
        load_image(path)
    assert info.value.stage == "load"
    assert "HEIC" in str(info.value)


def test_importing_the_loader_registers_no_heif_opener() -> None:
    code = (
        "import sys; import meshforge.image.load; from PIL import Image; Image.init(); "
        "assert 'pillow_heif' not in sys.modules; assert 'HEIF' not in Image.OPEN"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- facts about the file ------------------------------------------------------------------------


def test_digest_size_and_path(tmp_path: Path) -> None:
    path = save(Image.fromarray(scene()), tmp_path / "photo.png", "PNG")
    loaded = load_image(path)  # a PathLike
    data = path.read_bytes()
    assert loaded.sha256 == hashlib.sha256(data).hexdigest()
    assert loaded.bytes == len(data)
    assert loaded.path == str(path)
    assert load_image(str(path)).sha256 == loaded.sha256


def test_focal_length_from_exif(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.FocalLengthIn35mmFilm] = 28
    path = save(Image.fromarray(scene()), tmp_path / "photo.jpg", "JPEG", exif=exif)
    assert load_image(path).focal_length_35mm == 28.0
    plain = save(Image.fromarray(scene()), tmp_path / "plain.jpg", "JPEG")
    assert load_image(plain).focal_length_35mm is None


def test_corrupt_exif_is_a_notice_not_a_failure(tmp_path: Path) -> None:
    # An IFD0 that announces more entries than the segment holds.
    exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00"
    path = save(Image.fromarray(scene()), tmp_path / "bad-exif.jpg", "JPEG", exif=exif)
    loaded = load_image(path)  # pytest would fail on any warning that escaped
    assert (loaded.width, loaded.height) == (W, H)
    assert [n.code for n in loaded.warnings] == ["decoder-warning"]
    assert "Corrupt EXIF" in loaded.warnings[0].message
    assert loaded.focal_length_35mm is None


def test_avif_without_pillow_support_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load_module, "_avif_supported", lambda: False)
    path = tmp_path / "photo.avif"
    path.write_bytes(b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif" + bytes(64))
    with pytest.raises(NotAnImageError, match="AVIF image, which this Pillow build cannot read"):
        load_image(path)


# --- orientation ---------------------------------------------------------------------------------


def test_jpeg_orientation_6_is_rotated_clockwise(tmp_path: Path) -> None:
    stored = np.full((300, 400, 3), 255, np.uint8)  # 400 wide, 300 high as stored
    stored[:100, :100] = (255, 0, 0)  # red in the stored top-left corner
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # "rotate 90 CW to display"
    path = save(Image.fromarray(stored), tmp_path / "phone.jpg", "JPEG", exif=exif, quality=95)
    loaded = load_image(path)
    assert (loaded.width, loaded.height) == (300, 400)
    assert loaded.pixels.shape == (400, 300, 4)
    # Turned clockwise, the stored top-left corner is now the top-right one.
    top_right = loaded.pixels[20, 280, :3].astype(int)
    assert abs(top_right - (255, 0, 0)).max() <= 6
    assert loaded.pixels[20, 20, :3].min() >= 249  # the old bottom-left, white


# What a viewer shows for each EXIF orientation, written from the EXIF spec (not from Pillow).
DISPLAYED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", sorted(DISPLAYED))
def test_every_exif_orientation(tmp_path: Path, orientation: int) -> None:
    rng = np.random.default_rng(orientation)
    stored = rng.integers(0, 256, (140, 200, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    path = save(Image.fromarray(stored), tmp_path / "o.png", "PNG", exif=exif)
    loaded = load_image(path)
    np.testing.assert_array_equal(loaded.pixels[..., :3], DISPLAYED[orientation](stored))


# --- bit depths and colour modes -----------------------------------------------------------------

# 0x00FF must become 0 (a clip to 255 would give 255); 0xFFFF must become 255.
SIXTEEN = np.array([0x0000, 0x00FF, 0x0100, 0x1234, 0x8000, 0xFFFF], np.uint16)
EIGHT = np.array([0x00, 0x00, 0x01, 0x12, 0x80, 0xFF], np.uint8)


def _columns(values: np.ndarray, height: int = 130, repeat: int = 25) -> np.ndarray:
    return np.tile(np.repeat(values, repeat), (height, 1))


@pytest.mark.parametrize(
    ("fmt", "dtype", "mode"),
    [("PNG", "<u2", "I;16"), ("TIFF", "<u2", "I;16"), ("TIFF", ">u2", "I;16B")],
)
def test_16_bit_grey_keeps_the_top_byte(tmp_path: Path, fmt: str, dtype: str, mode: str) -> None:
    image = Image.fromarray(_columns(SIXTEEN).astype(dtype))
    assert image.mode == mode
    path = save(image, tmp_path / f"grey16.{fmt.lower()}", fmt)
    with Image.open(path) as check:
        assert check.mode == mode  # the decoder hands us 16 bits, not a clipped 8-bit image
    pixels = load_image(path).pixels
    expected = _columns(EIGHT)
    for channel in range(3):
        np.testing.assert_array_equal(pixels[..., channel], expected)
    assert (pixels[..., 3] == 255).all()


def test_32_bit_integer_grey_is_clipped_to_16_bits_then_scaled(tmp_path: Path) -> None:
    values = np.array([-5, 0, 255, 256, 0x8000, 0xFFFF, 70_000], np.int32)
    path = save(Image.fromarray(_columns(values)), tmp_path / "int.tif", "TIFF")
    row = load_image(path).pixels[0, ::25, 0]
    np.testing.assert_array_equal(row, [0, 0, 0, 1, 128, 255, 255])


def test_float_grey_in_0_1_is_scaled_to_255(tmp_path: Path) -> None:
    values = np.array([0.0, 0.25, 0.5, 1.0], np.float32)
    path = save(Image.fromarray(_columns(values, repeat=40)), tmp_path / "float.tif", "TIFF")
    row = load_image(path).pixels[0, ::40, 0]
    np.testing.assert_array_equal(row, [0, 64, 128, 255])  # rint(63.75), rint(127.5)


@pytest.mark.parametrize("ext", ["png", "tiff"])
def test_16_bit_rgb_and_rgba_keep_the_top_byte(tmp_path: Path, ext: str) -> None:
    rgba16 = np.zeros((130, 140, 4), np.uint16)
    rgba16[:] = (0x12FF, 0xABCD, 0xFF00, 0x80FF)
    path = tmp_path / f"rgba16.{ext}"
    cv2.imwrite(str(path), rgba16[..., [2, 1, 0, 3]])  # OpenCV writes BGRA
    loaded = load_image(path)
    assert tuple(loaded.pixels[0, 0]) == (0x12, 0xAB, 0xFF, 0x80)
    assert loaded.has_alpha is True

    rgb_path = tmp_path / f"rgb16.{ext}"
    cv2.imwrite(str(rgb_path), rgba16[..., [2, 1, 0]])
    loaded = load_image(rgb_path)
    assert tuple(loaded.pixels[0, 0]) == (0x12, 0xAB, 0xFF, 0xFF)
    assert loaded.has_alpha is False


def test_palette_with_transparency_keeps_it(tmp_path: Path) -> None:
    indices = np.zeros((150, 160), np.uint8)
    indices[50:100, 40:120] = 1
    image = Image.frombytes("P", (160, 150), indices.tobytes())
    image.putpalette([255, 255, 255, 200, 20, 30] + [0] * (256 - 2) * 3)
    path = save(image, tmp_path / "palette.png", "PNG", transparency=0)
    loaded = load_image(path)
    assert loaded.has_alpha is True
    assert tuple(loaded.pixels[0, 0]) == (255, 255, 255, 0)
    assert tuple(loaded.pixels[75, 80]) == (200, 20, 30, 255)

    opaque = save(image, tmp_path / "opaque.png", "PNG")
    loaded = load_image(opaque)
    assert loaded.has_alpha is False
    assert tuple(loaded.pixels[75, 80]) == (200, 20, 30, 255)


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = save(Image.new("CMYK", (200, 160), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", "JPEG")
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    pixel = load_image(path).pixels[80, 100].astype(int)
    assert abs(pixel - (255, 0, 0, 255)).max() <= 3


@pytest.mark.parametrize("fmt", ["PNG", "BMP"])
def test_greyscale_and_one_bit(tmp_path: Path, fmt: str) -> None:
    grey = save(Image.new("L", (200, 160), 77), tmp_path / f"grey.{fmt.lower()}", fmt)
    assert tuple(load_image(grey).pixels[5, 5]) == (77, 77, 77, 255)
    bits = np.zeros((160, 200), bool)
    bits[:, 100:] = True
    one = save(Image.fromarray(bits), tmp_path / f"one.{fmt.lower()}", fmt)
    pixels = load_image(one).pixels
    assert tuple(pixels[5, 5]) == (0, 0, 0, 255)
    assert tuple(pixels[5, 150]) == (255, 255, 255, 255)


def test_la_keeps_its_alpha(tmp_path: Path) -> None:
    la = np.zeros((160, 200, 2), np.uint8)
    la[..., 0] = 90
    la[..., 1] = np.arange(200, dtype=np.uint8)[None, :]
    path = save(Image.fromarray(la), tmp_path / "la.png", "PNG")
    loaded = load_image(path)
    assert loaded.has_alpha is True
    np.testing.assert_array_equal(loaded.pixels[..., 3], la[..., 1])
    assert tuple(loaded.pixels[0, 10, :3]) == (90, 90, 90)


def test_existing_alpha_is_kept_exactly(tmp_path: Path) -> None:
    rgba = np.dstack([scene(200, 160), np.full((160, 200), 255, np.uint8)])
    opaque = save(Image.fromarray(rgba), tmp_path / "opaque.png", "PNG")
    assert load_image(opaque).has_alpha is False  # an alpha channel, but all 255

    rgba[10, 10, 3] = 254
    rgba[100:, 150:, 3] = 0
    cutout = save(Image.fromarray(rgba), tmp_path / "cutout.png", "PNG")
    loaded = load_image(cutout)
    assert loaded.has_alpha is True
    np.testing.assert_array_equal(loaded.pixels, rgba)


# --- refusals ------------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.jpg"
    with pytest.raises(InputError, match=r"nowhere\.jpg does not exist") as info:
        load_image(path)
    assert isinstance(info.value, ImageError)
    assert str(info.value).startswith("load: ")


def test_directory_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(NotAnImageError, match="is a directory"):
        load_image(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.touch()
    with pytest.raises(EmptyFileError, match=r"empty\.jpg is empty \(0 bytes\)") as info:
        load_image(path)
    assert info.value.stage == "load"
    assert info.value.hint


@pytest.mark.parametrize("content", [b"hello, this is not a photo\n", bytes(range(256)) * 4])
def test_not_an_image_lists_the_supported_formats(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.jpg"
    path.write_bytes(content)
    with pytest.raises(NotAnImageError) as info:
        load_image(path)
    message = str(info.value)
    assert message.startswith("load: ")
    for name in ("JPEG", "PNG", "WebP", "TIFF", "BMP", "HEIC", "AVIF"):
        assert name in message


def test_unsupported_format_is_not_an_image(tmp_path: Path) -> None:
    path = save(Image.new("P", (200, 200)), tmp_path / "anim.gif", "GIF")
    with pytest.raises(NotAnImageError, match="supported: JPEG"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("keep", [0.05, 0.5, 0.95])
def test_truncated_files(tmp_path: Path, fmt: str, keep: float) -> None:
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)  # incompressible: long pixel data
    whole = save(Image.fromarray(noise), tmp_path / f"whole.{fmt.lower()}", fmt)
    data = whole.read_bytes()
    cut = tmp_path / f"cut.{fmt.lower()}"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(TruncatedImageError) as info:
        load_image(cut)
    assert info.value.stage == "load"
    assert f"cut.{fmt.lower()}" in str(info.value)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # nobody switched Pillow's guard off


def test_too_large_is_refused_from_the_header(tmp_path: Path) -> None:
    # 16x16 of pixel data behind a header saying 8000x6000: decoding it would be a
    # TruncatedImageError, so ImageTooLargeError proves the check ran before any decoding.
    path = png_with_size(tmp_path / "huge.png", 8000, 6000)
    with pytest.raises(ImageTooLargeError, match=r"8000x6000 px \(48\.0 megapixels\)") as info:
        load_image(path)
    assert "40 megapixels" in str(info.value)
    with pytest.raises(TruncatedImageError):  # the same file, allowed in, fails while decoding
        load_image(path, max_pixels=50_000_000)


def test_decompression_bomb_is_too_large(tmp_path: Path) -> None:
    path = png_with_size(tmp_path / "bomb.png", 20_000, 20_000)  # 400 MP: Pillow's hard error
    with pytest.raises(ImageTooLargeError, match="decompression bomb"):
        load_image(path, max_pixels=10**9)


def test_pillow_bomb_warning_never_escapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # warns above 0.1 MP, fails above 0.2
    warned = save(Image.fromarray(scene(400, 300)), tmp_path / "warned.png", "PNG")  # 0.12 MP
    loaded = load_image(warned)  # pytest turns any escaping warning into an error
    assert [n.code for n in loaded.warnings] == ["small-image"]  # no "decoder-warning" either
    bomb = save(Image.fromarray(scene(500, 500)), tmp_path / "bomb.png", "PNG")  # 0.25 MP
    with pytest.raises(ImageTooLargeError, match="decompression bomb"):
        load_image(bomb)
    assert Image.MAX_IMAGE_PIXELS == 100_000  # left as the caller set it


def test_too_small(tmp_path: Path) -> None:
    path = save(Image.fromarray(scene(300, 100)), tmp_path / "tiny.png", "PNG")
    with pytest.raises(ImageTooSmallError, match=r"300x100 px; the shorter side must be at least"):
        load_image(path)
    ok = save(Image.fromarray(scene(300, 128)), tmp_path / "ok.png", "PNG")
    assert load_image(ok).height == 128


def test_small_image_warns(tmp_path: Path) -> None:
    path = save(Image.fromarray(scene(300, 300)), tmp_path / "small.png", "PNG")
    loaded = load_image(path)
    assert [(n.code, n.stage) for n in loaded.warnings] == [("small-image", "load")]
    assert "300x300" in loaded.warnings[0].message
    assert "512" in loaded.warnings[0].message
    big = save(Image.fromarray(scene(512, 512)), tmp_path / "big.png", "PNG")
    assert load_image(big).warnings == []
