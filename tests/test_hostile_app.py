"""The hostile-input corpus against the running demo (through its public ``predict`` API) and
the dashboard's upload handler: each file gets a prediction or a readable error within 10 s,
the app keeps answering, and no uploaded photo is left on disk."""

from __future__ import annotations

import base64
import time

import pytest

from testkit.hostile import face_photo, hostile_corpus
from testkit.serving import demo_process
from webapp import dashboard

ANSWER_SECONDS = 10
CACHE_SECONDS = 3


@pytest.fixture(scope="module")
def app_with_own_cache(tmp_path_factory):
    """``python app.py`` in a subprocess whose Gradio cache is a fresh folder we can inspect."""
    cache = tmp_path_factory.mktemp("gradio_cache")
    with demo_process(cache, CACHE_SECONDS) as url:
        yield url, cache


@pytest.mark.slow
def test_corpus_through_the_public_api_and_nothing_is_kept(app_with_own_cache, tmp_path):
    from gradio_client import Client, handle_file

    url, cache = app_with_own_cache
    client = Client(url, verbose=False)
    before = {p for p in cache.rglob("*") if p.is_file()}  # the page's own pictures, examples
    normal = tmp_path / "normal.jpg"
    face_photo(seed=3).save(normal)
    for item in hostile_corpus():
        path = tmp_path / item.name
        path.write_bytes(item.data)
        for variant in ("cropped", "full"):
            started = time.perf_counter()
            try:
                answer = client.predict(handle_file(str(path)), variant, api_name="/predict")
                outcome = "predict"
            except Exception as error:  # noqa: BLE001 - the app's error message is the point
                message = str(error)
                assert "Traceback" not in message and len(message) > 15, (item.name, message)
                outcome = "refuse"
            assert time.perf_counter() - started < ANSWER_SECONDS, item.name
            assert outcome == item.expect, (item.name, variant)
            if outcome == "predict":
                assert answer["faces"] or answer["message"]
        answer = client.predict(handle_file(str(normal)), "cropped", api_name="/predict")
        assert len(answer["faces"]) == 1, f"no normal answer after {item.name}"
    deadline = time.perf_counter() + 5 * CACHE_SECONDS
    while (left := {p for p in cache.rglob("*") if p.is_file()} - before) and (
        time.perf_counter() < deadline
    ):
        time.sleep(0.5)
    assert not left, f"uploads left in Gradio's cache: {sorted(left)}"


@pytest.mark.parametrize("item", hostile_corpus(), ids=lambda item: item.name)
def test_corpus_through_the_dashboard_upload_handler(item):
    contents = "data:application/octet-stream;base64," + base64.b64encode(item.data).decode()
    started = time.perf_counter()
    cards, alerts, _ = dashboard.predict_view(contents, "cropped", None, "")
    assert time.perf_counter() - started < ANSWER_SECONDS
    if item.expect == "refuse":
        assert cards == [] and alerts and "Traceback" not in str(alerts)
    else:
        assert cards or alerts  # a prediction, or "no face found"
