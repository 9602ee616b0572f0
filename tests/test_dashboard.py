"""The Dash dashboard on the shipped models: callback logic as plain functions, and the page in
headless Chromium."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model import sanity, shipped
from model.explain import METHODS
from model.predictor import Predictor
from testkit.hostile import encode, face_photo
from testkit.serving import chromium, free_port, save_screenshot, wait_for_url
from testkit.synthetic import noise_image
from webapp import dashboard, figures

ROOT = Path(__file__).resolve().parent.parent


def _data_url(data: bytes, kind: str = "image/jpeg") -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode()


FACE_URL = _data_url(encode(face_photo(640, 480, seed=7), "JPEG"))


def _text(component) -> str:
    """All text inside a Dash component tree."""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(_text(child) for child in component)
    children = getattr(component, "children", None)
    return "" if children is None else _text(children)


def test_a_face_gives_a_card_that_checks_the_truth():
    cards, alerts, store = dashboard.predict_view(FACE_URL, "cropped", 200, "female")
    assert alerts == [] and len(cards) == len(store["faces"]) == 1
    text = _text(cards)
    assert "years" in text and "80%" in text
    assert "true age 200 outside the 80% interval" in text
    predicted_female = "female" in text.split("years", 1)[1].split("age group")[0]
    assert ("gender right" in text) == predicted_female
    assert ("gender wrong (female)" in text) == (not predicted_female)


def test_without_a_truth_no_verdict_is_shown():
    cards, _, _ = dashboard.predict_view(FACE_URL, "full", None, "")
    assert "interval" not in _text(cards).split("90%")[-1] and "gender right" not in _text(cards)


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        (_data_url(b"just text", "text/plain"), "not an image"),
        (None, "choose a photo"),
        ("data:image/png;base64,@@@", "could not be read"),
    ],
)
def test_bad_uploads_give_a_readable_alert(contents, message):
    cards, alerts, store = dashboard.predict_view(contents, "cropped", None, "")
    assert cards == [] and store is None
    assert message in _text(alerts).lower()


def test_no_face_warns_and_suggests_the_full_model():
    no_face = _data_url(encode(noise_image(300, seed=9), "PNG"), "image/png")
    cards, alerts, _ = dashboard.predict_view(no_face, "cropped", None, "")
    assert cards == [] and "full-image model" in _text(alerts)


def test_maps_show_both_models_with_the_average_for_the_predicted_bucket():
    _, _, store = dashboard.predict_view(FACE_URL, "cropped", None, "")
    rows = dashboard.maps_view(store, "gradcam", 0.5)
    text = _text(rows)
    assert "Age model · Grad-CAM" in text and "Gender model · Grad-CAM" in text
    assert text.count("average map, ages") == 2
    assert dashboard.maps_view(None, "gradcam", 0.5) == []
    occlusion = _text(dashboard.maps_view(store, "occlusion", 0.7))
    assert "Age model · Occlusion" in occlusion and "Gender model · Occlusion" in occlusion


@pytest.mark.parametrize("variant", ["cropped", "full"])
def test_the_method_menu_marks_failing_methods_and_says_each_verdict(variant):
    report = sanity.load(variant)
    labels = {option["value"]: option["label"] for option in dashboard.method_options(variant)}
    assert set(labels) == set(METHODS)  # failing methods stay, marked
    for method, passes in report["passes"].items():
        assert labels[method].endswith("(fails the sanity check)") == (not passes)
        words = dashboard.method_verdict(method, variant).children
        assert f"{'passes' if passes else 'fails'} the sanity check" in words


def test_models_and_data_views_read_the_shipped_record():
    rows = dashboard.split_table("cropped")
    assert [row["split"] for row in rows] == ["train", "val", "test"]
    assert rows[0]["images"] > rows[2]["images"] > 2000
    assert len(dashboard.models_view("full")) >= 6
    assert "usable images" in _text(dashboard._data_tab())


@pytest.mark.parametrize("variant", ["full", "cropped"])
def test_the_models_view_plots_how_far_the_shown_age_moves_each_answer(variant):
    calibration = shipped.calibration(variant)
    figure = figures.shown_age_map(variant)
    answers, moved = np.array(figure.data[0].x), np.array(figure.data[0].y)
    knots = np.isin(answers, calibration.network_quantiles)
    expected = np.array(calibration.label_quantiles) - np.array(calibration.network_quantiles)
    assert np.allclose(moved[knots], expected)
    assert answers[0] == 0 and answers[-1] == 90  # every answer, beyond the end knots too
    assert moved[-1] == pytest.approx(calibration.label_quantiles[-1] - 90)  # the last knot's age
    shown = [getattr(part, "figure", None) for part in dashboard.models_view(variant)]
    assert figure.layout.title.text in [f.layout.title.text for f in shown if f is not None]


@pytest.mark.parametrize("variant", ["full", "cropped"])
def test_the_models_view_plots_the_margin_of_each_face_size(variant):
    calibration = shipped.calibration(variant)
    figure = figures.margin_by_face_size(variant)
    assert len(figure.data) == 1 + len(calibration.sides) == 5
    clear, smallest = figure.data[0], figure.data[-1]
    ages = np.array(clear.x)
    for line, span in ((clear, np.inf), (smallest, calibration.sides[0])):
        low, high = calibration.interval(ages, 0.8, np.full(ages.size, float(span)))
        assert np.allclose(line.y, high - low)
    assert np.mean(smallest.y) > np.mean(clear.y) + 5, "faces of few pixels get wider margins"
    shown = [getattr(part, "figure", None) for part in dashboard.models_view(variant)]
    assert figure.layout.title.text in [f.layout.title.text for f in shown if f is not None]


@pytest.mark.slow
@pytest.mark.skipif(
    not shutil.which("chromedriver") and not os.environ.get("REQUIRE_BROWSER"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
def test_dashboard_shows_prediction_cards_in_chromium(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "webapp.dashboard", "--port", str(port)], cwd=ROOT
    )
    photo = tmp_path / "face.jpg"
    face_photo(640, 480, seed=7).save(photo)
    browser = None
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_url(url, server=server)
        browser = chromium()
        browser.get(url)
        wait = WebDriverWait(browser, 90)
        upload = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#upload input")))
        upload.send_keys(str(photo))
        card = wait.until(ready.presence_of_element_located((By.CLASS_NAME, "prediction-card")))
        wait.until(ready.text_to_be_present_in_element((By.ID, "maps"), "Age model"))
        save_screenshot(browser, "dashboard.png")
        [face] = Predictor("cropped").predict(photo).faces  # what the card must say
        low, high = face.interval_80
        assert f"{face.age:.0f} years" in card.text
        assert f"80%: {low:.0f}-{high:.0f}" in card.text
        assert f"{face.gender} {face.gender_probability:.0%}" in card.text
    finally:
        if browser is not None:
            browser.quit()
        server.terminate()
        server.wait(timeout=30)
