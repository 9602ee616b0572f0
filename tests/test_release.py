"""``python -m model.release`` refreshes every file derived from the models, in one command."""

import json
import shutil

import pytest

from data_prep.wild import WildConfig, build_wild_set
from model import shipped
from model.release import main as release_main


@pytest.fixture()
def weights(smoke_weights, tmp_path):
    copy = tmp_path / "weights"
    shutil.copytree(smoke_weights, copy)
    return copy


def test_release_writes_margins_metrics_wild_maps_and_sanity(
    weights, prepared, utk_folder, tmp_path
):
    wild = tmp_path / "wild"
    build_wild_set(utk_folder, prepared[0], wild, WildConfig(limit=4))
    arguments = ["--data", str(prepared[0]), "--wild", str(wild), "--weights", str(weights),
                 "--variant", "cropped"]  # fmt: skip
    assert release_main(arguments) == 0
    folder = weights / "cropped"
    for split in ("test", "val", "train"):
        metrics = shipped.metrics("cropped", weights, split)
        assert metrics["split"] == split and metrics["n"] > 0
    assert shipped.metrics("cropped", weights, "wild")["labels"] == str(wild / "labels.csv")
    assert json.loads((folder / "sanity.json").read_text())["passes"]
    assert shipped.average_maps("cropped", weights)["age"]
    assert not (weights / "full" / "metrics_wild.json").exists()  # only the variant asked for
    report = json.loads((prepared[0] / "report.json").read_text())
    assert shipped.data_report(weights) == report


def test_release_says_what_the_wild_step_needs(weights, prepared, tmp_path, capsys):
    with pytest.raises(SystemExit):
        release_main(["--data", str(prepared[0]), "--weights", str(weights),
                      "--wild", str(tmp_path / "nowhere")])  # fmt: skip
    assert "the wild step needs --wild" in capsys.readouterr().err
    before = (weights / "full" / "calibration.json").read_bytes()
    assert release_main(["--data", str(prepared[0]), "--weights", str(weights),
                         "--variant", "full", "--steps", "metrics"]) == 0  # fmt: skip
    assert (weights / "full" / "calibration.json").read_bytes() == before
    assert (weights / "full" / "metrics_val.json").is_file()
