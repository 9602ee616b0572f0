"""The demo's "Many photos" tab and its ``predict_batch`` API: a zip or several photos in, a CSV
with one row per face out, with plots of the ages, genders and faces per photo.

The work is `model.batch` (what ``python -m model.batch`` runs); here are the limits of one
request, the plots and the wiring. Uploads are read where Gradio put them and left to its
timed clean-up; the CSV is written into Gradio's cache, where the same clean-up removes it.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd
import plotly.graph_objects as go
from gradio.data_classes import FileData, ListFiles
from gradio.utils import get_upload_folder
from gradio_client.utils import is_valid_file

from model.batch import PHOTO_SUFFIXES, BatchResult, open_photos, predict_photos, write_csv
from model.predictor import shared_predictor
from webapp.variants import check_variant

MAX_PHOTOS = 30
"""Photos per request (after unzipping)."""
MAX_MEGAPIXELS = 400
"""Pixels of all photos of a request together, in millions (thirty 12-megapixel photos pass)."""
MAX_UNZIPPED_MB = 300
"""Bytes of all photos of a request together once unzipped, in MB (against zip bombs)."""
CSV_NAME = "age_gender_results.csv"
TABLE_COLUMNS = ("file", "face", "age", "age_80_low", "age_80_high", "gender",
                 "gender_probability", "status", "reason")  # fmt: skip
LIMITS = (
    f"Up to **{MAX_PHOTOS} photos** per request (JPEG, PNG or WebP, loose or in one or more "
    f"zips) and **{MAX_MEGAPIXELS} megapixels** in all. For more, run "
    "`python -m model.batch FOLDER_OR_ZIP --out results.csv` on your own machine."
)


class UploadedFiles(gr.File):
    """Gradio's multiple-file input, but it hands the handler the uploaded paths without the
    empty temporary file that Gradio 6's own ``type="filepath"`` leaves in its cache for every
    upload (never deleted: it is not one of the files the timed clean-up knows)."""

    is_template = True

    def preprocess(self, payload: ListFiles | FileData | None) -> list[str] | None:
        if payload is None:
            return None
        paths = [item.path for item in (payload if isinstance(payload, ListFiles) else [payload])]
        wrong = [Path(path).name for path in paths if not is_valid_file(path, self.file_types)]
        if wrong:
            raise gr.Error(f"Not a zip, JPEG, PNG or WebP file: {', '.join(wrong)}.")
        return paths


class LimitError(gr.Error):
    """A request over one of the limits; the message says which and what to do."""


def _check_limits(photos) -> None:
    if len(photos) > MAX_PHOTOS:
        raise LimitError(
            f"Too many photos: {len(photos)} in this request, the limit is {MAX_PHOTOS}. "
            "Please split them into several requests."
        )
    if sum(photo.size for photo in photos) > MAX_UNZIPPED_MB * 1e6:
        raise LimitError(
            f"These photos are too large together (over {MAX_UNZIPPED_MB} MB once unzipped). "
            "Please send fewer at a time."
        )
    megapixels = sum(photo.pixels() for photo in photos) / 1e6
    if megapixels > MAX_MEGAPIXELS:
        raise LimitError(
            f"These photos have {megapixels:.0f} megapixels together, the limit is "
            f"{MAX_MEGAPIXELS}. Please send fewer or smaller photos at a time."
        )


def run_batch(files: list[str] | None, variant: str, progress=None) -> tuple[BatchResult, str]:
    """(result, path of its CSV in Gradio's cache) for uploaded photos and zips; a request
    over the limits, without files or without a single photo is a readable `gr.Error`."""
    if not files:
        raise gr.Error("Please upload a zip or some photos first.")
    check_variant(variant)
    missing = [Path(file).name for file in files if not Path(file).is_file()]
    if missing:
        raise gr.Error(
            f"{', '.join(missing)} is no longer on the server (uploads are deleted after a few "
            "minutes, for your privacy). Please upload again."
        )
    predictor = shared_predictor(variant)
    with open_photos(files) as (photos, skipped):
        if not photos:
            raise gr.Error(
                "No photo found: upload JPEG, PNG or WebP files, or a zip that holds some."
            )
        _check_limits(photos)

        def report(done: int, total: int) -> None:
            if progress is not None:
                progress((done, total), desc="Photos", unit="photos")

        result = predict_photos(photos, predictor, skipped, report)
    cache = Path(get_upload_folder())
    cache.mkdir(parents=True, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="batch_", dir=cache)
    csv_path = str(Path(folder) / CSV_NAME)
    write_csv(result.rows, csv_path)
    return result, csv_path


def predict_batch(
    files: list[str] | None,
    variant: str = "cropped",
    progress=gr.Progress(),  # noqa: B008 - how Gradio hands a handler its progress bar
) -> tuple[str, dict]:
    """The ``predict_batch`` API: (the CSV file, JSON with the counts and every row). One row per
    face (file, face, box x/y/width/height, age, 80% interval, age group, gender, probability);
    a photo without a face or that cannot be read has one row whose ``status`` and ``reason``
    say so."""
    result, csv_path = run_batch(files, variant, progress)
    return csv_path, {"variant": variant, **result.summary(), "rows": result.rows}


def age_histogram(rows: list[dict]) -> go.Figure:
    faces = [row for row in rows if row["status"] == "face"]
    figure = go.Figure(
        [
            go.Histogram(
                x=[row["age"] for row in faces if row["gender"] == gender],
                name=gender,
                xbins={"start": 0, "end": 100, "size": 5},
            )
            for gender in ("female", "male")
        ]
    )
    figure.update_layout(barmode="stack", title="Predicted ages (5-year bins)",
                         xaxis_title="age", yaxis_title="faces", height=320)  # fmt: skip
    return figure


def gender_counts(rows: list[dict]) -> go.Figure:
    counts = Counter(row["gender"] for row in rows if row["status"] == "face")
    figure = go.Figure(go.Bar(x=["female", "male"], y=[counts["female"], counts["male"]]))
    figure.update_layout(title="Predicted genders", yaxis_title="faces", height=320)
    return figure


def faces_per_photo(rows: list[dict]) -> go.Figure:
    per_photo = Counter()
    for row in rows:
        if row["status"] in ("face", "no face", "best guess", "whole picture"):
            per_photo[row["file"]] += row["status"] == "face"
    counts = Counter(per_photo.values())
    numbers = list(range(max(counts, default=0) + 1))
    figure = go.Figure(go.Bar(x=numbers, y=[counts[n] for n in numbers]))
    figure.update_layout(title="Faces per photo", xaxis_title="faces found",
                         yaxis_title="photos", xaxis_dtick=1, height=320)  # fmt: skip
    return figure


def summary_note(result: BatchResult) -> str:
    counts = result.summary()
    note = (
        f"**{counts['photos']} photos** in {counts['seconds']} s: {counts['faces']} faces in "
        f"{counts['with_faces']} photos, {counts['no_face']} without a face, "
        f"{counts['unreadable']} unreadable"
    )
    if counts["skipped"]:
        note += f", {counts['skipped']} other files skipped"
    return note + ". The CSV has one row per face; the reasons are in its last column."


def batch_view(files: list[str] | None, variant: str, progress=gr.Progress()):  # noqa: B008
    """The tab's button: (summary, CSV, age histogram, gender counts, faces per photo, table)."""
    result, csv_path = run_batch(files, variant, progress)
    table = pd.DataFrame(result.rows)[list(TABLE_COLUMNS)]
    return (summary_note(result), csv_path, age_histogram(result.rows),
            gender_counts(result.rows), faces_per_photo(result.rows), table)  # fmt: skip


@dataclass
class ManyPhotosTab:
    tab: gr.Tab
    files: UploadedFiles
    variant: gr.Radio
    note: gr.Markdown
    csv: gr.File


def many_photos_tab(variant_choices: list[tuple[str, str]]) -> ManyPhotosTab:
    """Build the tab (inside a `gr.Blocks`) and wire its button and the ``predict_batch`` API."""
    with gr.Tab("Many photos", elem_id="many-photos-tab") as tab:
        gr.Markdown(
            "Upload a zip of photos or several photos, get a CSV with every face's age (80% "
            "margin), age group and gender, and a summary. " + LIMITS + " Nothing you upload "
            "is kept: uploads and the CSV are deleted within three minutes."
        )
        with gr.Row():
            with gr.Column(scale=1):
                files = UploadedFiles(label="Photos or zip", file_count="multiple",
                                      file_types=[".zip", *PHOTO_SUFFIXES], type="filepath",
                                      elem_id="batch-files")  # fmt: skip
                variant = gr.Radio(variant_choices, value="cropped", label="Model")
                run = gr.Button("Estimate every face", variant="primary")
            with gr.Column(scale=1):
                note = gr.Markdown(elem_id="batch-note")
                csv = gr.File(label="Results (CSV)", interactive=False, elem_id="batch-csv")
        with gr.Row():
            ages = gr.Plot()
            genders = gr.Plot()
            per_photo = gr.Plot()
        table = gr.Dataframe(label="Rows", interactive=False, max_height=400)
        api_result = gr.JSON(visible=False)
        api_button = gr.Button(visible=False)  # inside the tab: tabs stay in one row
    run.click(
        batch_view,
        [files, variant],
        [note, csv, ages, genders, per_photo, table],
        api_visibility="undocumented",
        concurrency_limit=1,
        concurrency_id="batch",
    )
    api_button.click(
        predict_batch,
        [files, variant],
        [csv, api_result],
        api_name="predict_batch",
        concurrency_limit=1,
        concurrency_id="batch",
    )
    return ManyPhotosTab(tab, files, variant, note, csv)
