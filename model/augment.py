"""Augmentation suited to faces: mirror, small shifts, rotations and zoom, light and contrast."""

from __future__ import annotations

import keras
from keras import layers


def face_augmenter(seed: int = 0) -> keras.Sequential:
    """Random transforms for float pixel batches in [0, 255], shape (B, H, W, 3)."""
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(0.06, 0.06, fill_mode="reflect", seed=seed + 1),
            layers.RandomRotation(0.03, fill_mode="reflect", seed=seed + 2),
            layers.RandomZoom((-0.1, 0.1), fill_mode="reflect", seed=seed + 3),
            layers.RandomBrightness(0.15, value_range=(0, 255), seed=seed + 4),
            layers.RandomContrast(0.2, value_range=(0, 255), seed=seed + 5),
        ],
        name="face_augmenter",
    )
