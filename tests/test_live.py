"""The demo's "Live camera" tab on the shipped models: frames labelled in-process, and the page
in headless Chromium whose fake camera plays a video made from a photo: the streamed frames
come back with the face boxed, nothing is written to disk, and leaving the tab stops it."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from testkit.serving import camera_frames, chromium, demo_process, fake_camera_flags, write_y4m
from testkit.synthetic import noise_image
from webapp import live

BOX_COLOUR = (255, 200, 0)  # model.render.annotate's outline


def box_pixels(picture: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) of the pixels in the colour of the drawn boxes."""
    pixels = np.asarray(picture.convert("RGB"), int)
    close = np.abs(pixels - np.array(BOX_COLOUR)).max(axis=2) < 50
    return np.nonzero(close)


def assert_box_around_the_face(picture: Image.Image) -> None:
    ys, xs = box_pixels(picture)
    assert len(xs) > 300, "no box drawn"
    # the outline surrounds the face in the middle of the 640x480 frame
    assert xs.min() < 290 < 350 < xs.max() and ys.min() < 200 < 280 < ys.max()
    assert xs.min() > 160 and xs.max() < 480


def test_label_frame_boxes_the_face_on_the_full_frame():
    frame = np.asarray(camera_frames()[5])
    picture, faces = live.label_frame(frame, "cropped")
    assert picture.size == (640, 480)  # found at 320x240, boxed on the full frame
    [caption] = faces.labels.captions
    assert re.fullmatch(r"\d+ \(\d+-\d+\) · (female|male) \d+%", caption)
    assert_box_around_the_face(picture)
    for _ in range(3):  # later frames get the newest labels while the next search runs
        picture, faces = live.label_frame(frame, "cropped", faces)
        assert_box_around_the_face(picture)
    picture, faces = live.label_frame(frame, "full")
    assert faces.labels.boxes and len(box_pixels(picture)[0]) > 300
    empty = np.asarray(noise_image(480, seed=4).crop((0, 0, 480, 360)))
    picture, faces = live.label_frame(empty, "cropped")
    assert faces.labels.boxes == [] and np.array_equal(np.asarray(picture), empty)
    assert live.label_frame(None, "cropped")[0] is None


def test_frames_go_inline_never_through_a_file():
    data = live.LiveFrame().postprocess(camera_frames()[0])
    assert data.path is None and data.url.startswith("data:image/jpeg;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(data.url.split(",", 1)[1])))
    assert decoded.size == (640, 480)


def shown_frame(browser) -> Image.Image | None:
    source = browser.execute_script(
        f"const img = document.querySelector('#{live.FRAMES_ID} img'); return img && img.src;"
    )
    if not source or not source.startswith("data:image/jpeg;base64,"):
        return None
    return Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))


@pytest.mark.slow
@pytest.mark.skipif(
    not shutil.which("chromedriver") and not os.environ.get("REQUIRE_BROWSER"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
def test_live_tab_streams_boxed_frames_in_chromium(tmp_path_factory):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    folder = tmp_path_factory.mktemp("camera")
    video = write_y4m(folder / "camera.y4m", camera_frames())
    cache = tmp_path_factory.mktemp("gradio_cache")
    with demo_process(cache, cache_seconds=600) as url:
        browser = chromium(*fake_camera_flags(video))
        try:
            browser.get(url)
            wait = WebDriverWait(browser, 90)

            def clickable(xpath: str):
                return wait.until(ready.element_to_be_clickable((By.XPATH, xpath)))

            def tab(name: str):
                return clickable(f"//button[@role='tab' and contains(., '{name}')]")

            def camera_button(text: str):
                return clickable(f"//*[@id='{live.CAMERA_ID}']//button[contains(., '{text}')]")

            tab("Live camera").click()
            camera_button("Access Webcam").click()
            before = {p for p in cache.rglob("*") if p.is_file()}
            camera_button("Record").click()
            wait.until(lambda _: shown_frame(browser) is not None)
            seen, deadline = [], time.perf_counter() + 10
            while time.perf_counter() < deadline and len(seen) < 5:
                frame = np.asarray(shown_frame(browser))
                if not seen or not np.array_equal(frame, seen[-1]):
                    seen.append(frame)
                time.sleep(0.05)
            assert len(seen) >= 5, "the frames do not keep coming"
            assert_box_around_the_face(Image.fromarray(seen[-1]))

            tab("Many photos").click()  # leaving the tab stops the stream
            tab("Live camera").click()
            camera_button("Record")
            last = np.asarray(shown_frame(browser))
            time.sleep(2)
            assert np.array_equal(np.asarray(shown_frame(browser)), last)
            assert {p for p in cache.rglob("*") if p.is_file()} == before, "frames were stored"
        finally:
            browser.quit()
