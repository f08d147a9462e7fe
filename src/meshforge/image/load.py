"""Read a product photo into 8-bit RGBA pixels, refusing input that would waste a job.

``load_image`` reads the file once (for its digest), identifies it among the formats meshforge
supports, checks the size announced by the header *before* decoding any pixel, decodes, applies the
EXIF orientation and converts whatever mode the file uses to H x W x 4 ``uint8``. Every refusal is
an :class:`~meshforge.errors.ImageError` whose message names the file and says what to do.

Pillow's own decompression-bomb guard stays as it is (``Image.MAX_IMAGE_PIXELS`` is never changed):
its warning is captured and superseded by our ``max_pixels`` check, and its hard error (above twice
that limit, about 179 MP) is reported as :class:`~meshforge.errors.ImageTooLargeError`. HEIC needs
the optional ``pillow-heif``, whose opener is registered on the first HEIF file, not at import.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from numpy.typing import NDArray
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError, features

from meshforge.errors import (
    EmptyFileError,
    ImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    TruncatedImageError,
)
from meshforge.transforms.base import Notice

STAGE = "load"
SUPPORTED_FORMATS = "JPEG, PNG, WebP, TIFF, BMP, HEIC (with pillow-heif) and AVIF"
HEIF_HINT = "pip install 'meshforge[heif]'"

# ISO-BMFF brands (the ftyp box at byte 4) of HEIF stills; AVIF is read by Pillow itself.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1"}
_AVIF_BRANDS = {b"avif", b"avis"}
# Magic numbers of the formats we read: a file that starts like one of them but cannot be decoded
# is damaged or cut short, not "not an image".
_SIGNATURES = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"II+\x00": "TIFF",
    b"MM\x00+": "TIFF",
    b"BM": "BMP",
}
# The same table as PIL.ImageOps.exif_transpose; applied by hand because we read the EXIF once
# (for the focal length too) and have no use for the EXIF rewrite exif_transpose does.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# warnings.catch_warnings swaps process-wide state; serialise our own uses of it.
_WARNINGS_LOCK = threading.Lock()


@dataclass
class LoadedImage:
    """A decoded photo: RGBA pixels (alpha 255 where the file has none) and facts about the file."""

    pixels: NDArray[np.uint8]
    has_alpha: bool
    path: str
    format: str
    sha256: str
    bytes: int
    width: int
    height: int
    focal_length_35mm: float | None = None
    warnings: list[Notice] = field(default_factory=list)


def load_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int = 40_000_000,
    min_side: int = 128,
    warn_side: int = 512,
) -> LoadedImage:
    """Read the photo at ``path``: checked, oriented and converted to RGBA ``uint8``.

    Raises :class:`~meshforge.errors.ImageError` subclasses: EmptyFileError, NotAnImageError,
    TruncatedImageError, ImageTooLargeError (more than ``max_pixels``, checked on the header before
    decoding) and ImageTooSmallError (shorter side below ``min_side``). A shorter side below
    ``warn_side`` adds a ``small-image`` notice.
    """
    name = os.fspath(path)
    data = _read(name)
    notices: list[Notice] = []
    im = _open(data, name, notices, max_pixels)
    try:
        fmt = "JPEG" if im.format == "MPO" else (im.format or "unknown")  # MPO: a JPEG + previews
        _check_size(im.size, name, max_pixels=max_pixels, min_side=min_side)
        _decode(im, name, fmt)
        orientation, focal = _read_exif(im, name, notices)
        upright = im.transpose(_ORIENTATION[orientation]) if orientation in _ORIENTATION else im
        pixels = _to_rgba(upright, name)
    finally:
        im.close()
    height, width = pixels.shape[:2]
    if min(width, height) < warn_side:
        notices.append(
            Notice(
                "small-image",
                f"{name} is only {width}x{height} px; textures and fine detail will be soft. "
                f"Use a photo at least {warn_side} px on its shorter side",
                STAGE,
            )
        )
    return LoadedImage(
        pixels=pixels,
        has_alpha=bool(pixels[..., 3].min() < 255),
        path=name,
        format=fmt,
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
        width=width,
        height=height,
        focal_length_35mm=focal,
        warnings=notices,
    )


def _read(name: str) -> bytes:
    try:
        with open(name, "rb") as f:
            data = f.read()
    except FileNotFoundError as e:
        raise ImageError(
            f"{name} does not exist", stage=STAGE, hint="Check the path and try again"
        ) from e
    except IsADirectoryError as e:
        raise NotAnImageError(
            f"{name} is a directory, not an image file", stage=STAGE, hint="Pass one image file"
        ) from e
    except OSError as e:
        raise ImageError(
            f"cannot read {name} ({e.strerror or e})",
            stage=STAGE,
            hint="Check that the file exists and is readable",
        ) from e
    if not data:
        raise EmptyFileError(
            f"{name} is empty (0 bytes)",
            stage=STAGE,
            hint="The upload or copy probably failed; send the photo again",
        )
    return data


def _open(data: bytes, name: str, notices: list[Notice], max_pixels: int) -> ImageFile.ImageFile:
    """Identify the file and parse its header (no pixels decoded yet)."""
    brand = data[8:12] if data[4:8] == b"ftyp" else b""
    heif_ready = _register_heif() if brand in _HEIF_BRANDS else False
    formats = _formats(heif_ready)
    try:
        with _capture_warnings(notices, name):
            return Image.open(io.BytesIO(data), formats=formats)
    except Image.DecompressionBombError as e:
        raise ImageTooLargeError(
            f"{name} declares a size Pillow treats as a decompression bomb ({e})",
            stage=STAGE,
            hint=f"Use a photo of at most {max_pixels / 1e6:g} megapixels",
        ) from e
    except UnidentifiedImageError as e:
        if brand in _HEIF_BRANDS and not heif_ready:
            raise NotAnImageError(
                f"{name} is a HEIC/HEIF image, which needs the optional pillow-heif package",
                stage=STAGE,
                hint=f"{HEIF_HINT}, or convert the photo to JPEG",
            ) from e
        if brand in _AVIF_BRANDS and not _avif_supported():
            raise NotAnImageError(
                f"{name} is an AVIF image, which this Pillow build cannot read",
                stage=STAGE,
                hint="Upgrade Pillow (>= 11.2 reads AVIF), or convert the photo to JPEG",
            ) from e
        _raise_damaged(data, name, e, detail=False)
        raise NotAnImageError(
            f"{name} is not an image meshforge can read (supported: {SUPPORTED_FORMATS})",
            stage=STAGE,
            hint="Save the photo as JPEG or PNG and try again",
        ) from e
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as e:
        _raise_damaged(data, name, e)
        raise NotAnImageError(
            f"{name} cannot be read as an image ({e})",
            stage=STAGE,
            hint=f"Save the photo as JPEG or PNG (supported: {SUPPORTED_FORMATS})",
        ) from e


def _check_size(size: tuple[int, int], name: str, *, max_pixels: int, min_side: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name} is {width}x{height} px ({width * height / 1e6:.1f} megapixels), "
            f"more than the limit of {max_pixels / 1e6:g} megapixels",
            stage=STAGE,
            hint="Downscale the photo (the subject needs no more than about 4000 px)",
        )
    if min(width, height) < min_side:
        raise ImageTooSmallError(
            f"{name} is only {width}x{height} px; the shorter side must be at least {min_side} px",
            stage=STAGE,
            hint="Use a larger photo of the product (1024 px or more is best)",
        )


def _decode(im: ImageFile.ImageFile, name: str, fmt: str) -> None:
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as e:
        what = "ends early" if "truncat" in str(e).lower() else "is damaged"
        raise TruncatedImageError(
            f"{name} {what}: the {fmt} data cannot be decoded ({e})",
            stage=STAGE,
            hint="The file was probably cut off in transfer; copy or export the photo again",
        ) from e


def _read_exif(im: Image.Image, name: str, notices: list[Notice]) -> tuple[int, float | None]:
    """Orientation (1 = as stored) and the 35 mm equivalent focal length, if the file has them."""
    try:
        with _capture_warnings(notices, name):
            exif = im.getexif()
            orientation = exif.get(ExifTags.Base.Orientation, 1)
            focal = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.FocalLengthIn35mmFilm)
    except Exception as e:  # Pillow's EXIF parser raises many types on malformed data
        notices.append(
            Notice(
                "exif-unreadable",
                f"the EXIF data of {name} cannot be read ({e}); orientation and focal length "
                "are ignored. Check that the photo is upright",
                STAGE,
            )
        )
        return 1, None
    try:
        focal_mm = float(focal) if focal is not None else None
        orientation = int(orientation)
    except (TypeError, ValueError):
        return 1, None
    # 0 means "unknown" in EXIF.
    return orientation, focal_mm if focal_mm and focal_mm > 0 else None


def _to_rgba(im: Image.Image, name: str) -> NDArray[np.uint8]:
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        # 16-bit (and 32-bit integer) greyscale: keep the top 8 bits, so 0xFFFF -> 255, not a clip.
        wide = np.asarray(im).astype(np.int64)
        grey = (np.clip(wide, 0, 0xFFFF) >> 8).astype(np.uint8)
        trns = im.info.get("transparency")
        alpha = (wide != trns) if isinstance(trns, int) else np.ones(grey.shape, bool)
        return _stack(grey, alpha.astype(np.uint8) * 255)
    if mode == "F":
        # Float images are taken as 0..1 when they fit there, else as 0..255.
        values = np.nan_to_num(np.asarray(im, dtype=np.float64))
        if values.size and values.min() >= 0.0 and values.max() <= 1.0:
            values = values * 255.0
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return _stack(grey, np.full(grey.shape, 255, np.uint8))
    try:
        # Pillow keeps palette/tRNS transparency, LA alpha and un-premultiplies RGBa here.
        rgba = im if mode == "RGBA" else im.convert("RGBA")
    except ValueError:
        try:
            rgba = im.convert("RGB").convert("RGBA")
        except ValueError as e:
            raise NotAnImageError(
                f"{name} uses the colour mode {mode}, which meshforge cannot convert to RGB",
                stage=STAGE,
                hint="Save the photo as an 8-bit RGB JPEG or PNG",
            ) from e
    # tobytes + frombuffer is several times faster than np.array(image) on large photos; the copy
    # makes the array writable.
    raw = np.frombuffer(rgba.tobytes(), np.uint8).reshape(rgba.height, rgba.width, 4)
    return raw.copy()


def _stack(grey: NDArray[np.uint8], alpha: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return np.ascontiguousarray(np.stack([grey, grey, grey, alpha], axis=-1))


def _raise_damaged(data: bytes, name: str, error: BaseException, *, detail: bool = True) -> None:
    """Raise TruncatedImageError if ``data`` starts like a format we read; else return."""
    fmt = next((f for sig, f in _SIGNATURES.items() if data.startswith(sig)), None)
    if fmt is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        fmt = "WebP"
    if fmt is None and data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS | _AVIF_BRANDS:
        fmt = "HEIC" if data[8:12] in _HEIF_BRANDS else "AVIF"
    if fmt is not None:
        article = "an" if fmt[0] in "AEIOU" else "a"
        why = f" ({error})" if detail else ""  # UnidentifiedImageError only repeats the file object
        raise TruncatedImageError(
            f"{name} starts like {article} {fmt} file but is damaged or cut short{why}",
            stage=STAGE,
            hint="The file was probably cut off in transfer; copy or export the photo again",
        ) from error


def _formats(heif: bool) -> list[str]:
    """The Pillow plugins we let parse a file: fewer parsers, fewer surprises."""
    return [*_builtin_formats(), *(["HEIF"] if heif else [])]


@cache
def _builtin_formats() -> tuple[str, ...]:
    Image.init()  # AVIF (Pillow >= 11.2) is not among the plugins Pillow preloads
    return tuple(f for f in ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "AVIF") if f in Image.OPEN)


@cache
def _avif_supported() -> bool:
    try:
        return bool(features.check_module("avif"))
    except ValueError:  # Pillow < 11.2 does not know the module
        return False


@cache
def _register_heif() -> bool:
    """Register pillow-heif's opener once, on the first HEIF file; False if it is not installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


@contextmanager
def _capture_warnings(notices: list[Notice], name: str) -> Iterator[None]:
    """Turn the warnings Pillow emits (corrupt EXIF, decompression bomb ...) into nothing we print.

    The decompression-bomb warning is dropped: ``max_pixels`` is checked right after, on the same
    header. Anything else becomes a ``decoder-warning`` notice.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen = {n.message for n in notices}
            for w in caught:
                text = (
                    f"{name}: {str(w.message).strip()} (read anyway; check the photo looks right)"
                )
                if not issubclass(w.category, Image.DecompressionBombWarning) and text not in seen:
                    seen.add(text)
                    notices.append(Notice("decoder-warning", text, STAGE))


__all__ = ["SUPPORTED_FORMATS", "LoadedImage", "load_image"]
