"""Feed prepared uint8 arrays to Keras: no decoding per epoch, augmentation on the fly."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from model.augment import face_augmenter


def make_dataset(
    images: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    training: bool,
    augment: bool,
    seed: int = 0,
) -> tf.data.Dataset:
    """Batches of (float32 pixels (B, S, S, 3) in [0, 255], float32 targets (B,)).

    Training data is reshuffled every epoch and, if `augment`, randomly transformed.
    """
    dataset = tf.data.Dataset.from_tensor_slices((images, targets.astype(np.float32)))
    if training:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(
        lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE
    )
    if training and augment:
        augmenter = face_augmenter(seed)
        dataset = dataset.map(
            lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.prefetch(tf.data.AUTOTUNE)
