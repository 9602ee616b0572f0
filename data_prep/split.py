"""Deterministic train/val/test split, stratified by age bucket and gender."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")
AGE_BUCKET_EDGES = (0, 10, 20, 30, 40, 50, 60, 70, 81)
"""Bucket i holds ages in [edge_i, edge_i+1); the last bucket, 70-80, includes 80."""
AGE_BUCKET_LABELS = ("0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-80", "80+")


def age_bucket(ages: np.ndarray | pd.Series | int) -> np.ndarray:
    """Index into `AGE_BUCKET_LABELS` for each age in years (ages above 80 go to '80+')."""
    return np.digitize(np.asarray(ages), AGE_BUCKET_EDGES[1:], right=False)


def _order_key(file: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{file}".encode()).hexdigest()


def assign_splits(
    records: pd.DataFrame, fractions: tuple[float, float, float], seed: int
) -> pd.Series:
    """Split name ('train', 'val' or 'test') for each row of `records` (columns file, age, gender).

    Within each (age bucket, gender) stratum the rows are ordered by a seeded hash of the file
    name and cut at the cumulative fractions, so the result depends only on the set of files
    and the seed, never on their order, and every stratum is split in the same proportions.
    """
    if not np.isclose(sum(fractions), 1.0) or min(fractions) < 0:
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    cuts = np.cumsum(fractions)[:2]
    splits = pd.Series("", index=records.index, dtype=object)
    strata = records.groupby([age_bucket(records["age"]), records["gender"].to_numpy()])
    for _, stratum in strata:
        ordered = stratum.index[np.argsort([_order_key(f, seed) for f in stratum["file"]])]
        bounds = np.rint(cuts * len(ordered)).astype(int)
        for name, part in zip(SPLITS, np.split(ordered, bounds), strict=True):
            splits[part] = name
    return splits
