"""Saliency methods return normalised maps, and Score-CAM weighs channels by the real score."""

import keras
import numpy as np
import pytest
from keras import layers
from scipy.stats import spearmanr
from tf_keras_vis.scorecam import Scorecam

from model.config import TrainConfig
from model.explain import METHODS, Explainer, cam_layer, randomisation_check
from model.networks import build_model
from model.tasks import TASKS
from tests.synthetic import draw_face

FACE = np.asarray(draw_face(200, seed=4).resize((32, 32)))


@pytest.fixture(scope="module")
def tiny_models():
    config = TrainConfig(stem_width=8, widths=(8, 16, 16))
    return {
        task: build_model(TASKS[task], config, 32, TASKS[task].output_bias(np.array([0.3])))
        for task in ("age", "gender")
    }


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("task", ["age", "gender"])
def test_every_method_gives_a_finite_map_of_the_input_size_in_unit_range(tiny_models, task, method):
    heat = Explainer(tiny_models[task], task).explain(FACE, method)
    assert heat.shape == (32, 32)
    assert np.isfinite(heat).all()
    assert heat.min() >= 0 and heat.max() <= 1


def test_cam_layer_keeps_a_readable_feature_map(tiny_models):
    layer = tiny_models["age"].get_layer(cam_layer(tiny_models["age"]))
    assert layer.output.shape[1] >= 6


def _top_left_red_model() -> keras.Model:
    """Output = mean red in the top-left quadrant; features: a red and a green channel."""
    inputs = keras.Input((16, 16, 3))
    pick = layers.Conv2D(
        2,
        1,
        use_bias=False,
        kernel_initializer=keras.initializers.Constant(
            np.array([[1, 0], [0, 1], [0, 0]], "float32").reshape(1, 1, 3, 2)
        ),
    )
    features = layers.ReLU(name="features")(pick(inputs))
    corner = layers.GlobalAveragePooling2D()(layers.Cropping2D(((0, 8), (0, 8)))(features))
    output = layers.Dense(
        1, activation="relu", kernel_initializer=keras.initializers.Constant([[1.0], [0.0]])
    )(corner)
    return keras.Model(inputs, output)


def test_scorecam_weighs_channels_by_the_score_not_a_softmax_of_one_unit():
    image = np.zeros((16, 16, 3), np.uint8)
    image[:8, :8, 0] = 200  # red top-left: the only thing the output depends on
    image[8:, 8:, 1] = 200  # green bottom-right: irrelevant to the output
    model = _top_left_red_model()
    heat = Explainer(model, "age", layer="features").explain(image, "scorecam")
    assert heat[:6, :6].mean() > 0.8
    assert heat[10:, 10:].mean() < 0.1

    # The trap: tf-keras-vis softmaxes the single output (always 1), so both channels weigh
    # the same and the irrelevant green corner lights up as much as the red one.
    naive = Scorecam(model)(
        lambda out: out[:, 0], image[np.newaxis].astype("float32"), penultimate_layer="features"
    )[0]
    assert naive[10:, 10:].mean() > 0.8


def test_unknown_method_and_task_are_refused(tiny_models):
    with pytest.raises(ValueError, match="method"):
        Explainer(tiny_models["age"], "age").explain(FACE, "magic")
    with pytest.raises(ValueError, match="task"):
        Explainer(tiny_models["age"], "height")


def test_a_batch_gives_the_same_maps_as_one_face_at_a_time(tiny_models):
    faces = np.stack([FACE, FACE[::-1], FACE[:, ::-1]])
    explainer = Explainer(tiny_models["gender"], "gender")
    batch = explainer.explain_batch(faces, "gradcam")
    assert batch.shape == (3, 32, 32)
    for face, heat in zip(faces, batch, strict=True):
        np.testing.assert_allclose(explainer.explain(face, "gradcam"), heat, atol=1e-4)


def test_randomisation_check_reports_one_rank_correlation_per_method(tiny_models):
    faces = np.stack([FACE, FACE[:, ::-1]])
    correlations = randomisation_check(tiny_models["age"], "age", faces, ("saliency", "gradcam"))
    assert set(correlations) == {"saliency", "gradcam"}
    assert all(-1 <= value <= 1 for value in correlations.values())


def test_maps_are_deterministic(tiny_models):
    """The sanity check's correlations mean something only if a model's maps repeat exactly."""
    explainer = Explainer(tiny_models["age"], "age")
    faces = np.stack([FACE, FACE[:, ::-1]])
    twice = [explainer.explain_batch(faces, "gradcam") for _ in range(2)]
    assert spearmanr(twice[0][0].ravel(), twice[1][0].ravel())[0] > 0.999
