import numpy as np
import pandas as pd
import pytest

from data_prep.rebalance import rebalance
from data_prep.split import AGE_BUCKET_LABELS, age_bucket, assign_splits


def _records(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "file": [f"{i:05d}.jpg" for i in range(n)],
            "age": rng.integers(0, 100, n),
            "gender": rng.integers(0, 2, n),
        }
    )


def test_rebalance_removes_old_and_keeps_a_third_of_toddlers():
    ages = [0] * 30 + [4] * 30 + [5] * 10 + [80] * 5 + [81] * 7 + [116] * 3
    records = pd.DataFrame({"file": [f"f{i}" for i in range(len(ages))], "age": ages})
    kept, counts = rebalance(records, max_age=80, toddler_max_age=4, toddler_keep=1 / 3, seed=1)
    assert counts == {
        "before": 85,
        "removed_over_max_age": 10,
        "after_max_age": 75,
        "toddlers_before": 60,
        "toddlers_after": 20,
        "after": 35,
    }
    assert len(kept) == 35
    assert kept["age"].max() == 80
    assert (kept["age"] <= 4).sum() == 20
    assert (kept["age"] == 5).sum() == 10


def test_rebalance_is_seeded_and_independent_of_row_order():
    records = pd.DataFrame({"file": [f"f{i:03d}" for i in range(90)], "age": [2] * 90})
    first, _ = rebalance(records, 80, 4, 1 / 3, seed=7)
    shuffled, _ = rebalance(records.sample(frac=1, random_state=3), 80, 4, 1 / 3, seed=7)
    other_seed, _ = rebalance(records, 80, 4, 1 / 3, seed=8)
    assert first["file"].tolist() == shuffled["file"].tolist()
    assert first["file"].tolist() != other_seed["file"].tolist()


def test_age_buckets_put_80_in_the_last_regular_bucket():
    labels = [AGE_BUCKET_LABELS[b] for b in age_bucket([0, 9, 10, 69, 70, 80, 81, 116])]
    assert labels == ["0-9", "0-9", "10-19", "60-69", "70-80", "70-80", "80+", "80+"]


def test_split_is_deterministic_and_order_independent():
    records = _records(2000)
    splits = assign_splits(records, (0.7, 0.15, 0.15), seed=42)
    shuffled = records.sample(frac=1, random_state=1)
    again = assign_splits(shuffled, (0.7, 0.15, 0.15), seed=42)
    assert splits.equals(again.sort_index())
    assert not splits.equals(assign_splits(records, (0.7, 0.15, 0.15), seed=43))


def test_split_is_stratified_by_age_bucket_and_gender():
    records = _records(4000)
    records["split"] = assign_splits(records, (0.7, 0.15, 0.15), seed=0)
    records["bucket"] = age_bucket(records["age"])
    assert set(records["split"]) == {"train", "val", "test"}
    for _, stratum in records.groupby(["bucket", "gender"]):
        shares = stratum["split"].value_counts() / len(stratum)
        tolerance = 1.5 / len(stratum)
        assert shares["train"] == pytest.approx(0.70, abs=tolerance)
        assert shares["val"] == pytest.approx(0.15, abs=tolerance)
        assert shares["test"] == pytest.approx(0.15, abs=tolerance)


def test_split_rejects_fractions_that_do_not_sum_to_one():
    with pytest.raises(ValueError, match="sum to 1"):
        assign_splits(_records(10), (0.7, 0.2, 0.2), seed=0)
