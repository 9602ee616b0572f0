"""Augmentation for training: what the camera and the aligner do to a face (`face_augmenter`),
then what old prints, scanners and phones do to a photo that chips rarely show
(`photo_damage`): grey and faded colour, casts and gamma, blur and low resolution, JPEG,
noise and grain, something in front of the face; and, for a share of the faces first, the
whole look of a scanned old print (`data_prep.wild.aged_print`: faded dyes, soft optics,
flash and shadow, paper or halftone).

Why: in UTKFace's training split 4% of the adults' chips are grey but 1% of the children's,
and the shipped age model added 3.7 years to children aged 5-12 when their validation chips
were turned grey. A model that never sees a grey child learns that grey means old.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from PIL import Image

from data_prep.wild import aged_print


def face_augmenter(seed: int = 0) -> keras.Sequential:
    """Mirror, the aligner's jitter (shift 6%, rotation up to 11 degrees, scale 10%), light and
    contrast, for float pixel batches in [0, 255], shape (B, H, W, 3)."""
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


@dataclass(frozen=True)
class PhotoDamage:
    """How often (per image) and how strongly each kind of damage is applied."""

    grey: float = 0.25
    """Share of images turned fully grey."""
    faded: float = 0.25
    """Share of the others whose colour is washed out (saturation 20-80%)."""
    cast: float = 0.3
    """Share given a colour cast (channel gains 1 +- 0.15, e.g. sepia) and a gamma in 0.67-1.5."""
    low_resolution: float = 0.3
    """Share shrunk to 35-85% of their size and enlarged again (blur, soft scans)."""
    jpeg: float = 0.3
    """Share re-encoded as JPEG at quality 15-75."""
    noise: float = 0.3
    """Share given sensor noise or film grain (standard deviation up to 12 grey levels)."""
    cutout: float = 0.15
    """Share with a grey rectangle (10-35% of the side) over a random part of the face."""
    aged_print: float = 0.0
    """Share made into a scanned old print before the damage above (`aged_prints`)."""

    def scaled(self, strength: float) -> PhotoDamage:
        """Every share multiplied by `strength` (capped at 1); 0 leaves photos undamaged."""
        return PhotoDamage(**{k: min(1.0, v * strength) for k, v in asdict(self).items()})


def _chosen(batch: int, share: float, seed: tf.Tensor) -> tf.Tensor:
    """(B, 1, 1, 1) float mask: 1 for a random `share` of the batch."""
    draw = tf.random.stateless_uniform([batch, 1, 1, 1], seed)
    return tf.cast(draw < share, tf.float32)


def _uniform(batch: int, low: float, high: float, seed: tf.Tensor) -> tf.Tensor:
    return tf.random.stateless_uniform([batch, 1, 1, 1], seed, low, high)


def photo_damage(images: tf.Tensor, seed: tf.Tensor, damage: PhotoDamage = PhotoDamage()):
    """Randomly damaged copies of float pixel batches in [0, 255], shape (B, S, S, 3).

    `seed` is a stateless seed, int32 (2,): the same seed gives the same damage.
    """
    if damage.aged_print:
        images = aged_prints(
            images, tf.random.experimental.stateless_fold_in(seed, 1), damage.aged_print
        )
    seeds = iter(tf.unstack(tf.random.experimental.stateless_split(seed, 20)))
    shape = tf.shape(images)
    batch, size = shape[0], shape[1]
    x = images / 255.0

    grey = tf.image.rgb_to_grayscale(x)
    fully_grey = _chosen(batch, damage.grey, next(seeds))
    faded = (1 - fully_grey) * _chosen(batch, damage.faded, next(seeds))
    saturation = 1 - fully_grey - faded * (1 - _uniform(batch, 0.2, 0.8, next(seeds)))
    x = grey + saturation * (x - grey)

    cast = _chosen(batch, damage.cast, next(seeds))
    gains = 1 + cast * tf.random.stateless_uniform([batch, 1, 1, 3], next(seeds), -0.15, 0.15)
    gamma = tf.exp(cast * _uniform(batch, -0.4, 0.4, next(seeds)))
    x = tf.clip_by_value(x * gains, 0.0, 1.0) ** gamma

    small = tf.cast(
        tf.cast(size, tf.float32) * tf.random.stateless_uniform([], next(seeds), 0.35, 0.85),
        tf.int32,
    )
    blurred = tf.image.resize(tf.image.resize(x, [small, small], antialias=True), [size, size])
    x += _chosen(batch, damage.low_resolution, next(seeds)) * (blurred - x)

    sigma = _uniform(batch, 2.0, 12.0, next(seeds)) / 255.0
    colour_noise = tf.random.stateless_normal(shape, next(seeds))
    film_grain = tf.random.stateless_normal([batch, size, size, 1], next(seeds))
    grain_share = _chosen(batch, 0.5, next(seeds))
    noise = grain_share * film_grain + (1 - grain_share) * colour_noise
    x += _chosen(batch, damage.noise, next(seeds)) * sigma * noise
    x = tf.clip_by_value(x, 0.0, 1.0)

    x += _chosen(batch, damage.cutout, next(seeds)) * (_cutout(x, next(seeds)) - x)

    qualities = tf.random.stateless_uniform([batch], next(seeds), 15, 76, dtype=tf.int32)
    jpeg = tf.map_fn(
        lambda pair: tf.image.adjust_jpeg_quality(pair[0], pair[1]),
        (x, qualities),
        fn_output_signature=tf.float32,
    )
    x += _chosen(batch, damage.jpeg, next(seeds)) * (tf.reshape(jpeg, shape) - x)
    return x * 255.0


def _cutout(x: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """`x` with one mid-grey rectangle per image, sides 10-35% of the image, anywhere on it."""
    shape = tf.shape(x)
    batch, size = shape[0], tf.cast(shape[1], tf.float32)
    draws = tf.random.stateless_uniform([batch, 4], seed)
    height, width = (0.1 + 0.25 * draws[:, 0]) * size, (0.1 + 0.25 * draws[:, 1]) * size
    top, left = draws[:, 2] * (size - height), draws[:, 3] * (size - width)
    rows = tf.range(size)[None, :, None]
    cols = tf.range(size)[None, None, :]
    inside = (
        (rows >= top[:, None, None])
        & (rows < (top + height)[:, None, None])
        & (cols >= left[:, None, None])
        & (cols < (left + width)[:, None, None])
    )
    return tf.where(inside[..., None], 0.5, x)


def aged_prints(images: tf.Tensor, seed: tf.Tensor, share: float) -> tf.Tensor:
    """A random `share` of a float pixel batch in [0, 255], (B, S, S, 3), made into scanned
    old prints as the scanned-print sets are (`data_prep.wild.aged_print`, with the face
    filling the picture); the rest unchanged. `seed`: int32 (2,), stateless."""

    def age(batch: np.ndarray, seed_values: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(seed_values.view(np.uint32))
        aged = batch.copy()
        for i in np.flatnonzero(rng.random(len(batch)) < share):
            face = Image.fromarray(np.clip(batch[i], 0, 255).round().astype(np.uint8))
            pixels, _ = aged_print(face, rng, face_side=face.width)
            aged[i] = np.clip(pixels, 0, 255)
        return aged

    aged = tf.numpy_function(age, [images, seed], tf.float32, stateful=False)
    aged.set_shape(images.shape)
    return aged
