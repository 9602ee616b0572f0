"""Overlays show the face where the map is low and its colour where it is high, signed maps
on a diverging scale with their units on a colour bar; labels stay inside the picture; the
presentation figure is a 1920x1080 slide that marks the methods failing the sanity check."""

import io

import numpy as np
import pytest
from PIL import Image

from model.explain import AttributionMap
from model.render import (
    BLANK_MAP,
    annotate,
    bar_labels,
    colour_bar,
    colourise,
    display_scale,
    map_picture,
    multiply,
    overlay,
    presentation_figure,
)
from testkit.synthetic import draw_face

FACE = np.asarray(draw_face(200, seed=1).resize((64, 64)))
HEAT = AttributionMap(np.tile(np.linspace(0, 1, 64), (64, 1)))  # cold left, hot right
SIGNED = AttributionMap(
    np.tile(np.linspace(-6, 6, 64), (64, 1)),  # younger left, older right
    units="years",
    signed=True,
    meaning="change of the age when covered",
    ends=("younger", "older"),
)


def test_transparency_follows_the_map_up_to_the_opacity():
    face_only = overlay(FACE, HEAT, opacity=0.0, size=64)
    np.testing.assert_array_equal(face_only, FACE)
    full = overlay(FACE, HEAT, opacity=1.0, size=64).astype(int)
    np.testing.assert_array_equal(full[:, 0], FACE[:, 0])  # map 0: the face, clear
    np.testing.assert_array_equal(full[:, -1], colourise(HEAT)[:, -1])  # map 1: the colour
    middle = 32  # map about 0.5 at opacity 1: half face, half colour
    strength = float(HEAT[0, middle])
    expected = (1 - strength) * FACE[:, middle] + strength * colourise(HEAT)[:, middle]
    assert np.abs(full[:, middle] - expected).max() <= 1
    half = overlay(FACE, HEAT, opacity=0.5, size=64).astype(int)
    assert np.abs(half[:, -1] - (FACE[:, -1].astype(int) + colourise(HEAT)[:, -1]) / 2).max() <= 1


def test_overlay_is_upscaled_for_display_and_hot_is_red():
    picture = overlay(FACE, HEAT, opacity=1.0, size=256)
    assert picture.shape == (256, 256, 3) and picture.dtype == np.uint8
    assert picture[128, -1, 0] > 100 and picture[128, -1, 2] < 50  # jet: 1 is red


def test_a_signed_map_is_red_where_positive_blue_where_negative_and_clear_at_zero():
    grey = np.full_like(FACE, 128)
    picture = overlay(grey, SIGNED, opacity=1.0, size=64).astype(int)
    red, green, blue = picture[32, -1]
    assert red > 50 + blue and red > green  # older: red
    red, green, blue = picture[32, 0]
    assert blue > 50 + red  # younger: blue
    assert np.abs(picture[32, 31:33] - 128).max() < 20  # about 0: the face shows
    assert display_scale(SIGNED) == pytest.approx(np.percentile(np.abs(SIGNED), 99))


def test_the_colour_bar_says_the_units_and_what_each_end_means():
    assert bar_labels(SIGNED) == [
        ("−6.0", "0", "+6.0"),  # the 99th percentile of the magnitudes, 5.96
        ("← younger", "", "older →"),
        ("", "change of the age when covered (years)", ""),
    ]
    assert bar_labels(HEAT)[-1] == ("", "relative importance", "")
    bar = colour_bar(SIGNED, width=256).astype(int)
    assert bar.shape[1] == 256 and 40 < bar.shape[0] < 100
    row = bar[10]  # through the strip: blue, clear (white) in the middle, red
    assert row[12, 2] > row[12, 0] + 80 and row[-12, 0] > row[-12, 2] + 80
    assert row[128].min() > 240
    picture = map_picture(FACE, SIGNED, 0.7, size=256)
    assert picture.shape == (256 + bar.shape[0], 256, 3)


def test_a_blank_map_says_so_and_leaves_the_face_clear():
    for blank in (HEAT * 0, SIGNED * 0):
        assert bar_labels(blank)[-1] == ("", BLANK_MAP, "")
        assert np.array_equal(overlay(FACE, blank, 0.7, size=64), FACE)
    assert bar_labels(HEAT * 0)[0] == ("0", "", "1")
    assert bar_labels(SIGNED * 0)[0] == ("", "0", "")
    assert BLANK_MAP not in str(bar_labels(HEAT)) + str(bar_labels(SIGNED))


def test_opacity_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="opacity"):
        overlay(FACE, HEAT, opacity=1.5)


def test_multiply_keeps_the_face_where_the_map_is_high():
    product = multiply(FACE, HEAT, size=64).astype(int)
    assert product[:, :4].max() <= 20
    assert np.abs(product[:, -1] - FACE[:, -1]).max() <= 2
    signed = multiply(FACE, SIGNED, size=64).astype(int)  # by magnitude: both ends kept
    assert signed[:, 30:34].max() <= 20
    assert np.abs(signed[:, 0] - FACE[:, 0]).max() <= 2


def test_presentation_figure_is_a_slide_sized_png_that_marks_failing_methods():
    maps = {task: {"gradcam": HEAT, "saliency": HEAT.T, "occlusion": SIGNED}
            for task in ("age", "gender")}  # fmt: skip
    captions = {"age": "Age 34", "gender": "Female 93%"}
    image = Image.open(io.BytesIO(presentation_figure(FACE, maps, captions)))
    assert image.format == "PNG"
    assert image.size == (1920, 1080)
    assert len(np.unique(np.asarray(image.convert("L")))) > 50  # drawn, not blank
    marked = Image.open(
        io.BytesIO(presentation_figure(FACE, maps, captions, failing=("saliency",)))
    )

    def warning_red(picture) -> int:
        pixels = np.asarray(picture.convert("RGB")).astype(int)
        return int(((pixels[..., 0] > 150) & (pixels[..., 1] < 60) & (pixels[..., 2] < 80)).sum())

    assert warning_red(marked) > warning_red(image) + 200  # "fails sanity check", twice


def test_annotate_draws_each_box_on_a_copy():
    photo = Image.new("RGB", (400, 300), "gray")
    picture = annotate(photo, [(50, 60, 40, 50)], ["34 (28-41) · female 93%"])
    assert picture.size == (400, 300)
    assert np.asarray(photo).max() == 128  # the original is untouched
    assert tuple(np.asarray(picture)[60 + 25, 50]) == (255, 200, 0)  # left edge at x=50
    assert tuple(np.asarray(picture)[150, 300]) == (128, 128, 128)  # away from the box


def _text_pixels(picture: Image.Image) -> np.ndarray:
    """Where the (black) label text is drawn."""
    return np.asarray(picture).max(axis=2) < 100


@pytest.mark.parametrize(
    "box",
    [(330, 120, 60, 80), (100, 0, 80, 300), (0, 0, 400, 300), (380, 280, 20, 20)],
    ids=["right edge", "top edge, tall", "whole photo", "bottom right corner"],
)
def test_every_label_stays_inside_the_picture(box):
    """The whole label is drawn: as much text as for a face in the middle of the photo."""
    label = "34 (28-41) · female 93%"
    photo = Image.new("RGB", (400, 300), "gray")
    middle = _text_pixels(annotate(photo, [(150, 150, 60, 80)], [label])).sum()
    text = _text_pixels(annotate(photo, [box], [label]))
    assert abs(text.sum() - middle) <= 0.05 * middle


@pytest.mark.parametrize("label", ["34 (28-41) · female 93%", "34 (28-41) · female 93% " * 3])
def test_a_label_too_wide_for_the_photo_is_set_smaller_or_cut_short(label):
    photo = Image.new("RGB", (140, 300), "gray")
    text = _text_pixels(annotate(photo, [(10, 100, 60, 60)], [label]))
    assert text.sum() > 50
    assert not text[:, -2:].any()  # the text ends inside the photo, not cut at its edge
