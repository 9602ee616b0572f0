"""Read the artefacts shipped beside the weights: histories, run info, metrics, calibration."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from model.calibration import AgeCalibration
from model.config import CALIBRATION_FILE, METRICS_FILE, WEIGHTS_DIR, ModelFiles


def history(variant: str, task: str, weights: str | Path = WEIGHTS_DIR) -> pd.DataFrame:
    """Per-epoch losses and metrics (train and ``val_`` columns), epochs counted from 1."""
    table = pd.read_csv(ModelFiles(Path(weights) / variant, task).history)
    return table.assign(epoch=table["epoch"] + 1)


def run_info(variant: str, task: str, weights: str | Path = WEIGHTS_DIR) -> dict:
    return json.loads(ModelFiles(Path(weights) / variant, task).run_info.read_text())


def metrics(variant: str, weights: str | Path = WEIGHTS_DIR) -> dict:
    """The variant's test-split evaluation (``python -m model.evaluate`` output)."""
    return json.loads((Path(weights) / variant / METRICS_FILE).read_text())


def calibration(variant: str, weights: str | Path = WEIGHTS_DIR) -> AgeCalibration:
    return AgeCalibration.load(Path(weights) / variant / CALIBRATION_FILE)
