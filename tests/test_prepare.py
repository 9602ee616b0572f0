"""End-to-end `prepare` on synthetic UTKFace-style sources (folder, archives, bad files)."""

import json
import shutil
import tarfile
import zipfile

import numpy as np
import pandas as pd
import pytest

from data_prep import load_split, prepare, read_manifest
from data_prep.__main__ import main
from data_prep.split import SPLITS
from faces.align import TEMPLATE, ChipTemplate
from faces.detect import crop_square
from testkit.synthetic import draw_face, jpeg_bytes, labels_for, noise_image, utk_name
from tests.conftest import SMALL_CONFIG


def test_prepare_writes_manifest_arrays_and_report(prepared):
    out, report = prepared
    manifest = read_manifest(out)
    assert list(manifest.columns[:5]) == ["file", "age", "gender", "race", "split"]
    ages = [age for age, _, _ in labels_for(40)]
    toddlers = sum(age <= 4 for age in ages)
    assert report["rebalance"]["removed_over_max_age"] == sum(age > 80 for age in ages) > 0
    assert report["rebalance"]["toddlers_after"] == round(toddlers / 3)
    assert len(manifest) == 40 - sum(age > 80 for age in ages) - toddlers + round(toddlers / 3)
    assert manifest["age"].max() <= 80
    for variant in ("full", "cropped"):
        for split in SPLITS:
            data = load_split(out, variant, split)
            rows = manifest[manifest["split"] == split]
            assert data.images.shape == (len(rows), 32, 32, 3)
            assert data.images.dtype == np.uint8
            assert data.files == rows["file"].tolist()
            assert data.ages.tolist() == rows["age"].tolist()
    assert report["distributions"]["after_rebalance"]["count"] == len(manifest)
    assert sum(report["distributions"][s]["count"] for s in SPLITS) == len(manifest)
    assert set(report["timings"]) >= {
        "read_and_decode_s", "detect_s", "align_and_resize_s", "total_s"
    }  # fmt: skip
    template = ChipTemplate.load(out / TEMPLATE)
    assert template.chips == report["distributions"]["train"]["count"] - sum(
        not found
        for found, split in zip(manifest["face_found"], manifest["split"], strict=True)
        if split == "train"
    )
    assert json.loads((out / "report.json").read_text()) == report


def test_no_file_lands_in_two_splits(prepared):
    manifest = read_manifest(prepared[0])
    assert manifest["file"].is_unique
    assert set(manifest["split"]) <= set(SPLITS)


def test_cropped_variant_crops_the_detected_face(prepared):
    out, report = prepared
    manifest = read_manifest(out)
    assert report["detector"]["fallbacks"] <= 1
    found = manifest[manifest["face_found"]].iloc[0]
    # The drawn face is an oval from (50, 30) to (150, 170) on a 200x200 chip.
    assert 30 <= found["face_x"] <= 70 and 10 <= found["face_y"] <= 60
    assert 70 <= found["face_w"] <= 130 and 100 <= found["face_h"] <= 180
    full = load_split(out, "full", found["split"])
    cropped = load_split(out, "cropped", found["split"])
    row = full.files.index(found["file"])
    assert not np.array_equal(full.images[row], cropped.images[row])
    # The face fills the crop: its centre pixel is skin, not the plain background corner.
    centre, corner = cropped.images[row][16, 16].astype(int), full.images[row][1, 1].astype(int)
    assert np.abs(centre - corner).sum() > 60


def test_faceless_chips_fall_back_to_the_central_crop_and_are_counted(tmp_path, detector):
    source = tmp_path / "UTKFace"
    source.mkdir()
    for index in range(6):
        image = draw_face(seed=index) if index < 3 else noise_image(seed=index)
        (source / utk_name(30 + index, index % 2, 0, index)).write_bytes(jpeg_bytes(image))
    report = prepare(source, tmp_path / "out", SMALL_CONFIG, detector)
    manifest = read_manifest(tmp_path / "out")
    noise = manifest[manifest["age"] >= 33]
    assert not noise["face_found"].any()
    assert (noise["face_confidence"] == 0).all()
    assert report["detector"]["fallbacks"] == 3
    assert report["detector"]["fallback_rate"] == pytest.approx(0.5)
    assert sorted(report["detector"]["fallback_files"]) == sorted(noise["file"])


def test_second_run_reuses_detections_and_gives_an_identical_manifest(
    prepared, utk_folder, detector, tmp_path
):
    out, _ = prepared
    rerun = tmp_path / "rerun"
    shutil.copytree(out, rerun)
    report = prepare(utk_folder, rerun, SMALL_CONFIG, detector)
    assert report["detector"]["boxes_from_cache"] == report["detector"]["images"]
    pd.testing.assert_frame_equal(read_manifest(rerun), read_manifest(out))
    for split in SPLITS:
        np.testing.assert_array_equal(
            load_split(rerun, "cropped", split).images, load_split(out, "cropped", split).images
        )


def _archive(folder, path):
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            for file in sorted(folder.iterdir()):
                archive.write(file, f"UTKFace/{file.name}")
                # The Kaggle zip holds the same chips again under a second folder.
                archive.write(file, f"utkface_aligned_cropped/UTKFace/{file.name}")
            archive.writestr("__MACOSX/UTKFace/._junk", b"metadata")
    else:
        with tarfile.open(path, "w:gz") as archive:
            archive.add(folder, arcname="UTKFace")


@pytest.mark.parametrize("archive_name", ["UTKFace.tar.gz", "utkface-new.zip"])
def test_archives_give_the_same_manifest_as_the_folder(
    prepared, utk_folder, detector, tmp_path, archive_name
):
    archive = tmp_path / archive_name
    _archive(utk_folder, archive)
    report = prepare(archive, tmp_path / "out", SMALL_CONFIG, detector)
    pd.testing.assert_frame_equal(read_manifest(tmp_path / "out"), read_manifest(prepared[0]))
    expected_duplicates = 40 if archive_name.endswith(".zip") else 0
    assert report["files"]["duplicates"] == expected_duplicates


def test_bad_files_and_names_are_reported_not_fatal(tmp_path, detector):
    source = tmp_path / "UTKFace"
    source.mkdir()
    good = jpeg_bytes(draw_face(seed=1))
    files = {
        utk_name(25, 0, 1, 1): good,
        utk_name(35, 1, 2, 2): good,
        "39_1_20170116174525125.jpg.chip.jpg": good,
        "61_3_1_20170109150557335.jpg.chip.jpg": good,
        "notanage_1_1_20170109150557335.jpg.chip.jpg": good,
        utk_name(40, 0, 0, 3): good[: len(good) // 3],
        utk_name(41, 0, 0, 4): b"this is text, not a JPEG",
        utk_name(42, 1, 0, 5): b"",
        "README.txt": b"hello",
    }
    for name, data in files.items():
        (source / name).write_bytes(data)
    report = prepare(source, tmp_path / "out", SMALL_CONFIG, detector)
    manifest = read_manifest(tmp_path / "out")
    unreadable = {entry["file"] for entry in report["unreadable_files"]}
    assert unreadable == {utk_name(40, 0, 0, 3), utk_name(41, 0, 0, 4), utk_name(42, 1, 0, 5)}
    actions = {entry["file"]: entry["action"] for entry in report["malformed_names"]}
    assert actions == {
        "39_1_20170116174525125.jpg.chip.jpg": "kept with unknown race",
        "61_3_1_20170109150557335.jpg.chip.jpg": "kept with unknown gender",
        "notanage_1_1_20170109150557335.jpg.chip.jpg": "skipped: no age could be recovered",
        "README.txt": "skipped: no age could be recovered",
    }
    assert sorted(manifest["file"]) == sorted(
        [
            utk_name(25, 0, 1, 1),
            utk_name(35, 1, 2, 2),
            "39_1_20170116174525125.jpg.chip.jpg",
            "61_3_1_20170109150557335.jpg.chip.jpg",
        ]
    )
    assert report["files"] == {"usable": 4, "malformed_names": 4, "unreadable": 3, "duplicates": 0}


def test_cli_prepares_and_reports_bad_sources(utk_folder, tmp_path, capsys):
    assert (
        main(
            [
                "prepare",
                "--source",
                str(utk_folder),
                "--out",
                str(tmp_path / "cli"),
                "--size",
                "24",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    assert load_split(tmp_path / "cli", "full", "train").images.shape[1:] == (24, 24, 3)
    assert "manifest.csv" in capsys.readouterr().out
    assert main(["prepare", "--source", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["prepare", "--source", str(tmp_path / "empty"), "--out", str(tmp_path)]) == 2
    assert "no usable UTKFace image" in capsys.readouterr().err


def test_crop_square_is_centred_on_the_box():
    from faces.detect import Face

    left, top, right, bottom = crop_square(Face(10, 20, 100, 100, 1.0))
    assert right - left == bottom - top == 90
    assert (left + right) / 2 == pytest.approx(60, abs=1)
    assert (top + bottom) / 2 == pytest.approx(70, abs=1)
