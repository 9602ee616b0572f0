"""Synthetic UTKFace-style data for tests: drawn faces that MTCNN detects, and bad files.

Nothing here is downloaded; every image is drawn from a seed, so tests are reproducible.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def draw_face(size: int = 200, seed: int = 0, face_scale: float = 1.0) -> Image.Image:
    """A cartoon face (skin oval, eyes, brows, nose, mouth) on a plain background.

    MTCNN finds it reliably; `face_scale` shrinks the face inside the square canvas.
    """
    rng = np.random.default_rng(seed)
    background = tuple(int(v) for v in rng.integers(40, 120, 3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    s = size / 200 * face_scale
    offset = size / 2 - 100 * s

    def at(*points: float) -> list[float]:
        return [offset + p * s for p in points]

    skin = (int(rng.integers(150, 230)), int(rng.integers(110, 170)), int(rng.integers(80, 140)))
    draw.ellipse(at(50, 30, 150, 170), fill=skin)
    for eye_x in (75, 125):
        draw.ellipse(at(eye_x - 12, 80, eye_x + 12, 92), fill=(255, 255, 255))
        draw.ellipse(at(eye_x - 5, 81, eye_x + 5, 91), fill=(40, 30, 20))
        draw.line(at(eye_x - 14, 70, eye_x + 14, 68), fill=(60, 40, 30), width=max(1, int(4 * s)))
    nose = at(100, 95, 92, 122, 108, 122)
    draw.polygon(
        list(zip(nose[::2], nose[1::2], strict=True)), fill=tuple(max(0, c - 30) for c in skin)
    )
    draw.ellipse(at(82, 135, 118, 148), fill=(150, 50, 60))
    return image.filter(ImageFilter.GaussianBlur(2 * s))


def noise_image(size: int = 200, seed: int = 0) -> Image.Image:
    """Random smooth noise: an image in which no detector finds a face."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    return Image.fromarray(pixels).resize((size, size), Image.Resampling.BICUBIC)


def grainy_face_photo(seed: int = 0, grain: float = 30.0) -> Image.Image:
    """A drawn face in a 640x480 scene under heavy grain, as on a scanned old print: MTCNN
    finds it in the picture at half the size only (seed 0: the face's middle at (320, 240))."""
    scene = noise_image(200, seed=3).resize((640, 480))
    scene.paste(draw_face(240, seed=seed), (200, 120))
    pixels = np.asarray(scene, np.float32)
    pixels += np.random.default_rng(seed).normal(0, grain, pixels.shape[:2])[..., None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def utk_name(age: int, gender: int, race: int, index: int) -> str:
    """A canonical UTKFace file name with a unique 17-digit timestamp."""
    return f"{age}_{gender}_{race}_{20170101000000000 + index}.jpg.chip.jpg"


def labels_for(n: int, seed: int = 0) -> list[tuple[int, int, int]]:
    """`n` (age, gender, race) triples spread over ages 0-95, both genders and all races."""
    rng = np.random.default_rng(seed)
    ages = np.linspace(0, 95, n).astype(int)
    return [(int(a), int(rng.integers(0, 2)), int(rng.integers(0, 5))) for a in ages]


def write_utkface_folder(folder: Path, n: int = 40, seed: int = 0, size: int = 200) -> list[str]:
    """Write `n` drawn-face chips with UTKFace names into `folder`; returns the names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for index, (age, gender, race) in enumerate(labels_for(n, seed)):
        name = utk_name(age, gender, race, index)
        (folder / name).write_bytes(jpeg_bytes(draw_face(size, seed=seed * 1000 + index)))
        names.append(name)
    return names
