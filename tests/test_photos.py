"""Evaluation on photos that are not chips: the wild set and ``model.evaluate --photos``."""

import json

import numpy as np
import pandas as pd
import pytest

from data_prep import read_manifest
from data_prep.wild import DYES, LABELS, WildConfig, build_wild_set
from faces import load_image
from model.evaluate import main as evaluate_main
from model.predictor import Predictor
from testkit.hostile import face_photo
from testkit.synthetic import noise_image


@pytest.fixture(scope="module")
def wild_set(utk_folder, prepared, tmp_path_factory):
    out = tmp_path_factory.mktemp("wild")
    build_wild_set(utk_folder, prepared[0], out, WildConfig(limit=6))
    return out


def test_the_wild_set_is_labelled_from_the_test_split_and_reproducible(
    wild_set, utk_folder, prepared, tmp_path
):
    labels = pd.read_csv(wild_set / LABELS)
    manifest = read_manifest(prepared[0])
    test = manifest[manifest["split"] == "test"].head(6)
    assert sorted(labels["source"]) == sorted(test["file"])
    by_file = test.set_index("file")
    for row in labels.itertuples():
        assert row.age == by_file.loc[row.source, "age"]
        photo = load_image(wild_set / "images" / row.filename)
        assert max(photo.size) >= 64 and abs(row.rotation) <= 25
    again = tmp_path / "again"
    build_wild_set(utk_folder, prepared[0], again, WildConfig(limit=6))
    for row in labels.itertuples():
        first = (wild_set / "images" / row.filename).read_bytes()
        assert (again / "images" / row.filename).read_bytes() == first
    other_seed = tmp_path / "other"
    build_wild_set(utk_folder, prepared[0], other_seed, WildConfig(limit=6, seed=1))
    assert (other_seed / "images" / labels.filename[0]).read_bytes() != (
        wild_set / "images" / labels.filename[0]
    ).read_bytes()


def test_the_face_in_every_wild_photo_is_found(wild_set, smoke_weights, detector):
    predictor = Predictor("cropped", smoke_weights, detector=detector)
    labels = pd.read_csv(wild_set / LABELS)
    found = [predictor.predict(wild_set / "images" / name).faces for name in labels.filename]
    assert len(found) == 3 and all(len(faces) == 1 for faces in found)


def test_the_print_style_fades_softens_and_frames_like_a_scanned_print(
    utk_folder, prepared, smoke_weights, detector, tmp_path
):
    build_wild_set(utk_folder, prepared[0], tmp_path, WildConfig(limit=6, style="print"))
    labels = pd.read_csv(tmp_path / LABELS)
    assert set(labels["dyes"]) <= set(DYES) and (labels["softness"] > 0).all()
    assert (labels["contrast"] < 1).all() and labels["jpeg_quality"].between(70, 95).all()
    for row in labels.itertuples():
        pixels = np.asarray(load_image(tmp_path / "images" / row.filename), np.float32)
        if not np.isnan(row.border):  # a light paper border all round
            edge = int(row.border) // 2
            frame = np.concatenate([pixels[:edge].reshape(-1, 3), pixels[-edge:].reshape(-1, 3)])
            assert frame.min() > 180 and frame.std() < 10
    predictor = Predictor("cropped", smoke_weights, detector=detector)
    found = [predictor.predict(tmp_path / "images" / name).faces for name in labels.filename]
    assert sum(len(faces) == 1 for faces in found) >= len(found) - 1
    with pytest.raises(ValueError, match="style must be one of photo, print"):
        build_wild_set(utk_folder, prepared[0], tmp_path / "x", WildConfig(style="polaroid"))


@pytest.fixture(scope="module")
def labelled_photos(tmp_path_factory):
    """Three photos with a face, one without, one broken file, and their labels."""
    folder = tmp_path_factory.mktemp("photos")
    rows = []
    for seed, (age, gender) in enumerate([(30, "female"), (52, "male"), (8, "male")]):
        face_photo(480, 360, seed=seed).save(folder / f"face_{seed}.jpg")
        rows.append({"filename": f"face_{seed}.jpg", "age": age, "gender": gender})
    noise_image(300, seed=4).save(folder / "wall.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    rows += [{"filename": "wall.png", "age": 40, "gender": "female"},
             {"filename": "broken.jpg", "age": 20, "gender": ""}]  # fmt: skip
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    return folder


@pytest.mark.parametrize(("variant", "predicted"), [("cropped", 3), ("full", 4)])
def test_evaluating_photos_counts_faceless_photos_and_skips_broken_ones(
    labelled_photos, smoke_weights, tmp_path, variant, predicted
):
    out = tmp_path / "metrics.json"
    arguments = ["--variant", variant, "--photos", str(labelled_photos),
                 "--labels", str(labelled_photos / "labels.csv"), "--out", str(out),
                 "--weights", str(smoke_weights)]  # fmt: skip
    assert evaluate_main(arguments) == 0
    metrics = json.loads(out.read_text())
    assert metrics["n"] == predicted  # full judges the faceless photo as a whole picture
    assert metrics["no_face_found"] == 1 and metrics["photos"] == 4
    assert [item["file"] for item in metrics["skipped"]] == ["broken.jpg"]
    assert metrics["gender"]["n"] == predicted
    assert np.isfinite(metrics["age"]["mae"]) and "by_age_bucket" in metrics
