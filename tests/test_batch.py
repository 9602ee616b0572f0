"""``python -m model.batch`` on the shipped models: a folder with a zip of good, broken,
faceless and other files gives one row per face, a row per photo without a face or that
cannot be read, with the reason, and the right exit code."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from model.batch import BEST_GUESS, COLUMNS, NO_FACE, SKIPPED, WHOLE_PICTURE, main
from testkit.hostile import BATCH_FILES, batch_zip, face_photo
from testkit.synthetic import noise_image

ROOT = Path(__file__).resolve().parent.parent


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames) == COLUMNS
        return list(reader)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """photos/ with a loose photo (two faces), a sub-folder holding the mixed zip, a hidden
    file and a broken PNG."""
    root = tmp_path_factory.mktemp("batch") / "photos"
    (root / "trip").mkdir(parents=True)
    two = face_photo(960, 480, seed=5)
    two.paste(face_photo(480, 480, seed=6).crop((120, 120, 360, 360)), (40, 120))
    two.save(root / "two.png")
    batch_zip(root / "trip" / "mixed.zip")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / ".thumbnails").write_bytes(b"not for us")
    return root


def test_folder_with_a_zip_gives_a_row_per_face_and_reasons(folder, tmp_path):
    out = tmp_path / "results.csv"
    assert main([str(folder), "--variant", "cropped", "--out", str(out), "--quiet"]) == 0
    rows = read_rows(out)
    by_file: dict[str, list[dict]] = {}
    for row in rows:
        by_file.setdefault(row["file"], []).append(row)
    expected = {f"trip/mixed.zip/{name}": status for name, status in BATCH_FILES.items()}
    expected |= {"two.png": "face", "broken.png": "unreadable"}
    assert {name: found[0]["status"] for name, found in by_file.items()} == expected
    assert len(by_file["two.png"]) == 2  # one row per face, largest first
    assert [row["face"] for row in by_file["two.png"]] == ["1", "2"]
    first, second = by_file["two.png"]
    assert int(first["width"]) * int(first["height"]) >= int(second["width"]) * int(
        second["height"]
    )
    for row in rows:
        if row["status"] == "face":
            assert float(row["age_80_low"]) <= float(row["age"]) <= float(row["age_80_high"])
            assert (
                row["gender"] in ("female", "male") and 0.5 <= float(row["gender_probability"]) <= 1
            )
            assert row["age_group"] and row["reason"] == ""
        else:
            assert row["face"] == row["age"] == row["x"] == "" and row["reason"]
    face = by_file["trip/mixed.zip/face.jpg"][0]
    x, y, width, height = (int(face[key]) for key in ("x", "y", "width", "height"))
    assert 220 < x + width / 2 < 420 and 140 < y + height / 2 < 340  # the drawn face, 640x480
    assert by_file["trip/mixed.zip/more/noise.png"][0]["reason"] == NO_FACE
    assert "truncated" in by_file["trip/mixed.zip/truncated.jpg"][0]["reason"]
    assert "not an image" in by_file["trip/mixed.zip/text.jpg"][0]["reason"]
    assert by_file["trip/mixed.zip/notes.txt"][0]["reason"] == SKIPPED


def test_full_variant_reads_the_zip_directly(folder, tmp_path):
    out = tmp_path / "full.csv"
    assert main([str(folder / "trip" / "mixed.zip"), "--variant", "full", "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    statuses = {row["file"]: row["status"] for row in read_rows(out)}
    assert statuses["mixed.zip/face.jpg"] == statuses["mixed.zip/more/face.webp"] == "face"
    assert statuses["mixed.zip/truncated.jpg"] == statuses["mixed.zip/text.jpg"] == "unreadable"
    # no face found: the full-image model judges the whole picture, and the row says so
    [whole] = [row for row in read_rows(out) if row["file"] == "mixed.zip/more/noise.png"]
    assert whole["status"] == "whole picture" and whole["reason"] == WHOLE_PICTURE
    assert (whole["x"], whole["y"], whole["width"], whole["height"]) == ("0", "0", "300", "300")


def test_a_best_guess_row_says_so(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    noise_image(300, seed=1).save(photos / "texture.png")  # no face; a face-like patch
    out = tmp_path / "guess.csv"
    assert main([str(photos), "--variant", "full", "--out", str(out), "--quiet"]) == 0
    [row] = read_rows(out)
    assert row["status"] == "best guess" and row["reason"] == BEST_GUESS
    assert 0 < int(row["width"]) < 300 and 0 < int(row["height"]) < 300
    out = tmp_path / "cropped.csv"
    assert main([str(photos), "--variant", "cropped", "--out", str(out), "--quiet"]) == 0
    assert [row["status"] for row in read_rows(out)] == ["no face"]


@pytest.mark.slow
def test_command_line_exit_codes_and_summary(folder, tmp_path):
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    (unreadable / "a.jpg").write_text("not a photo")
    (unreadable / "b.zip").write_text("not a zip")
    command = [sys.executable, "-m", "model.batch", "--out", str(tmp_path / "r.csv")]
    done = subprocess.run(command + [str(unreadable)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1 and "Nothing could be read" in done.stderr
    rows = read_rows(tmp_path / "r.csv")
    assert [(row["file"], row["status"]) for row in rows] == [
        ("a.jpg", "unreadable"),
        ("b.zip", "unreadable"),
    ]
    assert "not a readable zip" in rows[1]["reason"]
    done = subprocess.run(command + [str(folder)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "photos/s" in done.stdout and "100%" in done.stderr  # the summary; the progress bar
