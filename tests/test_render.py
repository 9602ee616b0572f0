"""Overlays blend face and map as asked; the presentation figure is a 1920x1080 slide."""

import io

import numpy as np
import pytest
from PIL import Image

from model.render import annotate, colourise, multiply, overlay, presentation_figure
from tests.synthetic import draw_face

FACE = np.asarray(draw_face(200, seed=1).resize((64, 64)))
HEAT = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))  # cold left, hot right


def test_opacity_runs_from_the_face_alone_to_the_map_alone():
    face_only = overlay(FACE, HEAT, opacity=0.0, size=64)
    np.testing.assert_array_equal(face_only, FACE)
    map_only = overlay(FACE, HEAT, opacity=1.0, size=64)
    np.testing.assert_array_equal(map_only, colourise(HEAT))
    half = overlay(FACE, HEAT, opacity=0.5, size=64).astype(int)
    assert np.abs(half - (FACE.astype(int) + colourise(HEAT)) / 2).max() <= 1


def test_overlay_is_upscaled_for_display_and_hot_is_red():
    picture = overlay(FACE, HEAT, opacity=1.0, size=256)
    assert picture.shape == (256, 256, 3) and picture.dtype == np.uint8
    assert picture[128, -1, 0] > 100 and picture[128, -1, 2] < 50  # jet: 1 is red
    assert picture[128, 0, 2] > 100 and picture[128, 0, 0] < 50  # 0 is blue


def test_opacity_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="opacity"):
        overlay(FACE, HEAT, opacity=1.5)


def test_multiply_keeps_the_face_where_the_map_is_high():
    product = multiply(FACE, HEAT, size=64).astype(int)
    assert product[:, :4].max() <= 20
    assert np.abs(product[:, -1] - FACE[:, -1]).max() <= 2


def test_presentation_figure_is_a_slide_sized_png():
    maps = {task: {"gradcam": HEAT, "saliency": HEAT.T} for task in ("age", "gender")}
    png = presentation_figure(FACE, maps, {"age": "Age 34", "gender": "Female 93%"})
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (1920, 1080)
    assert len(np.unique(np.asarray(image.convert("L")))) > 50  # drawn, not blank


def test_annotate_draws_each_box_at_the_photo_scale_on_a_copy():
    photo = Image.new("RGB", (400, 300), "gray")
    picture = annotate(photo, [(100, 120, 80, 100)], ["34 (28-41) · female 93%"], scale=0.5)
    assert picture.size == (400, 300)
    assert np.asarray(photo).max() == 128  # the original is untouched
    assert tuple(np.asarray(picture)[60 + 25, 50]) == (255, 200, 0)  # left edge at x=50
    assert tuple(np.asarray(picture)[150, 300]) == (128, 128, 128)  # away from the box
