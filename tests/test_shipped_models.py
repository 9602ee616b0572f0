"""The models committed under model/weights load, predict sensibly and carry their records."""

import keras
import numpy as np
import pytest

from faces.align import TEMPLATE, ChipTemplate
from model import shipped
from model.config import WEIGHTS_DIR, ModelFiles
from model.explain import randomisation_check
from model.predictor import Predictor
from testkit.synthetic import draw_face

VARIANTS = ("full", "cropped")
SANITY_MAX_CORRELATION = 0.5


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("task", ["age", "gender"])
def test_shipped_model_loads_and_predicts(variant, task, detector):
    files = ModelFiles(WEIGHTS_DIR / variant, task)
    assert files.model.stat().st_size < 20 * 2**20  # the budget per model
    model = keras.models.load_model(files.model, compile=False)
    size = model.input_shape[1]
    assert model.input_shape == (None, size, size, 3)
    [face] = Predictor(variant, detector=detector).predict(draw_face(200)).faces
    output = model.predict(face.face[np.newaxis].astype("float32"), verbose=0)
    assert output.shape == (1, 1)
    if task == "age":
        assert 0 <= output[0, 0] <= 120
    else:
        assert 0 < output[0, 0] < 1
    run = shipped.run_info(variant, task)
    assert run["input_size"] == size
    assert run["data"]["train"] > 10_000
    history = shipped.history(variant, task)
    assert len(history) == run["epochs_done"]
    assert {"loss", "val_loss"} <= set(history.columns)


@pytest.mark.parametrize("variant", VARIANTS)
def test_shipped_metrics_and_calibration_are_consistent(variant):
    metrics = shipped.metrics(variant)
    assert metrics["split"] == "test"
    assert metrics["n"] > 2000
    coverage = metrics["age_interval_coverage"]
    assert set(coverage) == {"0.8", "0.9"}
    low, high = shipped.calibration(variant).interval(np.array([30.0]), 0.9)
    assert low[0] < 30 < high[0]


@pytest.mark.parametrize("variant", VARIANTS)
def test_shipped_wild_set_metrics_come_from_photos_through_the_detector(variant):
    """The photo-like wild set (`data_prep wild`) evaluated through the Predictor, as an upload."""
    wild, clean = shipped.metrics(variant, split="wild"), shipped.metrics(variant)
    assert wild["photos"] > 2000 and 0 <= wild["no_face_found"] < 0.05 * wild["photos"]
    assert set(wild["by_age_bucket"]) == set(clean["by_age_bucket"])
    assert wild["age"]["mae"] > 0 and 0.5 < wild["gender"]["accuracy"] <= 1


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("task", ["age", "gender"])
def test_shipped_maps_pass_the_model_randomisation_sanity_check(variant, task):
    """Adebayo et al. (2018): maps of the trained model must differ clearly from maps of the
    same architecture with random weights (low rank correlation). The CAM methods pass; the
    gradient methods (saliency, SmoothGrad) keep much of the face's edges with random weights
    too (rank correlation about 0.5-0.8), which notebook 03 and the demo's About tab say."""
    model = keras.models.load_model(ModelFiles(WEIGHTS_DIR / variant, task).model, compile=False)
    size = model.input_shape[1]
    faces = np.stack(
        [np.asarray(draw_face(200, seed=seed).resize((size, size))) for seed in range(4)]
    )
    correlations = randomisation_check(model, task, faces, ("gradcam", "gradcam++", "scorecam"))
    assert all(value < SANITY_MAX_CORRELATION for value in correlations.values()), correlations


@pytest.mark.parametrize("variant", VARIANTS)
def test_average_maps_ship_for_every_age_bucket_and_gender(variant):
    maps = shipped.average_maps(variant)
    for task in ("age", "gender"):
        assert {"gender_male", "gender_female", "age_0-9", "age_70-80"} <= set(maps[task])
        assert all(item["path"].is_file() and item["n"] > 0 for item in maps[task].values())


def test_the_chip_template_ships_with_the_models():
    """The framing the models learnt, measured on the training chips by data_prep."""
    template = ChipTemplate.load(WEIGHTS_DIR / TEMPLATE)
    assert template.chips > 10_000 and template.size == 200
    left_eye, right_eye, nose, mouth_left, mouth_right = template.points
    assert abs(left_eye[1] - right_eye[1]) < 2  # eyes level
    assert left_eye[0] < nose[0] < right_eye[0] and nose[1] < mouth_left[1]
    assert abs((left_eye[0] + right_eye[0]) / 2 - template.size / 2) < 5  # centred
