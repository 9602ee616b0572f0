"""Pictures of saliency maps: overlays that show the face, colour bars, a slide-sized figure.

    picture = overlay(face, heat, opacity=0.7)            # uint8 (256, 256, 3)
    picture = map_picture(face, heat, opacity=0.7)        # the overlay above its colour bar
    png = presentation_figure(face, {"age": {...}, "gender": {...}}, captions)  # 1920x1080

Maps are `model.explain.AttributionMap`s (S, S): relative maps in [0, 1], drawn with `COLORMAP`,
or signed maps in years or points, drawn with `DIVERGING_COLORMAP` (red: positive, blue:
negative) on a scale symmetric about 0. In both, a pixel's colour is blended in proportion to
the map's strength there, so the face stays visible where the map is low. Faces are uint8
(S, S, 3). Only matplotlib's object API is used (no pyplot), so rendering is safe in server
threads.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from model.explain import METHODS

COLORMAP = "jet"
DIVERGING_COLORMAP = "RdBu_r"
SIGNED_PERCENTILE = 99.0
"""A signed map's colour scale ends at this percentile of its magnitudes (a few extreme pixels
would otherwise wash out the rest); stronger pixels are drawn at full colour."""
DISPLAY_SIZE = 256
SLIDE_SIZE = (1920, 1080)
FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
BLANK_MAP = "blank: this method marks nothing on this face"


def _upscale(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 (S, S, 3) or float (S, S) resized to (size, size) with bicubic interpolation; a
    float map keeps its own range (no overshoot beyond its minimum and maximum)."""
    if image.dtype == np.uint8:
        return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC))
    values = np.asarray(image, np.float32)
    resized = Image.fromarray(values).resize((size, size), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(resized), values.min(), values.max())


def is_signed(heat: np.ndarray) -> bool:
    return bool(getattr(heat, "signed", False))


def display_scale(heat: np.ndarray) -> float:
    """The map value drawn at full colour: 1 for a relative map; for a signed map the
    `SIGNED_PERCENTILE` percentile of its magnitudes."""
    if not is_signed(heat):
        return 1.0
    magnitude = np.abs(np.asarray(heat, np.float64))
    return max(float(np.percentile(magnitude, SIGNED_PERCENTILE)), 1e-6)


def _strength_and_position(
    values: np.ndarray, signed: bool, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """(strength in [0, 1], position on the colormap in [0, 1]) of a map's values."""
    values = np.asarray(values, np.float32)
    if signed:
        scaled = np.clip(values / scale, -1.0, 1.0)
        return np.abs(scaled), (scaled + 1) / 2
    values = np.clip(values, 0.0, 1.0)
    return values, values


def colourise(heat: np.ndarray, colormap: str = COLORMAP) -> np.ndarray:
    """float (H, W) in [0, 1] -> uint8 (H, W, 3) through a matplotlib colormap."""
    rgba = matplotlib.colormaps[colormap](np.clip(heat, 0.0, 1.0))
    return (rgba[..., :3] * 255).round().astype(np.uint8)


def _colormap_of(heat: np.ndarray, colormap: str) -> str:
    return DIVERGING_COLORMAP if is_signed(heat) else colormap


def overlay(
    face: np.ndarray,
    heat: np.ndarray,
    opacity: float = 0.5,
    colormap: str = COLORMAP,
    size: int = DISPLAY_SIZE,
) -> np.ndarray:
    """The map over the face: uint8 (size, size, 3). Each pixel's colour is blended in
    proportion to the map's strength there, up to `opacity` where it is strongest: where the
    map is low the face shows clear. opacity 0 shows only the face. A signed map uses
    `DIVERGING_COLORMAP` whatever `colormap` says."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be between 0 and 1, got {opacity}")
    photo = _upscale(face, size).astype(np.float32)
    values = _upscale(np.asarray(heat, np.float32), size)
    strength, position = _strength_and_position(values, is_signed(heat), display_scale(heat))
    colours = colourise(position, _colormap_of(heat, colormap)).astype(np.float32)
    alpha = opacity * strength[..., np.newaxis]
    return ((1 - alpha) * photo + alpha * colours).round().astype(np.uint8)


def legend_colours(heat: np.ndarray, opacity: float = 1.0, colormap: str = COLORMAP, n=256):
    """The colours of the map's scale from its low to its high end as `overlay` blends them
    (here over white): float (n, 3) in [0, 1], for colour bars."""
    ramp = np.linspace(-1.0, 1.0, n) if is_signed(heat) else np.linspace(0.0, 1.0, n)
    strength = np.abs(ramp)
    position = (ramp + 1) / 2 if is_signed(heat) else ramp
    colours = matplotlib.colormaps[_colormap_of(heat, colormap)](position)[:, :3]
    alpha = opacity * strength[:, np.newaxis]
    return (1 - alpha) * 1.0 + alpha * colours


def _number(value: float) -> str:
    """A colour-bar value with its sign and two significant digits: +12, −3.2, +0.053."""
    magnitude = abs(value)
    if magnitude >= 10:
        text = f"{magnitude:.0f}"
    elif magnitude >= 1:
        text = f"{magnitude:.1f}"
    else:
        text = f"{magnitude:.2g}"
    return ("+" if value > 0 else "−" if value < 0 else "") + text


def bar_labels(heat: np.ndarray) -> list[tuple[str, str, str]]:
    """The colour bar's words, row by row, each row (left end, middle, right end): the values
    at the bar's ends, what the ends mean, and what a value is in which units, e.g.
    ``[("−3.2", "0", "+3.2"), ("← younger", "", "older →"),
    ("", "age change when covered (years)", "")]``. A map that is zero everywhere says so
    instead of what a value is (Grad-CAM gives one where no region raises the score)."""
    blank = not np.any(np.asarray(heat))
    if is_signed(heat):
        low, high = heat.ends
        if blank:
            return [("", "0", ""), (f"← {low}", "", f"{high} →"), ("", BLANK_MAP, "")]
        scale = display_scale(heat)
        return [
            (_number(-scale), "0", _number(scale)),
            (f"← {low}", "", f"{high} →"),
            ("", f"{heat.meaning} ({heat.units})", ""),
        ]
    meaning = BLANK_MAP if blank else getattr(heat, "meaning", "relative importance")
    return [("0", "", "1"), ("← low", "", "high →"), ("", meaning, "")]


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT), size)


def colour_bar(
    heat: np.ndarray, width: int = DISPLAY_SIZE, opacity: float = 1.0, colormap: str = COLORMAP
) -> np.ndarray:
    """A horizontal colour bar for the map with its values and their meaning (units where the
    map has them), in the colours `overlay` blends: uint8 (H, width, 3). A row of words too
    long for the width is set smaller."""
    rows = bar_labels(heat)
    font_size = max(10, round(width / 22))
    line = font_size + 4
    bar_height = max(8, round(width / 22))
    margin = max(4, width // 40)
    picture = Image.new("RGB", (width, margin + bar_height + len(rows) * line + margin), "white")
    colours = legend_colours(heat, opacity, colormap, n=width - 2 * margin)
    strip = (np.repeat(colours[np.newaxis], bar_height, axis=0) * 255).round().astype(np.uint8)
    picture.paste(Image.fromarray(strip), (margin, margin))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((margin - 1, margin - 1, width - margin, margin + bar_height), outline="grey")
    places = (("la", margin), ("ma", width // 2), ("ra", width - margin))
    for row, texts in enumerate(rows):
        size = font_size
        while size > 6 and sum(_font(size).getlength(t) + 8 for t in texts) > width - 2 * margin:
            size -= 1
        top = margin + bar_height + 2 + row * line
        for text, (anchor, x) in zip(texts, places, strict=True):
            draw.text((x, top), text, fill="black", font=_font(size), anchor=anchor)
    return np.asarray(picture)


def map_picture(
    face: np.ndarray,
    heat: np.ndarray,
    opacity: float = 0.5,
    colormap: str = COLORMAP,
    size: int = DISPLAY_SIZE,
) -> np.ndarray:
    """`overlay` above its `colour_bar`: uint8 (size + bar, size, 3), what the apps show."""
    return np.concatenate(
        [overlay(face, heat, opacity, colormap, size), colour_bar(heat, size, opacity, colormap)]
    )


def multiply(face: np.ndarray, heat: np.ndarray, size: int = DISPLAY_SIZE) -> np.ndarray:
    """The face dimmed where the map is weak (face x map; for a signed map, x its magnitude
    on the colour scale): uint8 (size, size, 3)."""
    photo = _upscale(face, size).astype(np.float32)
    strength, _ = _strength_and_position(heat, is_signed(heat), display_scale(heat))
    return (photo * _upscale(strength, size)[..., np.newaxis]).round().astype(np.uint8)


def _legend_colormap(heat: np.ndarray, opacity: float, colormap: str) -> ListedColormap:
    return ListedColormap(legend_colours(heat, opacity, colormap))


def presentation_figure(
    face: np.ndarray,
    maps: dict[str, dict[str, np.ndarray]],
    captions: dict[str, str],
    opacity: float = 0.5,
    colormap: str = COLORMAP,
    title: str = "What the models look at",
    failing: tuple[str, ...] = (),
) -> bytes:
    """A 1920x1080 PNG for slides: one row per task (e.g. age, gender), the face first (with
    its caption, e.g. the prediction) and then each method's overlay, titled. A signed map
    gets its own colour bar in its units below it; the relative maps share one on the right.
    Methods in `failing` (those that fail the sanity check) are marked in their titles.
    `maps[task][method]` is a map as `Explainer.explain` returns it."""
    tasks = list(maps)
    methods = list(dict.fromkeys(m for task in tasks for m in maps[task]))
    width, height = SLIDE_SIZE
    figure = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor="white")
    grid = figure.add_gridspec(
        len(tasks),
        len(methods) + 2,
        width_ratios=[1] * (len(methods) + 1) + [0.06],
        left=0.02,
        right=0.955,
        top=0.85,
        bottom=0.08,
        wspace=0.1,
        hspace=0.55,
    )
    figure.suptitle(title, fontsize=34, fontweight="bold")
    relative = None
    for row, task in enumerate(tasks):
        axis = figure.add_subplot(grid[row, 0])
        axis.imshow(_upscale(face, DISPLAY_SIZE))
        axis.set_title(captions.get(task, task), fontsize=15, fontweight="bold")
        axis.axis("off")
        for column, method in enumerate(methods, start=1):
            axis = figure.add_subplot(grid[row, column])
            axis.axis("off")
            if method not in maps[task]:
                continue
            heat = maps[task][method]
            axis.imshow(overlay(face, heat, opacity, colormap))
            name = METHODS.get(method, method)
            if method in failing:
                axis.set_title(f"{name}\nfails sanity check", fontsize=15, color="#b00020")
            else:
                axis.set_title(name, fontsize=16)
            if not is_signed(heat):
                relative = heat
                continue
            scale = display_scale(heat)
            bar_axis = axis.inset_axes((0.18, -0.1, 0.64, 0.06))
            bar = figure.colorbar(
                ScalarMappable(Normalize(-scale, scale), _legend_colormap(heat, opacity, colormap)),
                cax=bar_axis,
                orientation="horizontal",
                ticks=[-scale, 0, scale],
            )
            low, high = heat.ends
            ticks = [f"{_number(-scale)}\n{low}", "0", f"{_number(scale)}\n{high}"]
            bar.ax.set_xticklabels(ticks, fontsize=10)
            bar.ax.set_title(heat.units, fontsize=10, pad=2)
    if relative is not None:
        scale = ScalarMappable(Normalize(0.0, 1.0), _legend_colormap(relative, opacity, colormap))
        bar = figure.colorbar(scale, cax=figure.add_subplot(grid[:, -1]))
        bar.set_label("relative importance (low → high)", fontsize=16)
        bar.ax.tick_params(labelsize=13)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


MIN_LABEL_FONT = 9


def _fitting_label(draw: ImageDraw.ImageDraw, text: str, size: int, width: int) -> str:
    """`text`, cut short with "…" if it is wider than `width` even at `MIN_LABEL_FONT`."""
    font = ImageFont.load_default(size=min(size, MIN_LABEL_FONT))
    if draw.textlength(text, font=font) <= width:
        return text
    while len(text) > 1 and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def annotate(
    photo: Image.Image,
    boxes: list[tuple[int, int, int, int]],
    labels: list[str],
) -> Image.Image:
    """A copy of `photo` with each box (x, y, width, height, in its pixels) drawn and
    labelled, numbered from 1 so a table of faces can refer to them. Every label stays inside
    the picture: above its box where there is room, else below it, else inside its top;
    shifted left at the right edge; in a smaller font (down to `MIN_LABEL_FONT` pixels) if it
    is wider than the picture, and cut short with "…" if even that is too wide."""
    picture = photo.convert("RGB")
    draw = ImageDraw.Draw(picture)
    line = max(2, round(max(picture.size) / 300))
    font_size = max(12, round(max(picture.size) / 40))
    for number, (box, label) in enumerate(zip(boxes, labels, strict=True), start=1):
        x, y, width, height = box
        draw.rectangle((x, y, x + width, y + height), outline=(255, 200, 0), width=line)
        text = _fitting_label(draw, f"{number}: {label}", font_size, picture.width - 2 * line)
        font = ImageFont.load_default(size=font_size)
        while draw.textlength(text, font=font) > picture.width - 2 * line:
            font = ImageFont.load_default(size=font.size - 1)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        label_width, label_height = right - left + 2 * line, bottom - top + 2 * line
        if y >= label_height:
            label_y = y - label_height
        elif y + height + label_height <= picture.height:
            label_y = y + height
        else:
            label_y = max(0, min(y, picture.height - label_height))
        label_x = max(0, min(x, picture.width - label_width))
        draw.rectangle(
            (label_x, label_y, label_x + label_width - 1, label_y + label_height - 1),
            fill=(255, 200, 0),
        )
        draw.text((label_x + line - left, label_y + line - top), text, fill=(0, 0, 0), font=font)
    return picture
