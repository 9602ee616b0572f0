"""UTKFace in, a rebalanced, split, cached data set out.

Public API: `prepare` writes a prepared folder; `load_split` and `read_manifest` read it back.
Decoding, detection and alignment come from `faces`, which inference shares, so that a photo is
decoded and cropped exactly as the training images were.
"""

import faces  # noqa: F401  (sets TensorFlow's environment before TensorFlow is imported)
from data_prep.config import PrepareConfig
from data_prep.dataset import VARIANTS, SplitData, load_split, read_manifest
from data_prep.prepare import prepare

__all__ = [
    "VARIANTS",
    "PrepareConfig",
    "SplitData",
    "load_split",
    "prepare",
    "read_manifest",
]
