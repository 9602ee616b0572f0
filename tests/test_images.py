"""`load_image` turns every odd format into upright 8-bit RGB, and refuses non-images clearly."""

import io

import numpy as np
import pytest
from PIL import Image

from faces.images import SOURCE_SIZE, ImageError, load_image
from testkit.synthetic import draw_face


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


FACE = draw_face(120, seed=3)


@pytest.mark.parametrize(
    "data",
    [
        _encode(FACE.convert("L"), "PNG"),
        _encode(FACE.convert("RGBA"), "PNG"),
        _encode(FACE.convert("P"), "GIF"),
        _encode(FACE.convert("CMYK"), "JPEG"),
        _encode(FACE, "WEBP"),
        _encode(FACE, "BMP"),
    ],
    ids=["gray", "rgba", "palette", "cmyk", "webp", "bmp"],
)
def test_every_mode_becomes_rgb_uint8(data):
    image = load_image(data)
    assert image.mode == "RGB"
    assert image.size == (120, 120)
    pixels = np.asarray(image).astype(int)
    assert np.abs(pixels - np.asarray(FACE.convert("L").convert("RGB"))).mean() < 60


def test_sixteen_bit_png_is_scaled_not_clipped():
    gray = (np.asarray(FACE.convert("L")).astype(np.uint16) * 257).astype(np.uint16)
    image = load_image(_encode(Image.fromarray(gray), "PNG"))
    np.testing.assert_allclose(np.asarray(image)[..., 0], np.asarray(FACE.convert("L")), atol=1)


def test_transparent_pixels_become_white():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    assert np.asarray(load_image(_encode(rgba, "PNG")))[0, 0].tolist() == [255, 255, 255]


def test_exif_orientation_is_applied_and_the_upright_size_kept():
    wide = Image.new("RGB", (400, 200), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    image = load_image(_encode(wide, "JPEG", exif=exif))
    assert image.size == (200, 400)
    shrunk = load_image(_encode(wide, "JPEG", exif=exif), max_side=100)
    assert shrunk.size == (50, 100)
    assert shrunk.info[SOURCE_SIZE] == (200, 400)


def test_animation_gives_its_first_frame():
    frames = [Image.new("RGB", (16, 16), color) for color in ("blue", "yellow")]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert np.asarray(load_image(data))[0, 0].tolist() == [0, 0, 255]


def test_arrays_and_paths_are_accepted(tmp_path):
    path = tmp_path / "face.png"
    FACE.save(path)
    assert load_image(path).size == (120, 120)
    assert load_image(str(path)).size == (120, 120)
    assert load_image(np.asarray(FACE)).size == (120, 120)
    assert load_image(np.asarray(FACE, np.float32) / 255).size == (120, 120)


def test_max_side_shrinks_large_photos():
    big = FACE.resize((1200, 900))
    assert max(load_image(_encode(big, "JPEG"), max_side=300).size) == 300
    assert max(load_image(_encode(big, "PNG"), max_side=300).size) == 300


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels but holds almost no data."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"plain text, not an image", "not an image"),
        (_encode(FACE, "JPEG")[:300], "damaged or truncated"),
        (_png_header_only(50000, 50000), "too large"),
    ],
    ids=["zero-bytes", "text", "truncated", "decompression-bomb"],
)
def test_bad_input_raises_one_readable_error(data, message):
    with pytest.raises(ImageError, match=message):
        load_image(data)


def test_missing_path_and_odd_arrays_are_refused(tmp_path):
    with pytest.raises(ImageError, match="No file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="HxW"):
        load_image(np.zeros((4, 4, 2), np.uint8))
