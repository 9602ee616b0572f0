"""The pretrained start: Cydral's CC0 networks rebuilt in Keras compute what their ONNX files do."""

import json

import keras
import numpy as np
import onnxruntime
import pytest

from model.config import ModelFiles
from model.explain import Explainer, cam_layer
from model.networks import load_for_inference
from model.pretrained import (
    CYDRAL_INPUT_SIDE,
    FEMALE,
    cydral_network,
    cydral_probabilities,
    onnx_path,
)
from model.train import main as train_main

MEANS = np.float32([122.781998, 117.001999, 104.297997])


def _faces(side: int, count: int = 6, seed: int = 0) -> np.ndarray:
    """Smooth random pictures (a face-like spread of values, not white noise)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (count, side // 4, side // 4, 3)).astype(np.float32)
    return np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)


def _onnx_probabilities(task: str, faces: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(onnx_path(task)))
    means = np.float32(json.loads((onnx_path(task).parent / "manifest.json").read_text())
                       ["models"][task]["input"]["normalization"]["means"])  # fmt: skip
    channels_first = np.ascontiguousarray(((faces - means) / 256).transpose(0, 3, 1, 2))
    return session.run(None, {"images": channels_first})[0]


@pytest.mark.parametrize("task", ["age", "gender"])
def test_the_rebuilt_body_reproduces_the_onnx_network(task):
    faces = _faces(CYDRAL_INPUT_SIDE[task])
    expected = _onnx_probabilities(task, faces)
    rebuilt = cydral_probabilities(task).predict(faces, verbose=0)
    assert rebuilt.shape == expected.shape == (len(faces), 81 if task == "age" else 2)
    np.testing.assert_allclose(rebuilt, expected, atol=2e-5)
    assert expected.max(axis=1).min() < 0.99, "the test faces must not all saturate the softmax"


def test_the_age_head_outputs_the_expected_age_and_keeps_its_ages_fixed():
    faces = _faces(64)
    probabilities = _onnx_probabilities("age", faces)
    ages = np.concatenate([[0.25], np.arange(1, 81)]).astype(np.float32)
    model = cydral_network("age", 64)
    np.testing.assert_allclose(model.predict(faces, verbose=0)[:, 0], probabilities @ ages,
                               atol=2e-3)  # fmt: skip
    head = model.get_layer("age")
    assert head.get_config()["activation"] == "relu" and not head.trainable
    assert model.output_shape == (None, 1)


def test_the_gender_head_is_the_probability_of_female_on_larger_faces():
    small = _faces(32)
    expected = _onnx_probabilities("gender", small)[:, FEMALE]
    doubled = np.repeat(np.repeat(small, 2, axis=1), 2, axis=2)  # 2x2 means give `small` back
    model = cydral_network("gender", 64)
    assert model.input_shape == (None, 64, 64, 3)
    assert model.layers[-1].get_config()["activation"] == "sigmoid"
    np.testing.assert_allclose(model.predict(doubled, verbose=0)[:, 0], expected, atol=1e-5)
    with pytest.raises(ValueError, match="32 pixels or a multiple"):
        cydral_network("gender", 48)


def test_explanations_find_a_readable_feature_map_in_the_pretrained_body():
    model = cydral_network("age", 64)
    layer = model.get_layer(cam_layer(model))
    assert isinstance(layer, keras.layers.ReLU) and layer.output.shape[1] == 7
    heat = Explainer(model, "age").explain(_faces(64, count=1)[0].astype(np.uint8), "gradcam")
    assert heat.shape == (64, 64) and np.ptp(heat) > 0


def test_training_from_the_pretrained_start_ships_a_loadable_model(prepared, tmp_path):
    arguments = ["--task", "gender", "--variant", "cropped", "--data", str(prepared[0]),
                 "--out", str(tmp_path), "--epochs", "1", "--batch-size", "8",
                 "--start", "cydral", "--learning-rate", "1e-5"]  # fmt: skip
    assert train_main(arguments) == 0
    files = ModelFiles(tmp_path / "cropped", "gender")
    run = json.loads(files.run_info.read_text())
    assert run["config"]["start"] == "cydral"
    assert run["pretrained_from"]["license"] == "CC0-1.0"
    assert run["pretrained_from"]["attribution"] == "Cydral Technology"
    assert run["parameters"] == cydral_network("gender", 32).count_params()
    model = load_for_inference(tmp_path / "cropped", "gender")
    start = cydral_network("gender", 32)
    faces = _faces(32)
    trained, untrained = model.predict(faces, verbose=0), start.predict(faces, verbose=0)
    assert np.abs(trained - untrained).max() < 0.1, "a tiny learning rate keeps the start"
    with pytest.raises(SystemExit):
        train_main([*arguments[:-4], "--start", "imagenet"])
