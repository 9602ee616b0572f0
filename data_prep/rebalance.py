"""The design's rebalancing: drop the oldest ages, downsample toddlers (over-represented)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def rebalance(
    records: pd.DataFrame, max_age: int, toddler_max_age: int, toddler_keep: float, seed: int
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Remove ages above `max_age`; keep a random `toddler_keep` share of ages 0..toddler_max_age.

    records: one row per image with at least ``file`` and ``age``. The toddler sample is
    drawn with `seed` from the rows sorted by file name, so it does not depend on input order.
    Returns the kept rows (sorted by file) and the counts before and after each rule.
    """
    records = records.sort_values("file", ignore_index=True)
    young_enough = records[records["age"] <= max_age]
    is_toddler = young_enough["age"] <= toddler_max_age
    toddlers = young_enough[is_toddler]
    n_keep = round(len(toddlers) * toddler_keep)
    rng = np.random.default_rng(seed)
    kept_toddlers = toddlers.iloc[np.sort(rng.choice(len(toddlers), n_keep, replace=False))]
    kept = pd.concat([young_enough[~is_toddler], kept_toddlers]).sort_values(
        "file", ignore_index=True
    )
    counts = {
        "before": len(records),
        "removed_over_max_age": len(records) - len(young_enough),
        "after_max_age": len(young_enough),
        "toddlers_before": len(toddlers),
        "toddlers_after": n_keep,
        "after": len(kept),
    }
    return kept, counts
