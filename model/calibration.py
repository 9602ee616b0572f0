"""Honest age margins: split-conformal intervals conditioned on the predicted age.

Residuals (true - predicted age) on the validation split are grouped into bins of predicted
age, because a child's age is predicted far more precisely than a 60-year-old's. In each bin
the interval for level 1-a spans the conformal a/2 and 1-a/2 quantiles of the signed
residuals, so it may be lopsided (the model tends to under-estimate the old and over-estimate
the young), and covers at least 1-a of the true ages in each bin on exchangeable data.

``python -m model.calibration --variant cropped --data DIR`` recalibrates a shipped age model.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

LEVELS = (0.8, 0.9)
MIN_PER_BIN = 150
MAX_BINS = 10


@dataclass
class AgeCalibration:
    """Per-bin residual quantiles. ``edges``: bin boundaries on the predicted age (years),
    ``lower``/``upper``: for each level (as "0.8", "0.9") the offset to add to the prediction
    in each bin; ``counts``: validation residuals per bin."""

    edges: list[float]
    lower: dict[str, list[float]]
    upper: dict[str, list[float]]
    counts: list[int]

    def interval(self, predicted, level: float) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) age bounds in years for each predicted age, at `level` (0.8 or 0.9)."""
        predicted = np.asarray(predicted, dtype=np.float64)
        key = _key(level)
        bins = _bin_index(self.edges, predicted)
        low = predicted + np.asarray(self.lower[key])[bins]
        high = predicted + np.asarray(self.upper[key])[bins]
        return np.maximum(low, 0.0), np.maximum(high, 0.0)

    def coverage(self, predicted, true, level: float) -> float:
        """Share of true ages inside their interval."""
        low, high = self.interval(predicted, level)
        true = np.asarray(true)
        return float(np.mean((true >= low) & (true <= high)))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> AgeCalibration:
        return cls(**json.loads(Path(path).read_text()))


def _bin_index(edges: list[float], predicted: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, len(edges) - 2)


def _key(level: float) -> str:
    return f"{level:g}"


def _conformal_bounds(residuals: np.ndarray, level: float) -> tuple[float, float]:
    """Finite-sample conservative a/2 and 1-a/2 quantiles of signed residuals."""
    ordered = np.sort(residuals)
    n, tail = len(ordered), (1 - level) / 2
    low_rank = math.floor((n + 1) * tail)
    high_rank = math.ceil((n + 1) * (1 - tail))
    low = ordered[low_rank - 1] if low_rank >= 1 else ordered[0]
    high = ordered[min(high_rank, n) - 1]
    return float(low), float(high)


def fit_calibration(
    predicted: np.ndarray,
    true: np.ndarray,
    levels=LEVELS,
    min_per_bin: int = MIN_PER_BIN,
    max_bins: int = MAX_BINS,
) -> AgeCalibration:
    """Calibrate on validation predictions (years). Bins are quantiles of the predicted age
    with at least `min_per_bin` residuals each (one bin if there are too few)."""
    predicted = np.asarray(predicted, dtype=np.float64)
    residuals = np.asarray(true, dtype=np.float64) - predicted
    n_bins = max(1, min(max_bins, len(predicted) // min_per_bin))
    inner = np.unique(np.quantile(predicted, np.linspace(0, 1, n_bins + 1)[1:-1]))
    edges = [0.0, *inner.tolist(), 1000.0]
    bins = _bin_index(edges, predicted)
    lower = {_key(level): [] for level in levels}
    upper = {_key(level): [] for level in levels}
    counts = []
    for index in range(len(edges) - 1):
        in_bin = residuals[bins == index]
        counts.append(int(len(in_bin)))
        for level in levels:
            low, high = _conformal_bounds(in_bin if len(in_bin) else residuals, level)
            lower[_key(level)].append(round(low, 3))
            upper[_key(level)].append(round(high, 3))
    return AgeCalibration(edges=edges, lower=lower, upper=upper, counts=counts)


def calibrate_variant(variant_dir: Path, data: str | Path, variant: str) -> AgeCalibration:
    """Fit and save ``calibration.json`` for a variant's shipped age model on its val split."""
    from data_prep import load_split
    from model.config import CALIBRATION_FILE
    from model.networks import load_for_inference, predict_outputs

    val = load_split(data, variant, "val")
    known = val.ages >= 0
    model = load_for_inference(variant_dir, "age")
    predicted = predict_outputs(model, val.images[known])
    calibration = fit_calibration(predicted, val.ages[known])
    calibration.save(Path(variant_dir) / CALIBRATION_FILE)
    for level in LEVELS:
        print(
            f"val coverage at {level:.0%}: "
            f"{calibration.coverage(predicted, val.ages[known], level):.3f}"
        )
    return calibration


def main(argv: list[str] | None = None) -> int:
    from model.config import WEIGHTS_DIR

    parser = argparse.ArgumentParser(prog="python -m model.calibration", description=__doc__)
    parser.add_argument("--variant", choices=("full", "cropped"), required=True)
    parser.add_argument("--data", required=True, help="prepared data folder")
    parser.add_argument("--weights", default=str(WEIGHTS_DIR), help="weights folder")
    args = parser.parse_args(argv)
    calibrate_variant(Path(args.weights) / args.variant, args.data, args.variant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
