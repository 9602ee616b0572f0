"""Saliency methods return normalised maps, and Score-CAM weighs channels by the real score;
occlusion and integrated gradients return signed maps in years or points that mean what they
say: occlusion peaks where the model looks, integrated gradients add up to the output change."""

import pickle

import keras
import numpy as np
import pytest
from keras import layers
from scipy.stats import spearmanr
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.scorecam import Scorecam
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

from model.config import TrainConfig
from model.explain import (
    METHODS,
    OCCLUSION_GREY,
    SIGNED_METHODS,
    SMOOTHGRAD_NOISE,
    AttributionMap,
    Explainer,
    cam_layer,
    cam_model,
    last_stage,
    randomisation_check,
)
from model.networks import MIRRORED, build_model, predict_outputs
from model.tasks import TASKS
from testkit.synthetic import draw_face

FACE = np.asarray(draw_face(200, seed=4).resize((32, 32)))


@pytest.fixture(scope="module")
def tiny_models():
    """Untrained; seeded, so their maps do not depend on which tests ran before."""
    keras.utils.set_random_seed(0)
    config = TrainConfig(stem_width=8, widths=(8, 16, 16))
    return {
        task: build_model(TASKS[task], config, 32, TASKS[task].output_bias(np.array([0.3])))
        for task in ("age", "gender")
    }


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("task", ["age", "gender"])
def test_every_method_gives_a_finite_map_of_the_input_size_that_says_its_units(
    tiny_models, task, method
):
    heat = Explainer(tiny_models[task], task).explain(FACE, method)
    assert isinstance(heat, AttributionMap)
    assert heat.shape == (32, 32)
    assert np.isfinite(heat).all()
    if method in SIGNED_METHODS:
        assert heat.signed and heat.units == {"age": "years", "gender": "points"}[task]
    else:
        assert not heat.signed and heat.units is None
        assert heat.min() >= 0 and heat.max() <= 1


def test_cam_layer_is_the_deepest_feature_map_still_readable(tiny_models):
    model = tiny_models["age"]
    chosen = cam_layer(model)
    assert model.get_layer(chosen).output.shape[1] >= 6
    later = [layer for layer in model.layers[[layer.name for layer in model.layers].index(chosen)
             + 1:] if isinstance(layer, layers.ReLU)]  # fmt: skip
    assert later and all(layer.output.shape[1] < 6 for layer in later)  # the 4x4 map was skipped
    assert last_stage(model) != chosen


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


@pytest.mark.parametrize("method", ["gradcam", "smoothgrad"])
def test_a_batch_gives_the_same_maps_as_one_face_at_a_time(tiny_models, method):
    faces = np.stack([FACE, FACE[::-1], FACE[:, ::-1]] * 3)  # more than one SmoothGrad pass
    explainer = Explainer(tiny_models["gender"], "gender")
    batch = explainer.explain_batch(faces, method)
    assert batch.shape == (9, 32, 32)
    for face, heat in zip(faces, batch, strict=True):
        np.testing.assert_allclose(explainer.explain(face, method), heat, atol=1e-4)


def test_smoothgrad_is_the_map_tf_keras_vis_smooths_one_copy_at_a_time(tiny_models):
    """Our batched SmoothGrad and tf-keras-vis's loop draw different noise, so they agree as
    closely as two runs of that loop agree with each other, and far better than one noisy
    gradient does."""
    explainer = Explainer(tiny_models["age"], "age")
    seed = FACE[np.newaxis].astype("float32")
    ours = explainer.explain(FACE, "smoothgrad")

    def loop(samples):
        return explainer._saliency(
            lambda output: output[:, 0], seed, smooth_samples=samples, smooth_noise=SMOOTHGRAD_NOISE
        )[0]

    reference = loop(200)
    agreement = spearmanr(ours.ravel(), reference.ravel())[0]
    assert agreement > 0.9
    assert agreement > spearmanr(loop(1).ravel(), reference.ravel())[0] + 0.05


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


def _one_region_model(region: tuple[slice, slice], size: int = 32) -> keras.Model:
    """Output (years) = mean red over one region of the face and nothing else."""
    inputs = keras.Input((size, size, 3))
    rows, columns = region
    crop = layers.Cropping2D(
        ((rows.start, size - rows.stop), (columns.start, size - columns.stop)), name="region"
    )(inputs)
    red = layers.GlobalAveragePooling2D()(crop)
    output = layers.Dense(1, kernel_initializer=keras.initializers.Constant([[0.1], [0.0], [0.0]]))(
        red
    )
    return keras.Model(inputs, output)


def test_occlusion_peaks_in_the_only_region_the_model_sees():
    region = (slice(20, 28), slice(3, 11))  # lower left, off the mirror axis
    face = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    face[region] = (230, 40, 40)  # red there: grey over it lowers the output
    explainer = Explainer(_one_region_model(region), "age", layer="region")
    heat = explainer.explain(face, "occlusion", patch=4, stride=2, mirror=False)
    assert heat.units == "years" and heat.signed
    peak = np.unravel_index(np.argmax(np.abs(heat)), heat.shape)
    assert 20 <= peak[0] < 28 and 3 <= peak[1] < 11
    assert heat[peak] < 0  # covering the red made the estimate lower: "younger"
    # the patch (4 pixels) reaches at most 3 pixels beyond the region; nothing changes further out
    outside = np.ones_like(heat, bool)
    outside[17:31, 0:14] = False
    assert np.abs(heat[outside]).max() == 0


@pytest.mark.parametrize("task", ["age", "gender"])
def test_occlusion_with_the_whole_face_covered_is_the_change_of_the_mirrored_estimate(
    tiny_models, task
):
    """One patch as large as the face: every pixel gets the change of the estimate (averaged
    with the mirrored face) from the face to a grey square, in years or points."""
    model = tiny_models[task]
    heat = Explainer(model, task).explain(FACE, "occlusion", patch=32, stride=32)
    grey = np.full_like(FACE, OCCLUSION_GREY)
    before, after = predict_outputs(model, np.stack([FACE, grey]), MIRRORED)
    expected = (after - before) * (1 if task == "age" else 100)
    assert heat.units == ("years" if task == "age" else "points")
    np.testing.assert_allclose(heat, expected, rtol=1e-4, atol=1e-5)


def _responsive(task: str, seed: int, **architecture) -> keras.Model:
    """A tiny network whose output moves by years (or tens of points) between faces: its
    untrained head is scaled up, so completeness is tested on differences that matter."""
    keras.utils.set_random_seed(seed)
    config = TrainConfig(stem_width=8, widths=(8, 16, 16), **architecture)
    model = build_model(TASKS[task], config, 32, 30.0 if task == "age" else 0.0)
    head = model.get_layer(task)
    kernel, bias = head.get_weights()
    head.set_weights([kernel * (300.0 if task == "age" else 30.0), bias])
    return model


COMPLETENESS_STEPS = 256
COMPLETENESS_TOLERANCE = (0.03, 0.05)
"""At 256 steps the attributions add up to the output difference within 3% of it plus 0.05
years or points (the rest is the midpoint rule's error, which shrinks with more steps)."""


@pytest.mark.parametrize(
    ("baseline", "architecture"),
    [
        ("black", {}),
        ("blurred", {}),
        ("black", {"contrast": True}),
        ("black", {"contrast": True, "contrast_below": 33.0}),
    ],
    ids=["black", "blurred", "black-contrast", "black-faded-contrast"],
)
@pytest.mark.parametrize("task", ["age", "gender"])
@pytest.mark.parametrize("seed", [0, 2])
def test_integrated_gradients_add_up_to_the_difference_of_the_outputs(
    task, baseline, architecture, seed
):
    """Also through the contrast normalisation (`model.blocks.ContrastNormalization`), whose
    soft scale and soft gate keep the path from a black image smooth."""
    model = _responsive(task, seed, **architecture)
    explainer = Explainer(model, task)
    faces = np.stack([np.asarray(draw_face(200, seed=s).resize((32, 32))) for s in range(3)])
    attributions, outputs, references = explainer.integrated_gradients(
        faces, baseline, COMPLETENESS_STEPS
    )
    unit = 1 if task == "age" else 100  # years, or points of P(female)
    both = np.concatenate([faces.astype("float32"), explainer.baseline(faces, baseline)])
    direct = unit * model.predict(both, verbose=0)[:, 0]
    np.testing.assert_allclose(np.concatenate([outputs, references]), direct, rtol=1e-4, atol=1e-3)
    difference = outputs - references
    assert np.abs(difference).max() > 1  # a real change, not a near-constant network
    relative, absolute = COMPLETENESS_TOLERANCE
    error = np.abs(attributions.sum(axis=(1, 2, 3)) - difference)
    assert (error <= relative * np.abs(difference) + absolute).all(), (error, difference)
    # the map `explain` gives is the same attributions summed over the colour channels
    options = {"baseline": baseline, "steps": COMPLETENESS_STEPS}
    heat = explainer.explain(faces[0], "integrated_gradients", **options)
    np.testing.assert_allclose(heat, attributions[0].sum(axis=-1), rtol=1e-4, atol=1e-4)


def test_integrated_gradients_error_shrinks_with_more_steps():
    explainer = Explainer(_responsive("age", 1), "age")
    faces = np.stack([np.asarray(draw_face(200, seed=s).resize((32, 32))) for s in range(3)])

    def error(steps: int) -> float:
        attributions, outputs, references = explainer.integrated_gradients(faces, "black", steps)
        return float(np.abs(attributions.sum(axis=(1, 2, 3)) - (outputs - references)).sum())

    assert error(256) < error(8)


def test_baselines_are_black_or_the_face_blurred():
    explainer = Explainer(_responsive("age", 0), "age")
    faces = FACE[np.newaxis]
    assert not explainer.baseline(faces, "black").any()
    blurred = explainer.baseline(faces, "blurred")
    assert abs(blurred.mean() - faces.mean()) < 2  # the same colours, spread out
    steepest = np.abs(np.diff(blurred, axis=1)).max()  # from one pixel to the next
    assert steepest < np.abs(np.diff(faces.astype(float), axis=1)).max() / 4
    with pytest.raises(ValueError, match="baseline"):
        explainer.baseline(faces, "white")


def test_options_belong_to_their_method(tiny_models):
    explainer = Explainer(tiny_models["age"], "age")
    with pytest.raises(ValueError, match="option"):
        explainer.explain(FACE, "gradcam", patch=4)
    with pytest.raises(ValueError, match="patch"):
        explainer.explain(FACE, "occlusion", patch=40)


def test_a_map_keeps_its_units_when_sliced_or_pickled(tiny_models):
    maps = Explainer(tiny_models["gender"], "gender").explain_batch(
        np.stack([FACE, FACE[:, ::-1]]), "occlusion"
    )
    one = maps[1]
    assert one.units == "points" and one.signed and one.ends == ("more male", "more female")
    again = pickle.loads(pickle.dumps(one))
    assert again.units == "points" and again.meaning == one.meaning
    np.testing.assert_array_equal(again, one)


def test_the_sanity_check_covers_all_eight_methods(tiny_models):
    faces = np.stack([FACE, FACE[:, ::-1]])
    correlations = randomisation_check(tiny_models["gender"], "gender", faces)
    assert len(METHODS) == 8
    assert set(correlations) == set(METHODS)
    assert all(-1 <= value <= 1 for value in correlations.values())


def _gradcam_at_last_stage(model, task, faces):
    """tf-keras-vis's Grad-CAM at `last_stage`, by automatic differentiation."""
    outputs = model(faces.astype("float32"), training=False).numpy()[:, 0]
    signs = np.where((task == "age") | (outputs >= 0.5), 1.0, -1.0).astype("float32")
    gradcam = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
    return gradcam(
        lambda output: output[:, 0] * signs,
        faces.astype("float32"),
        penultimate_layer=last_stage(model),
        seek_penultimate_conv_layer=False,
    )


def _dense_head_model(seed: int) -> keras.Model:
    """A gender CNN with the Cydral head: flatten, Dense, ReLU, Dense, sigmoid."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3))
    x = layers.ReLU()(layers.Conv2D(8, 3)(layers.Rescaling(1 / 127.5, offset=-1)(inputs)))
    x = layers.AveragePooling2D(4)(x)
    x = layers.Dense(16)(layers.Flatten()(layers.Dropout(0.2)(x)))
    x = layers.Dropout(0.2)(layers.ReLU()(x))
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))


def _pooled_head_model(task: str, seed: int) -> keras.Model:
    """A tiny CNN of ours (global average pooling, one unit), seeded: with some random
    weights no region raises the score and every CAM is blank, which would test nothing."""
    keras.utils.set_random_seed(seed)
    config = TrainConfig(stem_width=8, widths=(8, 16, 16))
    return build_model(TASKS[task], config, 32, TASKS[task].output_bias(np.array([0.3])))


def _expected_age_model(seed: int) -> keras.Model:
    """An age CNN with the pretrained age network's head: global average pooling, 9 logits,
    a softmax, and a fixed unit that sums the 9 ages by their probabilities."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3))
    x = layers.ReLU()(layers.Conv2D(8, 3)(layers.Rescaling(1 / 127.5, offset=-1)(inputs)))
    x = layers.Dropout(0.1)(layers.GlobalAveragePooling2D()(x))
    probabilities = layers.Softmax()(layers.Dense(9)(x))
    expected = layers.Dense(1, activation="relu", trainable=False)
    model = keras.Model(inputs, expected(probabilities))
    expected.set_weights([np.arange(0, 90, 10, dtype=np.float32)[:, None], np.zeros(1)])
    return model


HEADS = {
    "pooled age": lambda: _pooled_head_model("age", 2),
    "pooled gender": lambda: _pooled_head_model("gender", 2),
    "dense gender": lambda: _dense_head_model(1),
    "expected age": lambda: _expected_age_model(3),
}


@pytest.mark.parametrize("head", list(HEADS))
def test_cam_is_grad_cam_at_the_last_stage_without_a_backward_pass(head):
    task = head.split()[1]
    model = HEADS[head]()
    faces = np.stack([FACE, FACE[:, ::-1], np.roll(FACE, 5, axis=0)])
    closed_form = cam_model(model, task)(faces.astype("float32"))["cam"].numpy()
    expected = _gradcam_at_last_stage(model, task, faces)
    assert closed_form.shape == (3, 32, 32) and closed_form.max() > 0.5
    np.testing.assert_allclose(closed_form, expected, atol=1e-5)
    explained = Explainer(model, task).explain_batch(faces, "cam")  # rescaled without epsilon:
    # a map whose values span only 1e-3 moves by up to 1e-7 / 1e-3 = 1e-4
    np.testing.assert_allclose(explained, expected, atol=1e-3)


def test_cam_refuses_a_head_it_cannot_take_back():
    inputs = keras.Input((16, 16, 3))
    features = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3)(inputs))
    softmax_head = layers.Dense(1)(layers.Dense(5, activation="softmax")(features))
    with pytest.raises(ValueError, match="must be followed by a ReLU"):
        cam_model(keras.Model(inputs, softmax_head), "age")
