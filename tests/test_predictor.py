"""`Predictor` on the shipped models: every face found, boxes in photo pixels, every odd or
hostile input either predicted or refused with one clear error, maps for every method."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data_prep import load_split
from data_prep.source import iter_source
from faces import FaceDetector, ImageError, detect
from model.explain import METHODS, SIGNED_METHODS
from model.predictor import (
    BEST_GUESS_MESSAGE,
    NO_FACE_MESSAGE,
    WHOLE_PICTURE_MESSAGE,
    Predictor,
    adience_group,
)
from testkit.hostile import face_photo, hostile_corpus
from testkit.synthetic import draw_face, grainy_face_photo, noise_image


@pytest.fixture(scope="module")
def predictors(detector):
    return {variant: Predictor(variant, detector=detector) for variant in ("full", "cropped")}


def _two_faces() -> Image.Image:
    photo = noise_image(400, seed=5).resize((640, 400))
    photo.paste(draw_face(240, seed=1), (20, 80))
    photo.paste(draw_face(150, seed=2), (420, 120))
    return photo


def test_full_variant_judges_the_whole_photo_only_when_no_face_is_found(predictors):
    result = predictors["full"].predict(np.asarray(noise_image(300)))
    assert result.message == WHOLE_PICTURE_MESSAGE
    [face] = result.faces
    assert face.box == (0, 0, 300, 300)
    assert face.detection_confidence is None
    assert face.to_dict()["framing"] == "whole picture"
    size = predictors["full"].size
    assert face.face.shape == (size, size, 3)
    assert face.interval_90[0] <= face.interval_80[0] < face.interval_80[1] <= face.interval_90[1]
    assert 0.5 <= face.gender_probability <= 1
    assert face.gender in ("male", "female")


def test_where_no_face_is_found_full_judges_its_best_guess_and_cropped_nothing(monkeypatch):
    monkeypatch.setattr(detect, "RETRY_MIN_CONFIDENCE", 1.01)  # the grainy face is not found
    detector = FaceDetector()  # at 640 pixels, where MTCNN misses the grainy face
    photo = grainy_face_photo(seed=0)
    result = Predictor("full", detector=detector).predict(photo)
    assert result.message == BEST_GUESS_MESSAGE
    [face] = result.faces
    assert face.to_dict()["framing"] == "best guess"
    assert detect.GUESS_MIN_CONFIDENCE <= face.detection_confidence < 1
    x, y, width, height = face.box
    assert x < 320 < x + width and y < 240 < y + height and 120 < width < 240
    whole = photo.resize((face.face.shape[0],) * 2, Image.Resampling.BILINEAR)
    assert np.abs(face.face.astype(int) - np.asarray(whole, int)).mean() > 10  # not the whole
    cropped = Predictor("cropped", detector=detector).predict(photo)
    assert cropped.faces == [] and cropped.message == NO_FACE_MESSAGE


@pytest.mark.parametrize("variant", ["full", "cropped"])
def test_both_variants_find_every_face_largest_first(predictors, variant):
    result = predictors[variant].predict(_two_faces())
    assert result.image_size == (640, 400)
    assert result.message is None
    assert len(result.faces) == 2
    big, small = result.faces
    assert big.box[2] * big.box[3] > small.box[2] * small.box[3]
    assert 20 <= big.box[0] + big.box[2] / 2 <= 260
    assert 420 <= small.box[0] + small.box[2] / 2 <= 570
    assert big.detection_confidence > 0.9 and big.to_dict()["framing"] == "aligned face"
    assert all(face.variant == variant for face in result.faces)
    # each face gets its own input and prediction
    assert np.abs(big.face.astype(int) - small.face.astype(int)).mean() > 5


def _tilted_in_a_scene(face: Image.Image, angle: float, scale: float, at: tuple[int, int]):
    scene = noise_image(200, seed=3).resize((720, 540))
    side = round(face.width * scale)
    tilted = face.resize((side, side)).rotate(angle, expand=True, fillcolor=(90, 90, 90))
    scene.paste(tilted, at)
    return scene


@pytest.mark.parametrize("variant", ["full", "cropped"])
def test_a_tilted_face_anywhere_in_a_photo_is_aligned_as_the_upright_chip(predictors, variant):
    chip = draw_face(200, seed=6)
    upright = predictors[variant].predict(chip).faces[0].face.astype(int)
    scene = _tilted_in_a_scene(chip, 20, 1.6, (300, 90))
    [face] = predictors[variant].predict(scene).faces
    aligned_error = np.abs(face.face.astype(int) - upright).mean()
    # the same face cut out of the photo at its box, without alignment, for scale
    x, y, width, height = face.box
    side = max(width, height)
    unaligned = np.asarray(scene.crop((x, y, x + side, y + side)).resize(upright.shape[:2]))
    assert aligned_error < 12
    assert aligned_error < 0.5 * np.abs(unaligned.astype(int) - upright).mean()


@pytest.mark.parametrize("variant", ["full", "cropped"])
def test_a_face_few_pixels_across_gets_the_wider_margins_of_its_size(variant):
    """The same face at 200 and at 32 pixels in a photo: its model input spans about as many of
    the photo's pixels as the face (so 64 or more for the large one), and the small one's
    margins, fitted on validation faces shrunk to that size, are wider; the whole picture
    spans all of the photo. (Detection at the demo's size: the tests' detector would not see it.)"""
    predictor = Predictor(variant, detector=FaceDetector())
    face = draw_face(200, seed=6)
    large = predictor.predict(_tilted_in_a_scene(face, 0, 1.0, (300, 90))).faces[0]
    small = predictor.predict(_tilted_in_a_scene(face, 0, 0.16, (300, 90))).faces[0]
    assert large.input_span > 64 and 15 < small.input_span < 40
    assert large.input_span / small.input_span == pytest.approx(1 / 0.16, rel=0.2)
    for level in ("interval_80", "interval_90"):
        (large_low, large_high), (small_low, small_high) = (
            getattr(large, level),
            getattr(small, level),
        )
        assert small_high - small_low > large_high - large_low
        assert small_low <= small.age <= small_high
    if variant == "full":
        whole = predictor.predict(np.asarray(noise_image(300))).faces[0]
        assert whole.input_span == np.inf


@pytest.mark.parametrize("variant", ["full", "cropped"])
def test_a_chip_given_as_a_photo_gets_the_prediction_of_its_prepared_input(
    prepared, utk_folder, smoke_weights, detector, variant
):
    test = load_split(prepared[0], variant, "test")
    rows = {file: row for row, file in enumerate(test.files)}
    predictor = Predictor(variant, smoke_weights, detector=detector)
    checked = 0
    for name, data in iter_source(utk_folder):
        if name in rows:
            [face] = predictor.predict(data).faces
            prepared_input = test.images[rows[name]]
            assert np.abs(face.face.astype(int) - prepared_input.astype(int)).mean() < 8
            ages, _ = predictor.predict_faces(prepared_input[np.newaxis])
            assert abs(face.age - ages[0]) < 1.0
            checked += 1
    assert checked == len(rows) > 0


def test_boxes_are_in_the_pixels_of_the_upright_photo(predictors):
    photo = _two_faces().resize((3200, 2000))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG")
    result = predictors["cropped"].predict(buffer.getvalue())
    assert result.image_size == (3200, 2000)
    centre_x = result.faces[0].box[0] + result.faces[0].box[2] / 2
    assert 100 <= centre_x <= 1300
    # the decoded photo is shrunk to MAX_SIDE: its boxes are half as large, in its pixels
    assert result.photo.size == (1600, 1000)
    for shown, box in zip(result.boxes_in(result.photo.size), result.faces, strict=True):
        assert all(abs(a - b / 2) <= 1 for a, b in zip(shown, box.box, strict=True))


def test_no_face_gives_an_empty_result_that_says_why(predictors):
    result = predictors["cropped"].predict(noise_image(300, seed=9))
    assert result.faces == []
    assert result.message == NO_FACE_MESSAGE
    assert "full-image model" in result.to_dict()["message"]


def test_results_serialise_to_json_ready_dicts(predictors):
    data = predictors["cropped"].predict(draw_face(200)).to_dict()
    [face] = data["faces"]
    assert set(face) == {
        "box",
        "age",
        "age_interval_80",
        "age_interval_90",
        "age_group",
        "gender",
        "gender_probability",
        "probability_female",
        "detection_confidence",
        "framing",
    }
    assert all(isinstance(v, int) for v in face["box"])


@pytest.mark.parametrize("item", hostile_corpus(), ids=lambda item: item.name)
def test_hostile_input_is_predicted_or_refused_with_a_readable_message(predictors, item):
    for predictor in predictors.values():
        if item.expect == "refuse":
            with pytest.raises(ImageError) as error:
                predictor.predict(item.data)
            assert "Traceback" not in str(error.value) and len(str(error.value)) > 10
        else:
            result = predictor.predict(item.data)
            assert result.faces or result.message == NO_FACE_MESSAGE


@pytest.mark.parametrize(
    "name", ["sixteen_bit.png", "cmyk.jpg", "palette.gif", "animated.gif", "exif_rotated.jpg",
             "transparent.png", "png_named.jpg", "huge.jpg"],
)  # fmt: skip
def test_a_face_in_every_odd_format_is_found_upright(predictors, name):
    [item] = [item for item in hostile_corpus() if item.name == name]
    result = predictors["cropped"].predict(item.data)
    [face] = result.faces
    width, height = result.image_size
    assert width > height  # EXIF rotation undone
    centre_x, centre_y = face.box[0] + face.box[2] / 2, face.box[1] + face.box[3] / 2
    assert abs(centre_x / width - 0.5) < 0.1 and abs(centre_y / height - 0.5) < 0.15


def test_a_missing_path_raises_the_one_image_error(predictors):
    with pytest.raises(ImageError):
        predictors["full"].predict("missing.jpg")


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_maps_both_models_over_the_face(predictors, method):
    [face] = predictors["cropped"].predict(draw_face(200)).faces
    maps = predictors["cropped"].explain(face, method)
    assert set(maps) == {"age", "gender"}
    for task, heat in maps.items():
        assert heat.shape == face.face.shape[:2]
        assert np.isfinite(heat).all()
        if method in SIGNED_METHODS:  # in the model's units: the occlusion maps carry them
            assert heat.signed and heat.units == {"age": "years", "gender": "points"}[task]
            assert np.abs(heat).max() > 0
        else:
            assert heat.units is None and heat.min() >= 0 and heat.max() <= 1
            assert heat.max() in (0.0, 1.0)  # scaled to peak at 1, or blank: nothing scored


def test_occlusion_options_reach_the_method(predictors):
    [face] = predictors["cropped"].predict(draw_face(200)).faces
    coarse = predictors["cropped"].explain(face, "occlusion", patch=32, stride=32)
    fine = predictors["cropped"].explain(face, "occlusion", patch=8, stride=4)
    for task in ("age", "gender"):
        assert len(np.unique(coarse[task])) <= 4  # 2 x 2 positions over a 64-pixel face
        assert len(np.unique(fine[task])) > 16


def test_presentation_is_a_slide_of_every_method(predictors):
    [face] = predictors["full"].predict(draw_face(200)).faces

    def slide(methods):
        return np.asarray(Image.open(io.BytesIO(predictors["full"].presentation(face, methods))))

    two, one = slide(("gradcam", "saliency")), slide(("gradcam",))
    assert two.shape[:2] == one.shape[:2] == (1080, 1920)
    assert len(np.unique(two.reshape(-1, two.shape[-1]), axis=0)) > 1000  # pictures, not blank
    assert not np.array_equal(two, one)  # the second method adds its maps


@pytest.mark.parametrize(
    ("age", "group"),
    [
        (0.4, "0-2"),
        (3.2, "4-6"),
        (10, "8-12"),
        (22.9, "25-32"),
        (35, "25-32"),
        (36, "38-43"),
        (45, "38-43"),
        (47, "48-53"),
        (57, "60+"),
        (90, "60+"),
    ],
)
def test_ages_map_to_the_nearest_adience_group(age, group):
    assert adience_group(age) == group


def test_unknown_variant_is_refused(smoke_weights):
    with pytest.raises(ValueError, match="variant"):
        Predictor("sideways", smoke_weights)


@pytest.mark.parametrize("variant", ["cropped", "full"])
def test_onnxruntime_and_keras_give_the_same_faces(variant, detector):
    """The fresh ONNX export (float16 weights, views built in numpy) answers as the Keras
    models do, on the example photos and drawn faces."""
    fast = Predictor(variant, detector=detector, runtime="onnx")
    reference = Predictor(variant, detector=detector, runtime="keras")
    photos = sorted(Path("webapp/examples").glob("*.[jp][pn]g"))
    photos += [face_photo(640, 480, seed=seed) for seed in (1, 3)]
    compared = 0
    for photo in photos:
        ours, theirs = fast.predict(photo).faces, reference.predict(photo).faces
        assert [face.box for face in ours] == [face.box for face in theirs]
        for face, expected in zip(ours, theirs, strict=True):
            assert abs(face.age - expected.age) < 0.05
            assert abs(face.probability_female - expected.probability_female) < 0.002
            compared += 1
    assert compared >= 10


def test_without_a_fresh_export_the_predictor_runs_keras(smoke_weights, detector):
    assert Predictor("cropped", smoke_weights, detector=detector).exported is None
    with pytest.raises(ValueError, match="no fresh ONNX export"):
        Predictor("cropped", smoke_weights, detector=detector, runtime="onnx")
