"""Read what `prepare` wrote: the manifest and the per-split, per-variant uint8 arrays.

Layout of a prepared folder::

    manifest.csv            one row per kept image: labels, split, chip size, face box
    report.json             counts, problems, distributions, timings
    detections.json         cached face boxes and landmarks (re-preparing skips detection)
    chip_template.json      where faces sit in a chip, measured on the training split
                            (`faces.align`): every image is aligned to it
    full/{split}.npy        uint8 (N, size, size, 3), rows in manifest order
    cropped/{split}.npy
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

VARIANTS = ("full", "cropped")
MANIFEST = "manifest.csv"
REPORT = "report.json"


@dataclass
class SplitData:
    """One split of one variant. ``images``: uint8 (N, S, S, 3); labels int (N,), -1 = unknown."""

    images: np.ndarray
    ages: np.ndarray
    genders: np.ndarray
    races: np.ndarray
    files: list[str]

    def __len__(self) -> int:
        return len(self.files)


def array_path(data_dir: str | Path, variant: str, split: str) -> Path:
    return Path(data_dir) / variant / f"{split}.npy"


def read_manifest(data_dir: str | Path) -> pd.DataFrame:
    """The manifest of a prepared folder, rows ordered by split then file name."""
    path = Path(data_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: run `python -m data_prep prepare --source ... --out {data_dir}`"
        )
    return pd.read_csv(path, dtype={"file": str, "split": str})


def load_split(data_dir: str | Path, variant: str, split: str, mmap: bool = False) -> SplitData:
    """Images and labels of `split` ('train', 'val', 'test') for `variant` ('full', 'cropped')."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    rows = read_manifest(data_dir)
    rows = rows[rows["split"] == split]
    images = np.load(array_path(data_dir, variant, split), mmap_mode="r" if mmap else None)
    if len(images) != len(rows):
        raise ValueError(
            f"{array_path(data_dir, variant, split)} has {len(images)} images but the manifest "
            f"lists {len(rows)} for {split!r}: prepare the folder again"
        )
    return SplitData(
        images=images,
        ages=rows["age"].to_numpy(dtype=np.int32),
        genders=rows["gender"].to_numpy(dtype=np.int32),
        races=rows["race"].to_numpy(dtype=np.int32),
        files=rows["file"].tolist(),
    )
