"""Faces of any photo are warped into the training chips' geometry: the chip template."""

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from faces import detect
from faces.align import ChipTemplate, align_face, chip_inputs, measure_template
from faces.detect import (
    GUESS_MIN_CONFIDENCE,
    RETRY_MIN_CONFIDENCE,
    RETRY_VIEWS,
    Face,
    FaceDetector,
    _mapped,
    _retry_view,
    face_crop,
    scaled_box,
)
from testkit.synthetic import draw_face, grainy_face_photo, noise_image

TEMPLATE = ChipTemplate(
    landmarks=((59.4, 57.3), (136.7, 57.4), (97.4, 103.4), (62.7, 137.1), (132.9, 137.2)),
    face_box=(14.1, -20.3, 164.1, 212.5),
    chips=2,
)


def _similarity(angle_degrees: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    angle = np.radians(angle_degrees)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.block([[rotation, np.array(shift)[:, None]], [np.zeros((1, 2)), np.ones((1, 1))]])


def _photo_of(chip: Image.Image, chip_to_photo: np.ndarray, size=(640, 480)) -> Image.Image:
    """`chip` drawn into a grey photo through the transform chip pixel -> photo pixel."""
    inverse = np.linalg.inv(chip_to_photo)
    warped = chip.transform(size, Image.Transform.AFFINE, tuple(inverse[:2].ravel()),
                            Image.Resampling.BILINEAR, fillcolor=(128, 128, 128))  # fmt: skip
    inside = Image.new("L", chip.size, 255).transform(
        size, Image.Transform.AFFINE, tuple(inverse[:2].ravel())
    )
    photo = Image.new("RGB", size, (128, 128, 128))
    photo.paste(warped, (0, 0), inside)
    return photo


def _landmarks_in_photo(chip_to_photo: np.ndarray) -> tuple[tuple[float, float], ...]:
    points = np.c_[TEMPLATE.points, np.ones(5)] @ chip_to_photo.T
    return tuple((float(x), float(y)) for x, y, _ in points)


@pytest.mark.parametrize(
    ("angle", "scale", "shift"),
    [(20, 1.0, (150, 60)), (-25, 0.6, (300, 200)), (10, 2.2, (80, -40))],
    ids=["tilted", "small", "large"],
)
def test_a_face_placed_by_a_similarity_is_warped_back_to_the_chip(angle, scale, shift):
    chip = draw_face(200, seed=2)
    chip_to_photo = _similarity(angle, scale, shift)
    photo = _photo_of(chip, chip_to_photo, size=(640, 560))
    face = Face(0, 0, 1, 1, 1.0, _landmarks_in_photo(chip_to_photo))
    aligned = align_face(photo, face, TEMPLATE)
    assert aligned.size == (200, 200)
    inner = (slice(10, 190), slice(10, 190))  # interpolation blurs the outermost pixels
    error = np.abs(np.asarray(aligned, int)[inner] - np.asarray(chip, int)[inner]).mean()
    assert error < 6


def test_where_the_chip_reaches_past_the_photo_it_is_black_as_in_utkface():
    chip = draw_face(200, seed=2)
    chip_to_photo = _similarity(0, 1.0, (-100, 0))  # the chip's left half is off the photo
    photo = _photo_of(chip, chip_to_photo, size=(300, 300))
    face = Face(0, 0, 1, 1, 1.0, _landmarks_in_photo(chip_to_photo))
    aligned = np.asarray(align_face(photo, face, TEMPLATE))
    assert aligned[:, :95].max() == 0
    assert aligned[:, 110:].mean() > 40


def test_a_face_without_landmarks_is_its_own_chip():
    image = draw_face(100, seed=1)
    chip = align_face(image, Face(0, 0, 100, 100, 0.0), TEMPLATE)
    expected = image.resize((200, 200), Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(np.asarray(chip), np.asarray(expected))


def test_the_template_is_the_mean_of_the_chips_landmarks_at_chip_size():
    first = Face(10, 0, 80, 100, 0.99, ((30, 30), (70, 30), (50, 50), (35, 70), (65, 70)))
    second = Face(20, 10, 60, 80, 0.98, ((32, 28), (68, 32), (50, 54), (37, 70), (63, 74)))
    template = measure_template([first, None, second], [100, 100, 100])
    assert template.chips == 2
    np.testing.assert_allclose(template.points[0], [62, 58])  # mean of (30, 30), (32, 28), x2
    np.testing.assert_allclose(template.face_box, [30, 10, 140, 180])


def test_the_template_survives_a_round_trip_to_disk(tmp_path):
    TEMPLATE.save(tmp_path / "template.json")
    assert ChipTemplate.load(tmp_path / "template.json") == TEMPLATE


def test_both_variants_are_cut_from_the_aligned_chip():
    chip = draw_face(200, seed=3)
    inputs = chip_inputs(chip, TEMPLATE, 64)
    np.testing.assert_array_equal(inputs["full"], np.asarray(chip.resize((64, 64), Image.BILINEAR)))
    expected = face_crop(chip, Face(*TEMPLATE.face_box, confidence=1.0), 64)
    np.testing.assert_array_equal(inputs["cropped"], expected)


def test_a_face_mtcnn_misses_upright_is_found_in_a_tilted_retry_view():
    detector = FaceDetector()  # photos are searched at up to 640 pixels, as in the demo
    scene = noise_image(200, seed=3).resize((640, 480))
    tilted = draw_face(240, seed=1).rotate(75, expand=True, fillcolor=(90, 90, 90))
    scene.paste(tilted, (150, 60))
    pixels = np.asarray(ImageEnhance.Contrast(scene).enhance(0.08))  # faint, as a faded print
    assert detector._detect_each([pixels]) == [[]]  # MTCNN alone gives up
    [face] = detector.detect([pixels])[0]
    assert face.confidence >= RETRY_MIN_CONFIDENCE
    centre = (150 + tilted.width / 2, 60 + tilted.height / 2)  # the face's middle in the scene
    assert face.x < centre[0] < face.x + face.width and face.y < centre[1] < face.y + face.height


def test_a_face_under_print_grain_is_found_in_the_half_size_retry_views(monkeypatch):
    detector = FaceDetector()
    grainy = np.asarray(grainy_face_photo(seed=0))
    full_size_views = tuple(view for view in RETRY_VIEWS if view[1] == 1.0)
    monkeypatch.setattr(detect, "RETRY_VIEWS", full_size_views)
    assert detector.detect([grainy]) == [[]]
    monkeypatch.setattr(detect, "RETRY_VIEWS", RETRY_VIEWS)
    [face] = detector.detect([grainy])[0]
    assert face.confidence >= RETRY_MIN_CONFIDENCE
    assert face.x < 320 < face.x + face.width and face.y < 240 < face.y + face.height
    assert 120 < face.width < 240  # in the photo's pixels, not the half-size view's


def test_where_no_face_is_found_the_best_face_the_retry_views_rejected_is_the_guess(monkeypatch):
    detector = FaceDetector()
    grainy = np.asarray(grainy_face_photo(seed=0))
    drawn_face = np.asarray(draw_face(200, seed=1))
    found, guesses = detector.detect_with_guesses([grainy, drawn_face])
    assert len(found[0]) == len(found[1]) == 1 and guesses == [None, None]
    monkeypatch.setattr(detect, "RETRY_MIN_CONFIDENCE", 1.01)  # no retry view is good enough
    (no_faces, drawn), (guess, no_guess) = detector.detect_with_guesses([grainy, drawn_face])
    assert no_faces == [] and len(drawn) == 1 and no_guess is None
    assert GUESS_MIN_CONFIDENCE <= guess.confidence < 1.01
    assert guess.x < 320 < guess.x + guess.width and guess.y < 240 < guess.y + guess.height
    assert 120 < guess.width < 240 and len(guess.landmarks) == 5
    monkeypatch.setattr(detect, "GUESS_MIN_CONFIDENCE", 1.01)
    assert detector.detect_with_guesses([grainy]) == ([[]], [None])


@pytest.mark.parametrize("tilt", [0.0, -20.0, 20.0])
def test_retry_views_map_their_pixels_back_to_the_image(tilt):
    image = np.zeros((300, 400, 3), np.uint8)
    image[120:123, 250:253] = 255  # a bright dot centred on (251, 121)
    view, to_image = _retry_view(image, tilt)
    y, x = np.unravel_index(view[..., 0].astype(float).argmax(), view.shape[:2])
    back = _mapped(Face(x, y, 1, 1, 1.0, ((x, y),) * 5), to_image).landmarks[0]
    assert abs(back[0] - 251) < 2 and abs(back[1] - 121) < 2


def test_a_box_moves_between_sizes_by_its_rounded_edges_and_stays_inside():
    assert scaled_box((10.2, 20.6, 30.4, 40.0), 2.0) == (20, 41, 61, 80)
    assert scaled_box((100, 120, 80, 100), 0.5) == (50, 60, 40, 50)
    # a box past the picture's edges is cut at them once the size is given
    assert scaled_box((-10, 5, 50, 100), 1.0, (30, 60)) == (0, 5, 30, 55)
