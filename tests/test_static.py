"""The browser edition in headless Chromium: built by ``python -m webapp.static``, served by
``python -m http.server``. Using it sends nothing but requests for its own files to its own
origin, and it finds and predicts the faces the Python Predictor finds, with the same maps."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from scipy.stats import spearmanr

from model.predictor import Predictor
from model.render import BLANK_MAP
from testkit.hostile import face_photo
from testkit.serving import chromium, run_in_page, save_screenshot, static_server
from testkit.synthetic import grainy_face_photo, noise_image
from webapp.static import build

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not shutil.which("chromedriver") and not os.environ.get("REQUIRE_BROWSER"),
        reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
    ),
]

EXAMPLES = sorted(Path("webapp/examples").glob("*.[jp][pn]g"))
SYNTHETIC = {"drawn_640x480.png": (640, 480, 1), "drawn_1280x960.png": (1280, 960, 3),
             "drawn_333x517.png": (333, 517, 5)}  # fmt: skip
GRAINY = "grainy_640x480.png"
"""A face found in a half-size retry view only."""
GUESS = "noise_300x300.png"
"""No face, but a face-like patch that a retry view rejected: the full-image model's best guess."""
MAP_PHOTOS = ("apollo11_crew_1969.jpg", "drawn_1280x960.png")
"""Photos whose first face's maps are compared (occlusion takes a few seconds a face)."""
TIMEOUT = 240


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = build(tmp_path_factory.mktemp("static") / "site")
    photos = out / "test_photos"
    photos.mkdir()
    for path in EXAMPLES:
        shutil.copy(path, photos / path.name)
    for name, (width, height, seed) in SYNTHETIC.items():
        face_photo(width, height, seed=seed).save(photos / name)
    grainy_face_photo(seed=0).save(photos / GRAINY)
    noise_image(300, seed=1).save(photos / GUESS)
    return out


@pytest.fixture(scope="module")
def page(site):
    """The built page served on loopback, opened in Chromium with every request logged."""
    with static_server(site) as url:
        browser = chromium(log_requests=True)
        try:
            browser.set_script_timeout(TIMEOUT)
            browser.get(url)
            run_in_page(browser, WAIT_FOR_MODELS)
            yield browser, url
        finally:
            browser.quit()


WAIT_FOR_MODELS = """
while (!window.ageGender) await new Promise((resolve) => setTimeout(resolve, 50));
return await window.ageGender.ready;
"""
ANALYSE = """
const analysis = await window.ageGender.analyse(args[0]);
window.lastAnalysis = analysis;
const out = {};
for (const [variant, {result, inputs}] of Object.entries(analysis.variants)) {
  out[variant] = {result, inputs: inputs.map((image) => Array.from(image.data))};
}
return out;
"""
EXPLAIN = """
const maps = await window.ageGender.explain(window.lastAnalysis, args[0], 0, args[1]);
return {age: Array.from(maps.age.values), gender: Array.from(maps.gender.values),
        units: [maps.age.units, maps.gender.units]};
"""


def _rgb(values: list[int], size: int) -> np.ndarray:
    return np.asarray(values, np.uint8).reshape(size, size, 4)[..., :3]


@pytest.fixture(scope="module")
def predictors() -> dict[str, Predictor]:
    return {variant: Predictor(variant) for variant in ("cropped", "full")}


def _rank_correlation(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Spearman's rank correlation of two maps; 1 where both are blank (a CAM of a face where
    no region raises the score is all zero), 0 where only one is."""
    ours, theirs = np.ravel(ours), np.ravel(theirs)
    if np.ptp(ours) == 0 or np.ptp(theirs) == 0:
        return float(np.ptp(ours) == np.ptp(theirs) == 0)
    return float(spearmanr(ours, theirs)[0])


@pytest.fixture(scope="module")
def agreement(page, site, predictors) -> dict:
    """Every test photo through the page and through Python: per variant, the pairs of faces
    (browser, Python) in the order found, and each photo's face counts."""
    browser, url = page
    pairs = {"cropped": [], "full": []}
    counts, framings, maps = {}, {}, []
    for photo in sorted((site / "test_photos").iterdir()):
        answer = run_in_page(browser, ANALYSE, f"{url}test_photos/{photo.name}")
        for variant, predictor in predictors.items():
            ours = answer[variant]["result"]["faces"]
            theirs = predictor.predict(photo).faces
            counts[(photo.name, variant)] = (len(ours), len(theirs))
            framings[(photo.name, variant)] = (
                [face["framing"] for face in ours],
                [face.framing for face in theirs],
            )
            size = predictor.size
            pairs[variant] += [
                (face, python, _rgb(pixels, size))
                for face, python, pixels in zip(
                    ours, theirs, answer[variant]["inputs"], strict=False
                )
            ]
            if photo.name in MAP_PHOTOS and ours:
                face = _rgb(answer[variant]["inputs"][0], size)
                for method in ("cam", "occlusion"):
                    browser_maps = run_in_page(browser, EXPLAIN, variant, method)
                    python_maps = predictor.explain(face, method)
                    for task in ("age", "gender"):
                        ours_map = np.asarray(browser_maps[task])
                        maps.append((photo.name, variant, method, task,
                                     _rank_correlation(ours_map, python_maps[task])))  # fmt: skip
    return {"pairs": pairs, "counts": counts, "framings": framings, "maps": maps}


def test_the_page_finds_the_faces_python_finds_in_the_same_places(agreement):
    for (photo, variant), (ours, theirs) in agreement["counts"].items():
        assert ours == theirs, f"{photo} ({variant}): {ours} faces in the page, {theirs} in Python"
    assert agreement["counts"][(GRAINY, "cropped")] == (1, 1)  # the half-size retry views
    assert agreement["counts"][(GUESS, "cropped")] == (0, 0)
    for key, (ours, theirs) in agreement["framings"].items():
        assert ours == theirs, f"{key}: {ours} in the page, {theirs} in Python"
    assert agreement["framings"][(GUESS, "full")] == (["best guess"], ["best guess"])
    shares = []
    for browser_face, python_face, _ in agreement["pairs"]["cropped"] + agreement["pairs"]["full"]:
        offsets = np.abs(np.subtract(browser_face["box"], python_face.box))
        shares.append(offsets.max() / max(python_face.box[2:]))
    print(f"box offsets: largest {max(shares):.4f} of the box size")
    assert max(shares) <= 0.03


@pytest.mark.parametrize("variant", ["cropped", "full"])
def test_the_page_predicts_what_python_predicts(agreement, variant):
    pairs = agreement["pairs"][variant]
    assert len(pairs) >= 8
    age_gaps = np.array([abs(ours["age"] - python.age) for ours, python, _ in pairs])
    same_gender = np.mean([ours["gender"] == python.gender for ours, python, _ in pairs])
    print(f"{variant}: {len(pairs)} faces, age within 0.5 y: {np.mean(age_gaps <= 0.5):.3f}, "
          f"largest gap {age_gaps.max():.2f} y, same gender {same_gender:.3f}")  # fmt: skip
    assert np.mean(age_gaps <= 0.5) >= 0.9 and age_gaps.max() <= 1.5, age_gaps
    assert same_gender >= 0.95
    for ours, python, _ in pairs:
        assert ours.keys() == python.to_dict().keys()


def test_the_page_gives_the_margins_python_gives(agreement):
    """Where the page's shown age is Python's, so are its margins: the same bin of the shown age
    and, for a face whose model input spans fewer of the photo's pixels than it has, the same
    margins of its size."""
    compared = small = 0
    for pairs in agreement["pairs"].values():
        for ours, python, _ in pairs:
            if abs(ours["age"] - python.age) > 0.05:
                continue
            compared += 1
            small += python.input_span < python.face.shape[0]
            for level in ("80", "90"):
                low, high = getattr(python, f"interval_{level}")
                assert ours[f"age_interval_{level}"] == pytest.approx([low, high], abs=0.11)
    print(f"margins compared on {compared} faces, {small} of them small")
    assert compared >= 8 and small >= 1


def test_the_page_aligns_faces_as_python_does(agreement, predictors):
    """The model inputs the page cuts are the ones Python cuts (decoding, detection, the warp
    and the resizing agree), to within half a grey level on average."""
    largest = 0.0
    for pairs in agreement["pairs"].values():
        for _, python_face, browser_input in pairs:
            difference = np.abs(browser_input.astype(int) - python_face.face.astype(int))
            largest = max(largest, float(np.mean(difference)))
    print(f"model inputs: largest mean difference {largest:.3f} grey levels")
    assert largest < 0.5


def test_the_page_draws_the_maps_python_draws(agreement):
    assert len(agreement["maps"]) == len(MAP_PHOTOS) * 2 * 2 * 2
    print("rank correlations:", [f"{m[2]} {m[3]} {m[1]}: {m[4]:.3f}" for m in agreement["maps"]])
    for photo, variant, method, task, rank in agreement["maps"]:
        assert rank >= 0.9, f"{method} {task} on {photo} ({variant}): rank correlation {rank:.3f}"


def _requests(browser) -> list[dict]:
    """Every request the page made since the last call (Chromium's performance log)."""
    requests = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"])
    return requests


def test_the_page_says_when_a_map_is_blank(page, site, predictors):
    """The cropped age model's CAM of the drawn face is zero everywhere (no region raises the
    age): the page's map says so, as Python's colour bar does, and the other maps do not."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    photo = site / "test_photos" / "drawn_1280x960.png"
    face = predictors["cropped"].predict(photo).faces[0]
    python_maps = predictors["cropped"].explain(face, "cam")
    blank = {task: not np.any(python_maps[task]) for task in ("age", "gender")}
    assert blank["age"], "the case this test is for: the drawn face's age CAM is blank"
    browser, url = page
    browser.get(url)
    wait = WebDriverWait(browser, TIMEOUT)
    state = "return document.body.dataset.state"
    wait.until(lambda driver: driver.execute_script(state) == "ready")
    browser.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(photo))
    wait.until(ready.presence_of_all_elements_located((By.CSS_SELECTOR, "[data-face-index]")))
    browser.find_elements(By.CSS_SELECTOR, "[data-face-index]")[0].click()
    for task in ("age", "gender"):
        drawn = f"canvas[data-task={task}][data-method=cam][data-ready=true]"
        canvas = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, drawn)))
        label = canvas.get_attribute("aria-label")
        assert (BLANK_MAP in label) == blank[task], f"{task}: {label}"


def test_using_the_page_sends_no_photo_anywhere(page, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    browser, url = page
    origin = urlparse(url).netloc
    browser.get_log("performance")  # forget the requests of other tests
    browser.get(url)  # a fresh load: every file the page fetches is in the log
    wait = WebDriverWait(browser, TIMEOUT)
    state = "return document.body.dataset.state"
    wait.until(lambda driver: driver.execute_script(state) == "ready")
    photo = site / "test_photos" / "apollo11_crew_1969.jpg"
    browser.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(photo))
    wait.until(ready.presence_of_all_elements_located((By.CSS_SELECTOR, "[data-face-index]")))
    rows = browser.find_elements(By.CSS_SELECTOR, "[data-face-index]")
    assert len(rows) == 3
    rows[1].click()
    for method in ("cam", "occlusion"):
        for task in ("age", "gender"):
            drawn = f"canvas[data-task={task}][data-method={method}][data-ready=true]"
            wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, drawn)))
    width = browser.get_window_size()["width"]
    browser.set_window_size(width, browser.execute_script("return document.body.scrollHeight"))
    save_screenshot(browser, "static.png", colours=256)
    requests = _requests(browser)
    assert requests, "the performance log recorded nothing"
    for request in requests:
        address = urlparse(request["url"])
        if address.scheme in ("data", "blob"):
            continue  # made in the page, never sent
        assert address.netloc == origin, f"a request left the page's origin: {request['url']}"
        assert request["method"] == "GET" and not request.get("hasPostData"), request
        local = site / address.path.lstrip("/")
        assert address.path == "/" or local.is_file(), f"not a file of the page: {address.path}"
        assert not address.path.startswith("/test_photos"), "the photo was requested"
