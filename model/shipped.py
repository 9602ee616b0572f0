"""Read the artefacts shipped beside the weights: histories, run info, metrics, calibration."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from model.calibration import AgeCalibration
from model.config import (
    AVERAGE_MAPS_DIR,
    AVERAGE_MAPS_INDEX,
    CALIBRATION_FILE,
    DATA_REPORT_FILE,
    WEIGHTS_DIR,
    ModelFiles,
    metrics_file,
)


def history(variant: str, task: str, weights: str | Path = WEIGHTS_DIR) -> pd.DataFrame:
    """Per-epoch losses and metrics (train and ``val_`` columns), epochs counted from 1."""
    table = pd.read_csv(ModelFiles(Path(weights) / variant, task).history)
    return table.assign(epoch=table["epoch"] + 1)


def run_info(variant: str, task: str, weights: str | Path = WEIGHTS_DIR) -> dict:
    return json.loads(ModelFiles(Path(weights) / variant, task).run_info.read_text())


def metrics(variant: str, weights: str | Path = WEIGHTS_DIR, split: str = "test") -> dict:
    """The variant's evaluation on a split (``python -m model.evaluate`` output):
    ``metrics.json`` for the test split, ``metrics_<split>.json`` for train and val, and
    ``metrics_wild.json`` for the wild set (``model.evaluate --photos``)."""
    return json.loads((Path(weights) / variant / metrics_file(split)).read_text())


def data_report(weights: str | Path = WEIGHTS_DIR) -> dict:
    """The data-preparation report of the data the models were trained on (a copy of
    data_prep's ``report.json``): counts, rebalancing and distributions per split."""
    return json.loads((Path(weights) / DATA_REPORT_FILE).read_text())


def calibration(variant: str, weights: str | Path = WEIGHTS_DIR) -> AgeCalibration:
    return AgeCalibration.load(Path(weights) / variant / CALIBRATION_FILE)


def average_maps(variant: str, weights: str | Path = WEIGHTS_DIR) -> dict[str, dict[str, dict]]:
    """The shipped average Grad-CAM pictures: ``{task: {group: {"path": Path, "n": int}}}``,
    groups named ``age_<bucket>`` and ``gender_<name>`` (``python -m model.average_maps``)."""
    folder = Path(weights) / variant / AVERAGE_MAPS_DIR
    index = json.loads((folder / AVERAGE_MAPS_INDEX).read_text())
    return {
        task: {
            group: {"path": folder / item["file"], "n": item["n"]} for group, item in groups.items()
        }
        for task, groups in index["maps"].items()
    }
