"""Decode anything a user or the data set hands us into an RGB ``PIL.Image``, safely.

One function for the data set and for inference, so a photo is read the same way in both:
EXIF orientation applied, every mode (grayscale, 16-bit, RGBA, palette, CMYK) converted to
8-bit RGB, the first frame of an animation, a pixel limit against decompression bombs, and
one error type (`ImageError`) whose message a user can read.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 120_000_000
"""Largest image (width x height) accepted; a 12000x9000 photo passes, a 50000x50000 bomb not."""

ImageInput = str | Path | bytes | Image.Image | np.ndarray
SOURCE_SIZE = "source_size"
"""Key in ``image.info`` of the upright (width, height) before any shrinking."""
_ORIENTATION = 0x0112
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)


class ImageError(ValueError):
    """The input is not an image we can use; the message is meant for the user."""


def _damaged(error: Exception) -> ImageError:
    return ImageError(f"This image is damaged or truncated and cannot be decoded ({error}).")


def _open(source: ImageInput) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"No file at {path}.")
        source = path.read_bytes()
    if not isinstance(source, bytes):
        raise ImageError(f"Cannot read an image from a {type(source).__name__}.")
    if not source:
        raise ImageError("The file is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(source))
    except UnidentifiedImageError:
        raise ImageError("This file is not an image in a format we can read.") from None
    except Image.DecompressionBombError:
        raise ImageError("The image is too large to be opened safely.") from None
    except (OSError, ValueError) as error:
        raise _damaged(error) from None


def _from_array(array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"An image array must be HxW, HxWx3 or HxWx4, not {array.shape}.")
    if array.dtype != np.uint8:
        array = _to_uint8(array)
    return Image.fromarray(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale 16-bit, 32-bit or float pixel values into 0..255."""
    values = np.asarray(array, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ImageError("The image contains invalid (NaN or infinite) pixel values.")
    peak = values.max(initial=0.0)
    if np.issubdtype(array.dtype, np.floating) and peak <= 1.0:
        values = values * 255.0
    elif peak > 255:
        values = values / (65535.0 / 255.0 if peak <= 65535 else peak / 255.0)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = Image.fromarray(_to_uint8(np.asarray(image)))
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def load_image(
    source: ImageInput, max_pixels: int = MAX_PIXELS, max_side: int | None = None
) -> Image.Image:
    """Decode `source` (path, bytes, PIL image or HxW[xC] array) into an upright RGB image.

    max_pixels: larger images are refused before they are decoded.
    max_side: if given, the result is shrunk so its longer side is at most this many pixels
    (JPEGs are then decoded at reduced scale, which is much faster for big photos); the
    upright size before shrinking stays in ``image.info[SOURCE_SIZE]``.
    Raises `ImageError` for anything that is not a usable image.
    """
    image = _open(source)
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageError(
            f"The image is too large ({width}x{height} pixels); the limit is "
            f"{max_pixels / 1e6:.0f} megapixels."
        )
    try:
        if max_side is not None and image.format == "JPEG":
            image.draft("RGB", (max_side, max_side))
        image.seek(0)
        image.load()
        if image.getexif().get(_ORIENTATION, 1) in _TRANSPOSING_ORIENTATIONS:
            width, height = height, width
        image = ImageOps.exif_transpose(image)
        image = _to_rgb(image)
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError) as error:
        raise _damaged(error) from None
    if max_side is not None and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    image.info[SOURCE_SIZE] = (width, height)
    return image


def resize_square(image: Image.Image, size: int) -> np.ndarray:
    """Resize an RGB image to ``size x size`` (aspect not kept); returns uint8 (size, size, 3)."""
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR))


def seen_at(faces: np.ndarray, side: int) -> np.ndarray:
    """uint8 faces (N, S, S, 3) as a photo gives them where the model input spans only `side`
    of its pixels across: each shrunk to ``side x side`` and enlarged back to S (bilinear)."""
    size = faces.shape[1]
    return np.stack(
        [resize_square(Image.fromarray(face).resize((side, side), Image.Resampling.BILINEAR), size)
         for face in faces]
    )  # fmt: skip
