"""The shown age and its honest margins, both fitted on the validation split.

A network trained by mean squared error answers the mean age of faces that look alike, so its
answers crowd towards the middle: children come out older and the old younger, the more so the
less sure it is (regression to the mean). The shown age maps the network's answer onto the
labels' distribution: the network's q-quantile on the validation split becomes the labels'
q-quantile (quantile mapping, linear between every 2% of the distribution), which undoes that
crowding. On the validation split it makes the children's ages about a year truer at a cost of
0.07-0.14 years of overall mean absolute error (docs/training_history.md).

Residuals (true - shown age) on the validation split are grouped into bins of shown age,
because a child's age is predicted far more precisely than a 60-year-old's. In each bin
the interval for level 1-a spans the conformal a/2 and 1-a/2 quantiles of the signed
residuals, so it may be lopsided (the model tends to under-estimate the old and over-estimate
the young), and covers at least 1-a of the true ages in each bin on exchangeable data.

A small face gives the model less to see: its input is enlarged from a few pixels of the photo.
On test faces shown at 14 of 64 pixels across, the cropped model's 80% margins held only 66%
of the true ages (children's 57%), the full-image model's 47%. So the margins are also fitted on
the validation faces shrunk to a few sides (`SMALL_SIDES`) and enlarged again; a face whose
model input spans fewer of the photo's pixels than the input has gets the margins of the largest
of those sides not above its own (the smallest side's below them).

``python -m model.calibration --variant cropped --data DIR`` recalibrates a shipped age model.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

LEVELS = (0.8, 0.9)
MIN_PER_BIN = 150
MAX_BINS = 10
MAX_KNOTS = 51
MIN_PER_KNOT = 50
SMALL_SIDES = (14, 20, 28, 40)
"""Sides in pixels at which the margins of small faces are fitted."""


@dataclass
class AgeCalibration:
    """The map from the network's answer to the shown age, and per-bin residual quantiles of
    the shown age. ``network_quantiles``/``label_quantiles``: the map's knots (years), the
    network's answers and the labels at the same quantiles (none: the answer is shown as it
    is); ``edges``: bin boundaries on the shown age, ``lower``/``upper``: for each level (as
    "0.8", "0.9") the offset to add to the shown age in each bin; ``counts``: validation
    residuals per bin. ``sides``, ``side_lower``, ``side_upper``: the same offsets fitted on
    faces shown at each of `SMALL_SIDES` pixels, for faces whose input spans fewer of the
    photo's pixels than ``input_size`` (none: every face gets ``lower`` and ``upper``)."""

    edges: list[float]
    lower: dict[str, list[float]]
    upper: dict[str, list[float]]
    counts: list[int]
    network_quantiles: list[float] = field(default_factory=list)
    label_quantiles: list[float] = field(default_factory=list)
    input_size: int = 0
    sides: list[int] = field(default_factory=list)
    side_lower: list[dict[str, list[float]]] = field(default_factory=list)
    side_upper: list[dict[str, list[float]]] = field(default_factory=list)

    def age(self, network_answer) -> np.ndarray:
        """The shown age (years) for the age network's answers: linear between the knots,
        the end knots' ages beyond them."""
        network_answer = np.asarray(network_answer, dtype=np.float64)
        if not self.network_quantiles:
            return network_answer
        return np.interp(network_answer, self.network_quantiles, self.label_quantiles)

    def interval(self, predicted, level: float, spans=None) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) age bounds in years for each shown age, at `level` (0.8 or 0.9).
        `spans`: for each face, how many of the photo's pixels its model input spans across
        (`faces.align.input_span`; inf, or none given: as many as the input has)."""
        predicted = np.asarray(predicted, dtype=np.float64)
        key = _key(level)
        bins = _bin_index(self.edges, predicted)
        lower, upper = np.asarray(self.lower[key])[bins], np.asarray(self.upper[key])[bins]
        if spans is not None and self.sides:
            spans = np.broadcast_to(np.asarray(spans, np.float64), predicted.shape)
            table = np.clip(np.searchsorted(self.sides, spans, side="right") - 1, 0, None)
            small = spans < self.input_size
            lower = np.where(small, np.array([t[key] for t in self.side_lower])[table, bins], lower)
            upper = np.where(small, np.array([t[key] for t in self.side_upper])[table, bins], upper)
        return np.maximum(predicted + lower, 0.0), np.maximum(predicted + upper, 0.0)

    def coverage(self, predicted, true, level: float) -> float:
        """Share of true ages inside the intervals of the shown ages `predicted`."""
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


def _spread_within_year(ages: np.ndarray) -> np.ndarray:
    """Whole-year labels spread evenly over the year around them, sorted: the n faces labelled
    a become a - 0.5 + (k + 0.5) / n for k < n. Their mean stays a, and the labels' quantiles
    rise steadily instead of in steps of a year (a map to steps would show one age for a
    whole range of answers)."""
    ordered = np.sort(np.asarray(ages, np.float64))
    _, first, counts = np.unique(ordered, return_index=True, return_counts=True)
    rank = np.arange(len(ordered)) - np.repeat(first, counts)
    return ordered - 0.5 + (rank + 0.5) / np.repeat(counts, counts)


def fit_age_map(network_answers: np.ndarray, true: np.ndarray) -> tuple[list[float], list[float]]:
    """The knots of the quantile map from the network's answers to the true ages: at most
    `MAX_KNOTS` evenly spaced quantiles, at least `MIN_PER_KNOT` answers per knot, none (no
    map) for fewer than two knots' worth. Answers that tie (a ReLU's zeros) become one knot at
    the mean of their labels' quantiles."""
    n_knots = min(MAX_KNOTS, len(network_answers) // MIN_PER_KNOT)
    if n_knots < 2:
        return [], []
    quantiles = np.linspace(0.0, 1.0, n_knots)
    answers = np.round(np.quantile(np.asarray(network_answers, np.float64), quantiles), 4)
    labels = np.quantile(_spread_within_year(true), quantiles)
    knots, tie = np.unique(answers, return_inverse=True)
    ages = np.bincount(tie, weights=labels) / np.bincount(tie)
    return knots.tolist(), np.round(ages, 4).tolist()


def fit_calibration(
    network_answers: np.ndarray,
    true: np.ndarray,
    levels=LEVELS,
    min_per_bin: int = MIN_PER_BIN,
    max_bins: int = MAX_BINS,
    small_answers: dict[int, np.ndarray] | None = None,
    input_size: int = 0,
) -> AgeCalibration:
    """Calibrate on the age network's validation answers (years): the quantile map to the
    shown age, then the margins of the shown age. Bins are quantiles of the shown age with at
    least `min_per_bin` residuals each (one bin if there are too few). `small_answers`: the
    network's answers for the same faces shown at each of a few sides (pixels) smaller than
    `input_size`, which get margins of their own in the same bins."""
    knots = fit_age_map(network_answers, true)
    shown = AgeCalibration([], {}, {}, [], *knots)
    predicted = shown.age(network_answers)
    n_bins = max(1, min(max_bins, len(predicted) // min_per_bin))
    inner = np.unique(np.quantile(predicted, np.linspace(0, 1, n_bins + 1)[1:-1]))
    edges = [0.0, *inner.tolist(), 1000.0]
    lower, upper, counts = _margins(edges, predicted, true, levels)
    small = {side: _margins(edges, shown.age(answers), true, levels)[:2]
             for side, answers in sorted((small_answers or {}).items())}  # fmt: skip
    return AgeCalibration(
        edges,
        lower,
        upper,
        counts,
        *knots,
        input_size=input_size if small else 0,
        sides=list(small),
        side_lower=[margins[0] for margins in small.values()],
        side_upper=[margins[1] for margins in small.values()],
    )


def _margins(edges: list[float], predicted: np.ndarray, true: np.ndarray, levels) -> tuple:
    """(lower, upper, counts) of `AgeCalibration` for shown ages `predicted` in `edges`' bins."""
    residuals = np.asarray(true, dtype=np.float64) - predicted
    bins = _bin_index(edges, predicted)
    lower = {_key(level): [] for level in levels}
    upper = {_key(level): [] for level in levels}
    counts = []
    for index in range(len(edges) - 1):
        in_bin = residuals[bins == index]
        counts.append(int(len(in_bin)))
        for level in levels:
            low, high = _conformal_bounds(in_bin if len(in_bin) else residuals, level)
            lower[_key(level)].append(round(min(low, 0.0), 3))  # the interval holds the age
            upper[_key(level)].append(round(max(high, 0.0), 3))
    return lower, upper, counts


def calibrate_variant(variant_dir: Path, data: str | Path, variant: str) -> AgeCalibration:
    """Fit and save ``calibration.json`` for a variant's shipped age model on its val split."""
    from data_prep import load_split
    from faces.images import seen_at
    from model.config import CALIBRATION_FILE
    from model.networks import load_for_inference, predict_outputs

    val = load_split(data, variant, "val")
    known = val.ages >= 0
    model = load_for_inference(variant_dir, "age")
    faces = val.images[known]
    answers = predict_outputs(model, faces)
    small = {side: predict_outputs(model, seen_at(faces, side)) for side in SMALL_SIDES}
    calibration = fit_calibration(answers, val.ages[known], small_answers=small,
                                  input_size=faces.shape[1])  # fmt: skip
    calibration.save(Path(variant_dir) / CALIBRATION_FILE)
    shown = calibration.age(answers)
    for level in LEVELS:
        print(
            f"val coverage at {level:.0%}: "
            f"{calibration.coverage(shown, val.ages[known], level):.3f}"
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
