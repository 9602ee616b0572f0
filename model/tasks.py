"""The two prediction tasks, each a separate CNN: age (regression) and gender (binary).

Each `Task` says what its network outputs, how it is trained and which labels it learns from;
everything else (backbone, training loop, evaluation plumbing) is shared.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from data_prep import SplitData


@dataclass(frozen=True)
class Task:
    name: str
    activation: str
    loss: str
    monitor: str
    """Validation metric that picks the best epoch (lower is better)."""

    def metrics(self) -> list:
        raise NotImplementedError

    def loss_function(self, label_smoothing: float = 0.0) -> str | keras.losses.Loss:
        """The training loss; only gender accepts `label_smoothing` (share of the target
        moved towards the other class)."""
        if label_smoothing:
            raise ValueError(f"{self.name} has no label smoothing")
        return self.loss

    def labels(self, data: SplitData) -> tuple[np.ndarray, np.ndarray]:
        """(targets float32 (N,), mask bool (N,)) of the rows this task can learn from."""
        raise NotImplementedError

    def output_bias(self, targets: np.ndarray) -> float:
        """Initial bias of the output unit, so training starts at the label mean."""
        raise NotImplementedError

    def sample_weights(
        self, targets: np.ndarray, balance: float, relative_to_age: float = 0.0
    ) -> np.ndarray | None:
        """Weight of each training row in the loss (mean 1), or None for equal weights."""
        return None


class AgeTask(Task):
    """Age in years: one ReLU unit, mean squared error, mean absolute error reported."""

    def metrics(self) -> list:
        return [keras.metrics.MeanAbsoluteError(name="mae")]

    def labels(self, data: SplitData) -> tuple[np.ndarray, np.ndarray]:
        return data.ages.astype(np.float32), data.ages >= 0

    def output_bias(self, targets: np.ndarray) -> float:
        return float(np.mean(targets))

    def sample_weights(
        self, targets: np.ndarray, balance: float, relative_to_age: float = 0.0
    ) -> np.ndarray | None:
        """Rows of rare ages weigh more: a row's weight is the count of its 5-year age band
        to the power -`balance` (0: equal weights, 1: every band weighs the same in all).
        With `relative_to_age` (years, 0: off) it is also multiplied by (age +
        `relative_to_age`) ** -2: the squared error then counts relative to the age, and a
        year wrong for a child weighs as much as several for an adult (10: a 5-year-old's
        error counts 7 times a 30-year-old's). The loss stays the mean squared error; only
        its average over rows changes."""
        if balance == 0 and relative_to_age == 0:
            return None
        bands = (targets // AGE_BAND_YEARS).astype(int)
        weights = np.bincount(bands)[bands].astype(np.float64) ** -balance
        if relative_to_age:
            weights *= (np.asarray(targets, np.float64) + relative_to_age) ** -2.0
        return weights / weights.mean()


class GenderTask(Task):
    """Probability of 'female' (label 1): one sigmoid unit, binary cross-entropy."""

    def metrics(self) -> list:
        return [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]

    def loss_function(self, label_smoothing: float = 0.0) -> str | keras.losses.Loss:
        if not label_smoothing:
            return self.loss
        return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)

    def labels(self, data: SplitData) -> tuple[np.ndarray, np.ndarray]:
        return data.genders.astype(np.float32), data.genders >= 0

    def output_bias(self, targets: np.ndarray) -> float:
        share = float(np.clip(np.mean(targets), 1e-3, 1 - 1e-3))
        return float(np.log(share / (1 - share)))


AGE_BAND_YEARS = 5

TASKS: dict[str, Task] = {
    "age": AgeTask("age", activation="relu", loss="mean_squared_error", monitor="val_mae"),
    "gender": GenderTask(
        "gender", activation="sigmoid", loss="binary_crossentropy", monitor="val_loss"
    ),
}
