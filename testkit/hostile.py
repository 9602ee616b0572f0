"""A hostile-input corpus, generated (never downloaded): what a public demo meets in uploads.

`hostile_corpus()` maps a file name (with the extension a user's file would carry) to its
bytes and to what the core must do with it: "predict" (a usable image; a face is drawn in
it) or "refuse" (`data_prep.ImageError` with a readable message).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from testkit.synthetic import draw_face, noise_image


@dataclass(frozen=True)
class HostileFile:
    name: str
    data: bytes
    expect: str  # "predict" or "refuse"


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def face_photo(width: int = 480, height: int = 360, seed: int = 0) -> Image.Image:
    """A plain photo with one drawn face in the middle, about half the height tall."""
    photo = Image.new("RGB", (width, height), (90, 110, 130))
    side = height // 2
    photo.paste(draw_face(side, seed=seed), ((width - side) // 2, (height - side) // 2))
    return photo


@cache
def hostile_corpus() -> tuple[HostileFile, ...]:
    photo = face_photo()
    sixteen_bit = (np.asarray(photo.convert("L")).astype(np.uint16) * 257).astype(np.uint16)
    transparent_pixels = np.asarray(photo.convert("RGBA")).copy()
    transparent_pixels[:, :40, 3] = 0
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    frames = [photo.convert("P"), Image.new("RGB", photo.size, "black").convert("P")]
    jpeg = encode(photo, "JPEG")
    return (
        HostileFile("zero_bytes.jpg", b"", "refuse"),
        HostileFile("text.jpg", b"this is a text file, not a photo\n" * 20, "refuse"),
        HostileFile("truncated.jpg", jpeg[: len(jpeg) // 3], "refuse"),
        HostileFile("bomb.png", png_claiming(50_000, 50_000), "refuse"),
        HostileFile("one_pixel.png", encode(Image.new("RGB", (1, 1), "white"), "PNG"), "predict"),
        HostileFile("huge.jpg", encode(face_photo(12_000, 9_000), "JPEG", quality=80), "predict"),
        HostileFile("sixteen_bit.png", encode(Image.fromarray(sixteen_bit), "PNG"), "predict"),
        HostileFile("cmyk.jpg", encode(photo.convert("CMYK"), "JPEG"), "predict"),
        HostileFile("palette.gif", encode(photo.convert("P"), "GIF"), "predict"),
        HostileFile(
            "animated.gif",
            encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
            "predict",
        ),
        HostileFile(
            "exif_rotated.jpg", encode(photo.rotate(90, expand=True), "JPEG", exif=exif), "predict"
        ),
        HostileFile(
            "transparent.png", encode(Image.fromarray(transparent_pixels), "PNG"), "predict"
        ),
        HostileFile("png_named.jpg", encode(photo, "PNG"), "predict"),
    )


BATCH_FILES = {
    "face.jpg": "face",
    "more/face.webp": "face",
    "more/noise.png": "no face",
    "truncated.jpg": "unreadable",
    "text.jpg": "unreadable",
    "notes.txt": "skipped",
}
"""The files of `batch_zip` and the status of their rows in a batch run (`model.batch`)."""


def batch_zip(path: Path) -> Path:
    """A zip of good, faceless, broken and other files (`BATCH_FILES`), plus the hidden
    ``__MACOSX`` copy macOS adds, which a batch run must ignore."""
    jpeg = encode(face_photo(640, 480, seed=1), "JPEG")
    contents = {
        "face.jpg": jpeg,
        "more/face.webp": encode(face_photo(480, 360, seed=2), "WEBP"),
        "more/noise.png": encode(noise_image(300, seed=9), "PNG"),
        "truncated.jpg": jpeg[: len(jpeg) // 3],
        "text.jpg": b"this is a text file, not a photo\n" * 20,
        "notes.txt": b"taken in 2024\n",
        "__MACOSX/._face.jpg": b"\x00\x05\x16\x07",
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return path
