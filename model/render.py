"""Pictures of saliency maps: heat-map overlays and a slide-sized presentation figure.

    picture = overlay(face, heat, opacity=0.5)            # uint8 (256, 256, 3)
    png = presentation_figure(face, {"age": {...}, "gender": {...}}, captions)  # 1920x1080

Maps are float (S, S) in [0, 1] as `model.explain` returns them; faces are uint8 (S, S, 3).
Only matplotlib's object API is used (no pyplot), so rendering is safe in server threads.
"""

from __future__ import annotations

import io

import matplotlib
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from model.explain import METHODS

COLORMAP = "jet"
DISPLAY_SIZE = 256
SLIDE_SIZE = (1920, 1080)


def _upscale(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 (S, S, 3) or float (S, S) resized to (size, size) with bicubic interpolation."""
    if image.dtype == np.uint8:
        return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC))
    resized = Image.fromarray(image.astype(np.float32)).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    return np.clip(np.asarray(resized), 0.0, 1.0)


def colourise(heat: np.ndarray, colormap: str = COLORMAP) -> np.ndarray:
    """float (H, W) in [0, 1] -> uint8 (H, W, 3) through a matplotlib colormap."""
    rgba = matplotlib.colormaps[colormap](np.clip(heat, 0.0, 1.0))
    return (rgba[..., :3] * 255).round().astype(np.uint8)


def overlay(
    face: np.ndarray,
    heat: np.ndarray,
    opacity: float = 0.5,
    colormap: str = COLORMAP,
    size: int = DISPLAY_SIZE,
) -> np.ndarray:
    """The map as a heat-map over the face: uint8 (size, size, 3). opacity 0 shows only the
    face, 1 only the map."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be between 0 and 1, got {opacity}")
    photo = _upscale(face, size).astype(np.float32)
    colours = colourise(_upscale(heat, size), colormap).astype(np.float32)
    return ((1 - opacity) * photo + opacity * colours).round().astype(np.uint8)


def multiply(face: np.ndarray, heat: np.ndarray, size: int = DISPLAY_SIZE) -> np.ndarray:
    """The face dimmed where the map is low (face x map): uint8 (size, size, 3)."""
    photo = _upscale(face, size).astype(np.float32)
    return (photo * _upscale(heat, size)[..., np.newaxis]).round().astype(np.uint8)


def presentation_figure(
    face: np.ndarray,
    maps: dict[str, dict[str, np.ndarray]],
    captions: dict[str, str],
    opacity: float = 0.5,
    colormap: str = COLORMAP,
    title: str = "What the models look at",
) -> bytes:
    """A 1920x1080 PNG for slides: one row per task (e.g. age, gender), the face first (with
    its caption, e.g. the prediction) and then each method's overlay, titled, with a colour
    bar. `maps[task][method]` is a map as `Explainer.explain` returns it."""
    tasks = list(maps)
    methods = list(dict.fromkeys(m for task in tasks for m in maps[task]))
    width, height = SLIDE_SIZE
    figure = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor="white")
    grid = figure.add_gridspec(
        len(tasks),
        len(methods) + 2,
        width_ratios=[1] * (len(methods) + 1) + [0.06],
        left=0.03,
        right=0.96,
        top=0.86,
        bottom=0.05,
        wspace=0.08,
        hspace=0.25,
    )
    figure.suptitle(title, fontsize=34, fontweight="bold")
    for row, task in enumerate(tasks):
        axis = figure.add_subplot(grid[row, 0])
        axis.imshow(_upscale(face, DISPLAY_SIZE))
        axis.set_title(captions.get(task, task), fontsize=20, fontweight="bold")
        axis.axis("off")
        for column, method in enumerate(methods, start=1):
            axis = figure.add_subplot(grid[row, column])
            axis.axis("off")
            if method not in maps[task]:
                continue
            axis.imshow(overlay(face, maps[task][method], opacity, colormap))
            axis.set_title(METHODS.get(method, method), fontsize=20)
    scale = ScalarMappable(Normalize(0.0, 1.0), colormap)
    bar = figure.colorbar(scale, cax=figure.add_subplot(grid[:, -1]))
    bar.set_label("relative importance", fontsize=18)
    bar.ax.tick_params(labelsize=14)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def annotate(
    photo: Image.Image,
    boxes: list[tuple[int, int, int, int]],
    labels: list[str],
    scale: float = 1.0,
) -> Image.Image:
    """A copy of `photo` with each box (x, y, width, height, multiplied by `scale`) drawn and
    labelled, numbered from 1 so a table of faces can refer to them."""
    picture = photo.convert("RGB")
    draw = ImageDraw.Draw(picture)
    line = max(2, round(max(picture.size) / 300))
    font = ImageFont.load_default(size=max(12, round(max(picture.size) / 40)))
    for number, (box, label) in enumerate(zip(boxes, labels, strict=True), start=1):
        x, y, width, height = (round(v * scale) for v in box)
        draw.rectangle((x, y, x + width, y + height), outline=(255, 200, 0), width=line)
        text = f"{number}: {label}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        text_y = y - (bottom - top) - 2 * line if y > (bottom - top) + 2 * line else y + height
        draw.rectangle(
            (x, text_y, x + right - left + 2 * line, text_y + bottom - top + 2 * line),
            fill=(255, 200, 0),
        )
        draw.text((x + line - left, text_y + line - top), text, fill=(0, 0, 0), font=font)
    return picture
