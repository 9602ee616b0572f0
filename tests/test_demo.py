"""The Gradio demo on the shipped models: handlers as plain functions, the ``predict`` API
through gradio_client against a running app, and the page in headless Chromium."""

from __future__ import annotations

import os
import shutil

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from model import sanity, shipped
from model.config import VARIANT_NAMES
from model.predictor import NO_FACE_MESSAGE
from testkit.hostile import face_photo
from testkit.serving import chromium, free_port, save_screenshot
from testkit.synthetic import noise_image
from webapp import demo


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("photos")
    files = {"face": folder / "face.jpg", "no_face": folder / "no_face.png",
             "text": folder / "text.jpg"}  # fmt: skip
    face_photo(640, 480, seed=7).save(files["face"])
    noise_image(300, seed=9).save(files["no_face"])
    files["text"].write_text("not a photo")
    return {name: str(path) for name, path in files.items()}


def test_predict_json_lists_each_face_with_margin_and_probability(photos):
    data = demo.predict_json(photos["face"], "cropped")
    [face] = data["faces"]
    assert data["image_size"] == [640, 480]
    assert face["age_interval_90"][0] <= face["age"] <= face["age_interval_90"][1]
    assert face["gender"] in ("male", "female") and 0.5 <= face["gender_probability"] <= 1
    x, y, width, height = face["box"]
    assert 200 < x + width / 2 < 440 and 120 < y + height / 2 < 360


def test_analyse_labels_the_photo_and_fills_the_table(photos):
    labelled, table, faces, selector, note = demo.analyse(photos["face"], "cropped")
    assert labelled.size == (640, 480)
    assert len(table) == len(faces) == 1
    assert table.loc[0, "gender"] == faces[0].gender
    assert selector["value"] == 0 and "1 face" in note
    # the box is drawn: the labelled photo differs from the upload around the face only
    difference = np.abs(np.asarray(labelled, int) - np.asarray(Image.open(photos["face"]), int))
    assert difference[:, :100].max() < 40 and difference.max() > 100


def test_no_face_says_so_and_suggests_the_full_model(photos):
    _, table, faces, selector, note = demo.analyse(photos["no_face"], "cropped")
    assert faces == [] and len(table) == 0 and note == NO_FACE_MESSAGE
    assert selector["choices"] == []
    [face] = demo.predict_json(photos["no_face"], "full")["faces"]
    assert face["box"] == [0, 0, 300, 300]


@pytest.mark.parametrize("bad", ["text", None])
def test_bad_input_becomes_a_readable_page_error(photos, bad):
    with pytest.raises(gr.Error) as error:
        demo.analyse(photos.get(bad), "cropped")
    assert "image" in str(error.value).lower() or "photo" in str(error.value).lower()


def test_maps_and_slide_for_the_selected_face(photos):
    _, _, faces, _, _ = demo.analyse(photos["face"], "cropped")
    age_map, gender_map = demo.face_maps(faces, 0, "gradcam", 0.6)
    assert age_map.shape == gender_map.shape
    assert age_map.shape[1] == demo.MAP_SIZE < age_map.shape[0]  # the map above its colour bar
    assert not np.array_equal(age_map, demo.face_maps(faces, 0, "gradcam", 0.0)[0])
    assert demo.face_maps([], None, "gradcam", 0.5) == (None, None)
    assert demo.slide(faces, 0, 0.5).size == (1920, 1080)


def test_occlusion_and_integrated_gradients_follow_their_options(photos):
    _, _, faces, _, _ = demo.analyse(photos["face"], "cropped")
    coarse = demo.face_maps(faces, 0, "occlusion", 0.7, patch=32, stride=32)
    fine = demo.face_maps(faces, 0, "occlusion", 0.7, patch=8, stride=4)
    assert coarse[0].shape == fine[0].shape and not np.array_equal(coarse[0], fine[0])
    black = demo.face_maps(faces, 0, "integrated_gradients", 0.7, baseline="black")
    blurred = demo.face_maps(faces, 0, "integrated_gradients", 0.7, baseline="blurred")
    assert not np.array_equal(black[1], blurred[1])


def test_record_tabs_read_the_shipped_artefacts():
    for variant in ("cropped", "full"):
        assert len(demo.average_map_gallery(variant, "age")) >= 8
        gender_curves = demo.figures.training_curves(variant, "gender")
        assert len(gender_curves.data) == 6
        smoothing_starts = [
            shape.x0
            for shape in gender_curves.layout.shapes
            if shape.line.color == demo.figures.SMOOTHING_LINE["color"]
        ]
        run = shipped.run_info(variant, "gender")
        if run["schedule_start"]:  # smoothing switched on in a later schedule: a line marks it
            assert smoothing_starts == [run["schedule_start"] + 0.5] * 3
        else:
            assert smoothing_starts == [] and "throughout" in gender_curves.layout.title.text
        assert "smoothed targets" in gender_curves.layout.title.text
        age_curves = demo.figures.training_curves(variant, "age")
        assert not any(
            s.line.color == demo.figures.SMOOTHING_LINE["color"] for s in age_curves.layout.shapes
        )
        weighting_starts = [
            shape.x0
            for shape in age_curves.layout.shapes
            if shape.line.color == demo.figures.WEIGHTING_LINE["color"]
        ]
        age_run = shipped.run_info(variant, "age")
        if age_run["config"].get("relative_to_age") and age_run["schedule_start"]:
            assert weighting_starts == [age_run["schedule_start"] + 0.5] * 2
            assert "weighted mean" in age_curves.layout.title.text
        else:
            assert weighting_starts == []
        assert set(demo.figures.group_table(variant)["group"]) >= {"gender: male", "race: Asian"}
    assert list(demo.figures.headline_table()["variant"]) == ["cropped", "full"]


def test_a_switch_to_label_smoothing_in_a_later_schedule_is_marked_on_every_panel(monkeypatch):
    run = shipped.run_info("cropped", "gender")
    later = {**run, "schedule_start": 4, "config": {**run["config"], "label_smoothing": 0.1}}
    monkeypatch.setattr(demo.figures.shipped, "run_info", lambda variant, task: later)
    curves = demo.figures.training_curves("cropped", "gender")
    starts = [
        s.x0 for s in curves.layout.shapes if s.line.color == demo.figures.SMOOTHING_LINE["color"]
    ]
    assert starts == [4.5] * 3 and "jumps up" in curves.layout.title.text


@pytest.fixture(scope="module")
def running_app():
    app = demo.build_demo()
    port = free_port()
    demo.launch(app, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                quiet=True)  # fmt: skip
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.mark.slow
def test_predict_endpoint_through_gradio_client(running_app, photos):
    from gradio_client import Client, handle_file

    client = Client(running_app, verbose=False)
    data = client.predict(handle_file(photos["face"]), "cropped", api_name="/predict")
    assert len(data["faces"]) == 1 and data["variant"] == "cropped"
    empty = client.predict(handle_file(photos["no_face"]), "cropped", api_name="/predict")
    assert empty["faces"] == [] and "full-image model" in empty["message"]
    with pytest.raises(Exception, match="not an image"):
        client.predict(handle_file(photos["text"]), "cropped", api_name="/predict")
    again = client.predict(handle_file(photos["face"]), "full", api_name="/predict")
    assert len(again["faces"]) == 1  # still serving after the bad input


def _estimate_one_face(browser, url: str, photo: str):
    """Open the demo, upload `photo`, press Estimate and wait for its one face: the waiter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    wait = WebDriverWait(browser, 90)
    upload = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "input[type=file]")))
    upload.send_keys(photo)
    estimate = (By.XPATH, "//button[contains(., 'Estimate')]")
    wait.until(ready.element_to_be_clickable(estimate)).click()
    wait.until(ready.text_to_be_present_in_element((By.ID, "result-note"), "1 face(s)"))
    return wait


@pytest.mark.slow
@pytest.mark.skipif(
    not shutil.which("chromedriver") and not os.environ.get("REQUIRE_BROWSER"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
def test_page_shows_the_labelled_result_in_chromium(running_app, photos):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready

    browser = chromium()
    try:
        wait = _estimate_one_face(browser, running_app, photos["face"])
        table = browser.find_element(By.ID, "faces-table").text
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#gender-map img")))
        save_screenshot(browser, "gradio_demo.png")
        assert "female" in table or "male" in table
    finally:
        browser.quit()


@pytest.mark.slow
@pytest.mark.skipif(
    not shutil.which("chromedriver") and not os.environ.get("REQUIRE_BROWSER"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
def test_occlusion_map_and_its_verdict_in_chromium(running_app):
    """A real photo (an example), occlusion picked from the menu: its maps and its sanity
    verdict appear (the screenshot gradio_occlusion.png)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ready

    photo = demo.EXAMPLES_DIR / "eileen_collins.jpg"
    browser = chromium()
    try:
        wait = _estimate_one_face(browser, running_app, str(photo))
        age_map = (By.CSS_SELECTOR, "#age-map img")
        gradcam_src = wait.until(ready.presence_of_element_located(age_map)).get_attribute("src")
        menu = browser.find_element(By.CSS_SELECTOR, "#method input")
        menu.click()
        menu.send_keys(Keys.CONTROL, "a")
        menu.send_keys("Occlusion")
        wait.until(
            ready.element_to_be_clickable(
                (By.XPATH, "//li[@data-testid='dropdown-option'][contains(., 'Occlusion')]")
            )
        ).click()
        wait.until(ready.text_to_be_present_in_element((By.ID, "method-verdict"), "Occlusion"))
        wait.until(
            lambda page: page.find_element(*age_map).get_attribute("src") not in ("", gradcam_src)
        )
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#gender-map img")))
        verdict = browser.find_element(By.ID, "method-verdict").text
        passes = sanity.verdict(sanity.load("cropped"), "occlusion").passes
        assert f"{'passes' if passes else 'fails'} the sanity check" in verdict
        assert "covering this part" in verdict
        browser.execute_script(
            "document.getElementById('method-verdict').scrollIntoView({block: 'start'});"
            "window.scrollBy(0, -120);"
        )
        save_screenshot(browser, "gradio_occlusion.png")
    finally:
        browser.quit()


def test_the_about_tab_takes_its_figures_from_the_data_report_and_the_sanity_check():
    report, rebalance = shipped.data_report(), shipped.data_report()["rebalance"]
    text = " ".join(demo.about_text().split())
    assert f"{report['files']['usable']:,} face chips" in text
    assert f"removed the {rebalance['removed_over_max_age']:,} people over" in text
    assert f"kept {rebalance['toddlers_after']:,} of the {rebalance['toddlers_before']:,}" in text
    assert f"the {rebalance['after']:,} faces" in text
    reports = {VARIANT_NAMES[v]: sanity.load(v) for v in ("cropped", "full")}
    assert " ".join(sanity.summary(reports).split()) in text
