"""The average-map command writes one picture per age bucket and gender, and an index, and
refreshes the sanity check of every method beside the weights."""

import shutil

import numpy as np
from PIL import Image

from data_prep import load_split
from model import sanity, shipped
from model.average_maps import group_labels, main
from model.explain import METHODS


def test_groups_cover_known_labels_only():
    ages = np.array([3, 15, 15, 85, -1])
    genders = np.array([0, 1, -1, 1, 0])
    groups = group_labels(ages, genders)
    assert groups["age_0-9"].tolist() == [0]
    assert groups["age_10-19"].tolist() == [1, 2]
    assert groups["age_80+"].tolist() == [3]
    assert groups["gender_male"].tolist() == [0, 4]
    assert groups["gender_female"].tolist() == [1, 3]
    assert "age_20-29" not in groups  # empty groups are left out


def test_average_maps_are_written_beside_the_weights(smoke_weights, prepared, tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(smoke_weights, weights)
    arguments = ["--variant", "cropped", "--data", str(prepared[0]), "--weights", str(weights)]
    assert main(arguments) == 0
    maps = shipped.average_maps("cropped", weights)
    test = load_split(prepared[0], "cropped", "test")
    expected = group_labels(test.ages, test.genders)
    for task in ("age", "gender"):
        assert set(maps[task]) == set(expected)
        for group, item in maps[task].items():
            assert item["n"] == len(expected[group])
            picture = Image.open(item["path"])
            assert picture.size == (128, 128) and picture.mode == "RGB"
    report = sanity.load("cropped", weights)
    assert report["faces"] == len(test.images)  # fewer than SANITY_FACES in this small split
    assert set(report["passes"]) == set(METHODS)
    for task in ("age", "gender"):
        assert set(report["correlations"][task]) == set(METHODS)
