from dataclasses import replace

import keras
import numpy as np
import pytest
import tensorflow as tf

from model.augment import PhotoDamage, photo_damage
from model.data import make_dataset
from model.tasks import TASKS

NONE = PhotoDamage().scaled(0)


def colour_faces(n: int = 64, size: int = 32, seed: int = 0) -> np.ndarray:
    """Float (n, size, size, 3) in [0, 255]: smooth, strongly coloured gradients."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    base = ramp[None, :, None, None] * ramp[None, None, :, None]
    colours = rng.uniform(0, 255, (n, 1, 1, 3)).astype(np.float32)
    return np.clip(colours * (0.4 + 0.6 * base), 0, 255)


def damaged(images: np.ndarray, damage: PhotoDamage, seed=(1, 2)) -> np.ndarray:
    return photo_damage(tf.constant(images), tf.constant(seed, tf.int32), damage).numpy()


def is_grey(images: np.ndarray) -> np.ndarray:
    return np.ptp(images, axis=-1).max(axis=(1, 2)) < 1.0


def test_no_damage_leaves_the_faces_alone():
    faces = colour_faces()
    np.testing.assert_allclose(damaged(faces, NONE), faces, atol=1e-3)


def test_damage_is_repeatable_per_seed_and_stays_in_the_pixel_range():
    faces = colour_faces()
    first, again = damaged(faces, PhotoDamage()), damaged(faces, PhotoDamage())
    other = damaged(faces, PhotoDamage(), seed=(3, 4))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert first.shape == faces.shape
    assert first.min() >= 0 and first.max() <= 255


def test_the_grey_share_turns_that_share_of_faces_grey():
    faces = colour_faces(n=400)
    assert not is_grey(faces).any()
    share = is_grey(damaged(faces, only(grey=0.25))).mean()
    assert 0.17 < share < 0.33, share
    assert is_grey(damaged(faces, only(grey=0.25).scaled(0.2))).mean() < 0.1


def only(**shares: float) -> PhotoDamage:
    """No damage except the given shares."""
    return replace(NONE, **shares)


def test_each_kind_of_damage_does_what_it_says():
    faces = colour_faces(n=16)
    grey = damaged(faces, only(grey=1.0))
    assert is_grey(grey).all()
    faded = damaged(faces, only(faded=1.0))
    assert np.ptp(faded, axis=-1).mean() < np.ptp(faces, axis=-1).mean() * 0.85
    assert not is_grey(faded).any()

    low_resolution = damaged(faces, only(low_resolution=1.0))
    edges = np.abs(np.diff(faces, axis=1)).max()
    assert np.abs(np.diff(low_resolution, axis=1)).max() <= edges + 1
    noisy = damaged(faces, only(noise=1.0))
    assert 0.5 < np.abs(noisy - faces).mean() < 15

    cut = damaged(faces, only(cutout=1.0))
    changed = np.abs(cut - faces).max(axis=-1) > 1e-3
    assert np.all(np.isclose(cut[changed], 127.5))
    fraction = changed.mean(axis=(1, 2))
    assert (fraction > 0).mean() > 0.9 and fraction.max() < 0.35**2 + 0.05

    jpeg = damaged(faces, only(jpeg=1.0))
    assert 0 < np.abs(jpeg - faces).mean() < 10


def test_age_weights_lift_rare_age_bands():
    ages = np.array([3.0] * 10 + [30.0] * 90)
    age = TASKS["age"]
    assert age.sample_weights(ages, 0.0) is None
    half = age.sample_weights(ages, 0.5)
    assert half.mean() == pytest.approx(1.0)
    assert half[0] == pytest.approx(3 * half[-1])
    equal = age.sample_weights(ages, 1.0)
    assert equal[:10].sum() == pytest.approx(equal[10:].sum())
    assert TASKS["gender"].sample_weights(np.ones(10), 0.5) is None


def test_relative_age_weights_make_a_childs_error_count_more():
    ages = np.array([5.0] * 10 + [30.0] * 90)
    age = TASKS["age"]
    relative = age.sample_weights(ages, 0.0, relative_to_age=10.0)
    assert relative.mean() == pytest.approx(1.0)
    assert relative[0] == pytest.approx((40 / 15) ** 2 * relative[-1])
    both = age.sample_weights(ages, 0.5, relative_to_age=10.0)  # the band's factor: 3
    assert both[0] == pytest.approx(3 * (40 / 15) ** 2 * both[-1])
    assert TASKS["gender"].sample_weights(np.ones(10), 0.0, relative_to_age=10.0) is None


def test_training_batches_carry_weights_and_damage():
    faces = colour_faces(n=32).astype(np.uint8)
    ages = np.arange(32, dtype=np.float32)
    weights = TASKS["age"].sample_weights(ages, 0.5)
    clean = make_dataset(faces, ages, 32, True, False, sample_weights=weights)
    x, y, w = next(iter(clean))
    assert x.shape == (32, 32, 32, 3) and w.shape == (32,)
    order = np.argsort(y.numpy())
    np.testing.assert_allclose(w.numpy()[order], weights, rtol=1e-6)
    damaged_batches = make_dataset(faces, ages, 32, True, False, damage=only(grey=1.0))
    x, _ = next(iter(damaged_batches))
    assert is_grey(x.numpy()).all()


def test_aged_prints_turn_their_share_of_faces_into_faded_prints():
    faces = colour_faces(n=200)
    aged = damaged(faces, only(aged_print=0.3))
    np.testing.assert_array_equal(aged, damaged(faces, only(aged_print=0.3)))
    assert aged.min() >= 0 and aged.max() <= 255
    changed = np.abs(aged - faces).max(axis=(1, 2, 3)) > 1
    assert 0.2 < changed.mean() < 0.4, changed.mean()
    np.testing.assert_allclose(aged[~changed], faces[~changed], atol=1e-3)
    contrast = faces[changed].std(axis=(1, 2, 3))
    assert np.median(aged[changed].std(axis=(1, 2, 3)) / contrast) < 0.9


def test_a_damaged_face_learns_the_teachers_answer_and_a_clean_one_its_label():
    inputs = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    teacher = keras.Model(inputs, keras.layers.Dense(1, bias_initializer="ones")(pooled))
    teacher.layers[-1].set_weights([np.zeros((3, 1)), np.array([42.0])])
    faces = colour_faces(n=64).astype(np.uint8)
    ages = np.arange(64, dtype=np.float32)
    batches = make_dataset(
        faces, ages, 64, True, False, damage=only(grey=0.5), damaged_teacher=teacher
    )
    x, y = next(iter(batches))
    grey = is_grey(x.numpy())
    assert 0.3 < grey.mean() < 0.7
    np.testing.assert_array_equal(y.numpy()[grey], 42.0)
    assert set(y.numpy()[~grey]) <= set(ages) and len(set(y.numpy()[~grey])) == (~grey).sum()
