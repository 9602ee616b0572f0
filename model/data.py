"""Feed prepared uint8 arrays to Keras: no decoding per epoch, augmentation on the fly."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from model.augment import PhotoDamage, face_augmenter, photo_damage


def make_dataset(
    images: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    training: bool,
    augment: bool,
    seed: int = 0,
    damage: PhotoDamage | None = None,
    sample_weights: np.ndarray | None = None,
    damaged_teacher: keras.Model | None = None,
) -> tf.data.Dataset:
    """Batches of (float32 pixels (B, S, S, 3) in [0, 255], float32 targets (B,)), with float32
    weights (B,) as a third element when `sample_weights` are given.

    Training data is reshuffled every epoch; if `augment`, it is randomly transformed
    (`face_augmenter`), and if `damage` is given, randomly damaged as photos are (`photo_damage`).
    With a `damaged_teacher`, a face the damage changed gets the teacher's answer for it as its
    target instead of its label.
    """
    columns = (images, targets.astype(np.float32))
    if sample_weights is not None:
        columns += (sample_weights.astype(np.float32),)
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    if training:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(
        lambda x, *rest: (tf.cast(x, tf.float32), *rest), num_parallel_calls=tf.data.AUTOTUNE
    )
    if training and augment:
        augmenter = face_augmenter(seed)
        dataset = dataset.map(
            lambda x, *rest: (augmenter(x, training=True), *rest),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if training and damage is not None:
        seeds = tf.data.Dataset.random(seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds).map(
            lambda batch, pair: _damaged(
                batch, tf.cast(pair % (2**31 - 1), tf.int32), damage, damaged_teacher
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _damaged(batch: tuple, seed: tf.Tensor, damage: PhotoDamage, teacher: keras.Model | None):
    faces, targets, *rest = batch
    damaged = photo_damage(faces, seed, damage)
    if teacher is not None:
        changed = tf.reduce_max(tf.abs(damaged - faces), axis=(1, 2, 3)) > 0.5
        targets = tf.where(changed, teacher(damaged, training=False)[:, 0], targets)
    return (damaged, targets, *rest)
