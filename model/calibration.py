"""The age model's calibration on the validation split: a median correction of the estimate,
then honest margins, split-conformal intervals conditioned on the estimated age.

The network is trained with MSE (and rare ages weigh more), so for faces that look alike it
estimates something like their mean age, while the absolute error is smallest at their
median; the two differ where the ages are spread lopsidedly. In each bin of network output
the correction adds the median residual (true - output), interpolated linearly between the
bins' middles, so that it stays smooth (a test checks that the shipped corrections keep the
order of the estimates).

Residuals (true - estimated age) of the corrected estimate are then grouped into bins of the
estimated age, because a child's age is estimated far more precisely than a 60-year-old's.
In each bin the interval for level 1-a spans the conformal a/2 and 1-a/2 quantiles of the
signed residuals, so it may be lopsided, and covers at least 1-a of the true ages in each bin
on exchangeable data.

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
    """The correction, then per-bin residual quantiles of the corrected estimate.
    ``middles``/``offsets``: the median network output of each bin and the median residual
    there (years); ``edges``: bin boundaries on the estimated age (years); ``lower``/``upper``:
    for each level (as "0.8", "0.9") the offset to add to the estimate in each bin;
    ``counts``: validation residuals per bin."""

    middles: list[float]
    offsets: list[float]
    edges: list[float]
    lower: dict[str, list[float]]
    upper: dict[str, list[float]]
    counts: list[int]

    def estimate(self, output) -> np.ndarray:
        """The estimated age (years, >= 0) for each output of the age network (years)."""
        return _corrected(np.asarray(output, dtype=np.float64), self.middles, self.offsets)

    def interval(self, predicted, level: float) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) age bounds in years for each estimated age, at `level` (0.8 or 0.9)."""
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


def _corrected(output: np.ndarray, middles: list[float], offsets: list[float]) -> np.ndarray:
    return np.maximum(output + np.interp(output, middles, offsets), 0.0)


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


def _quantile_edges(predicted: np.ndarray, min_per_bin: int, max_bins: int) -> list[float]:
    """Bin boundaries at quantiles of `predicted`, at least `min_per_bin` values a bin (one
    bin if there are too few)."""
    n_bins = max(1, min(max_bins, len(predicted) // min_per_bin))
    inner = np.unique(np.quantile(predicted, np.linspace(0, 1, n_bins + 1)[1:-1]))
    return [0.0, *inner.tolist(), 1000.0]


def fit_calibration(
    output: np.ndarray,
    true: np.ndarray,
    levels=LEVELS,
    min_per_bin: int = MIN_PER_BIN,
    max_bins: int = MAX_BINS,
) -> AgeCalibration:
    """Calibrate on the age network's validation outputs and true ages (years): first the
    median correction, then the intervals around the corrected estimate, each on bins at
    quantiles of what it is applied to."""
    output = np.asarray(output, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    output_bins = _bin_index(_quantile_edges(output, min_per_bin, max_bins), output)
    in_bins = [output_bins == index for index in np.unique(output_bins)]
    middles = [round(float(np.median(output[b])), 3) for b in in_bins]
    offsets = [round(float(np.median(true[b] - output[b])), 3) for b in in_bins]
    predicted = _corrected(output, middles, offsets)
    residuals = true - predicted
    edges = _quantile_edges(predicted, min_per_bin, max_bins)
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
    return AgeCalibration(middles, offsets, edges, lower, upper, counts)


def calibrate_variant(variant_dir: Path, data: str | Path, variant: str) -> AgeCalibration:
    """Fit and save ``calibration.json`` for a variant's shipped age model on its val split."""
    from data_prep import load_split
    from model.config import CALIBRATION_FILE
    from model.networks import load_for_inference, predict_outputs

    val = load_split(data, variant, "val")
    known = val.ages >= 0
    model = load_for_inference(variant_dir, "age")
    output = predict_outputs(model, val.images[known])
    calibration = fit_calibration(output, val.ages[known])
    calibration.save(Path(variant_dir) / CALIBRATION_FILE)
    predicted = calibration.estimate(output)
    print(
        f"val age MAE: {np.abs(output - val.ages[known]).mean():.3f} from the network, "
        f"{np.abs(predicted - val.ages[known]).mean():.3f} after the median correction"
    )
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
