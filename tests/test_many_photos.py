"""The demo's "Many photos" tab on the shipped models: its handlers as plain functions (rows,
reasons, plots, limits) and its ``predict_batch`` API through gradio_client against
``python app.py``, after which no upload and no CSV is left in Gradio's cache."""

from __future__ import annotations

import csv
import time
import zipfile
from pathlib import Path

import gradio as gr
import pytest

from testkit.hostile import BATCH_FILES, batch_zip, encode, face_photo, png_claiming
from testkit.serving import demo_process
from webapp import many_photos

CACHE_SECONDS = 3


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> list[str]:
    """What a visitor uploads: the mixed zip and a loose photo."""
    folder = tmp_path_factory.mktemp("uploads")
    loose = folder / "loose.jpg"
    face_photo(800, 600, seed=11).save(loose)
    return [str(batch_zip(folder / "mixed.zip")), str(loose)]


def statuses(rows: list[dict]) -> dict[str, str]:
    return {row["file"]: row["status"] for row in rows}


def test_view_gives_rows_csv_and_plots(uploads):
    note, csv_path, ages, genders, per_photo, table = many_photos.batch_view(uploads, "cropped")
    expected = {f"mixed.zip/{name}": status for name, status in BATCH_FILES.items()}
    assert statuses(table.to_dict("records")) == expected | {"loose.jpg": "face"}
    assert "6 photos" in note and "3 faces in 3 photos" in note and "2 unreadable" in note
    with open(csv_path, newline="", encoding="utf-8") as file:
        assert len(list(csv.DictReader(file))) == len(table)
    assert Path(csv_path).is_relative_to(gr.utils.get_upload_folder())  # left to the clean-up
    assert sum(len(trace.x) for trace in ages.data) == 3  # every face's age, by gender
    assert sum(genders.data[0].y) == 3
    assert list(per_photo.data[0].x) == [0, 1] and list(per_photo.data[0].y) == [1, 3]


def test_limits_and_empty_requests_are_readable_errors(tmp_path):
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as archive:
        for index in range(many_photos.MAX_PHOTOS + 1):
            archive.writestr(f"{index}.png", encode(face_photo(32, 32), "PNG"))
    with pytest.raises(many_photos.LimitError, match=f"limit is {many_photos.MAX_PHOTOS}"):
        many_photos.predict_batch([str(many)], "cropped")
    huge = tmp_path / "huge.zip"
    with zipfile.ZipFile(huge, "w") as archive:
        for index in range(3):  # 3 x 150 megapixels claimed by tiny files
            archive.writestr(f"{index}.png", png_claiming(12_000, 12_500))
    with pytest.raises(many_photos.LimitError, match="megapixels"):
        many_photos.predict_batch([str(huge)], "cropped")
    text = tmp_path / "notes.txt"
    text.write_text("no photos here")
    for files in (None, [], [str(text)]):
        with pytest.raises(gr.Error, match="upload"):
            many_photos.predict_batch(files, "cropped")


@pytest.mark.slow
def test_predict_batch_through_gradio_client_keeps_nothing(uploads, tmp_path_factory):
    from gradio_client import Client, handle_file

    cache = tmp_path_factory.mktemp("gradio_cache")
    with demo_process(cache, CACHE_SECONDS) as url:
        before = {p for p in cache.rglob("*") if p.is_file()}  # the page's own pictures
        client = Client(url, verbose=False)
        csv_copy, data = client.predict(
            [handle_file(path) for path in uploads], "full", api_name="/predict_batch"
        )
        assert data["variant"] == "full" and data["photos"] == 6 and data["unreadable"] == 2
        assert statuses(data["rows"])["mixed.zip/truncated.jpg"] == "unreadable"
        assert statuses(data["rows"])["loose.jpg"] == "face"
        assert statuses(data["rows"])["mixed.zip/more/noise.png"] == "whole picture"
        with open(csv_copy, newline="", encoding="utf-8") as file:
            assert [row["file"] for row in csv.DictReader(file)] == [
                row["file"] for row in data["rows"]
            ]
        with pytest.raises(Exception, match="Not a zip, JPEG, PNG or WebP file: "):
            client.predict([handle_file(csv_copy)], "full", api_name="/predict_batch")
        deadline = time.perf_counter() + 5 * CACHE_SECONDS
        while (left := {p for p in cache.rglob("*") if p.is_file()} - before) and (
            time.perf_counter() < deadline
        ):
            time.sleep(0.5)
        assert not left, f"uploads or results left in Gradio's cache: {sorted(left)}"
