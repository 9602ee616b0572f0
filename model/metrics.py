"""Evaluation figures from predictions: age errors, gender classification, per group, coverage.

Plain numpy on arrays of predictions, so they are easy to check by hand; gender 1 (female)
is the positive class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_prep.names import GENDERS, RACES
from data_prep.split import AGE_BUCKET_LABELS, age_bucket
from model.calibration import LEVELS, AgeCalibration

YOUNG_AGE_BANDS = {"0-2": (0, 2), "3-5": (3, 5), "6-9": (6, 9), "10-12": (10, 12),
                   "13-19": (13, 19)}  # fmt: skip
"""The children's view: narrower bands where age estimators go most wrong (inclusive)."""


def age_metrics(true: np.ndarray, predicted: np.ndarray) -> dict:
    """n, mae, mse, rmse (years) and cs5 (share of predictions within 5 years)."""
    errors = np.asarray(predicted, np.float64) - np.asarray(true, np.float64)
    if errors.size == 0:
        return {"n": 0}
    mse = float(np.mean(errors**2))
    return {
        "n": int(errors.size),
        "mae": float(np.mean(np.abs(errors))),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "cs5": float(np.mean(np.abs(errors) <= 5)),
        "mean_error": float(np.mean(errors)),
    }


def roc_auc(true: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties counted half); None with one class only."""
    true = np.asarray(true).astype(bool)
    positives, negatives = int(true.sum()), int((~true).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = pd.Series(np.asarray(score, np.float64)).rank(method="average").to_numpy()
    return float((ranks[true].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def gender_metrics(true: np.ndarray, probability: np.ndarray, threshold: float = 0.5) -> dict:
    """n, accuracy, auc, precision, recall, f1 (female positive) and the confusion matrix
    as rows = true [male, female], columns = predicted [male, female]."""
    true = np.asarray(true).astype(int)
    if true.size == 0:
        return {"n": 0}
    predicted = (np.asarray(probability) >= threshold).astype(int)
    tp = int(np.sum((predicted == 1) & (true == 1)))
    fp = int(np.sum((predicted == 1) & (true == 0)))
    fn = int(np.sum((predicted == 0) & (true == 1)))
    tn = int(np.sum((predicted == 0) & (true == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": int(true.size),
        "accuracy": (tp + tn) / true.size,
        "auc": roc_auc(true, probability),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "confusion_matrix": {"labels": ["male", "female"], "matrix": [[tn, fp], [fn, tp]]},
    }


def coverage(
    calibration: AgeCalibration, true: np.ndarray, predicted: np.ndarray, spans=None
) -> dict:
    """Share of true ages inside the calibrated interval, and its mean width, per level;
    `spans` as `AgeCalibration.interval` takes them."""
    result = {}
    for level in LEVELS:
        low, high = calibration.interval(predicted, level, spans)
        inside = (np.asarray(true) >= low) & (np.asarray(true) <= high)
        result[f"{level:g}"] = {
            "coverage": float(np.mean(inside)) if inside.size else None,
            "mean_width": float(np.mean(high - low)) if inside.size else None,
        }
    return result


def predicted_by_true_age(true: np.ndarray, predicted: np.ndarray) -> dict[str, dict]:
    """For each true age in years: count, median and 10th/90th percentiles of the predictions
    (what a predicted-against-true plot draws), keyed by the age as a string."""
    result = {}
    for age in np.unique(true):
        values = predicted[true == age]
        p10, median, p90 = np.percentile(values, [10, 50, 90])
        result[str(int(age))] = {
            "n": int(len(values)),
            "median": round(float(median), 2),
            "p10": round(float(p10), 2),
            "p90": round(float(p90), 2),
        }
    return result


def _summary(ages, genders, predicted_age, probability, calibration, spans) -> dict:
    known_gender = genders >= 0
    summary = {
        "n": int(len(ages)),
        "age": age_metrics(ages, predicted_age),
        "gender": gender_metrics(genders[known_gender], probability[known_gender]),
    }
    if calibration is not None:
        summary["age_interval_coverage"] = coverage(calibration, ages, predicted_age, spans)
    return summary


def evaluate_predictions(
    ages: np.ndarray,
    genders: np.ndarray,
    races: np.ndarray,
    predicted_age: np.ndarray,
    probability_female: np.ndarray,
    calibration: AgeCalibration | None = None,
    spans: np.ndarray | None = None,
) -> dict:
    """All figures overall and broken down by age bucket, gender and race.

    Labels are int arrays (N,) with -1 for unknown; predictions float arrays (N,); `spans`:
    how many photo pixels each face's model input spans (`AgeCalibration.interval`; none: as
    many as it has).
    """
    ages, genders, races = (np.asarray(a, dtype=int) for a in (ages, genders, races))
    predicted_age = np.asarray(predicted_age, np.float64)
    probability_female = np.asarray(probability_female, np.float64)
    spans = np.full(len(ages), np.inf) if spans is None else np.asarray(spans, np.float64)

    def breakdown(mask_by_label: dict[str, np.ndarray]) -> dict:
        return {
            label: _summary(
                ages[mask],
                genders[mask],
                predicted_age[mask],
                probability_female[mask],
                calibration,
                spans[mask],
            )
            for label, mask in mask_by_label.items()
            if mask.any()
        }

    buckets = age_bucket(ages)
    result = _summary(ages, genders, predicted_age, probability_female, calibration, spans)
    result["by_age_bucket"] = breakdown(
        {label: buckets == index for index, label in enumerate(AGE_BUCKET_LABELS)}
    )
    result["by_young_age"] = breakdown(
        {label: (ages >= low) & (ages <= high) for label, (low, high) in YOUNG_AGE_BANDS.items()}
    )
    result["by_gender"] = breakdown({name: genders == code for code, name in GENDERS.items()})
    result["by_race"] = breakdown({name: races == code for code, name in RACES.items()})
    result["predicted_by_true_age"] = predicted_by_true_age(ages, predicted_age)
    return result
