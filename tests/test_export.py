"""The ONNX export that the browser edition runs: made from the shipped models as they are now,
computing what they compute, with a manifest that carries the shipped margins and verdicts."""

import json
from dataclasses import asdict

import keras
import numpy as np
import onnxruntime
import pytest
from keras import layers

from faces.align import TEMPLATE, ChipTemplate
from faces.mtcnn_onnx import NETWORKS_DIR
from model import sanity, shipped
from model.config import EXPORT_DIR, EXPORT_MANIFEST, WEIGHTS_DIR
from model.explain import cam_model
from model.export import (
    BROWSER_METHODS,
    _export_keras,
    float16_weights,
    model_file,
    onnx_outputs,
    stale_exports,
)
from model.networks import load_for_inference, predict_outputs
from testkit.synthetic import draw_face

EXPORTS = WEIGHTS_DIR / EXPORT_DIR


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((EXPORTS / EXPORT_MANIFEST).read_text())


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    drawn = [np.asarray(draw_face(200, seed=seed).resize((64, 64))) for seed in range(6)]
    noise = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    return np.concatenate([np.stack(drawn), noise])


def test_every_shipped_model_has_a_fresh_export():
    assert stale_exports() == [], "a shipped model or calibration changed: python -m model.export"


@pytest.mark.parametrize("variant", ["full", "cropped"])
@pytest.mark.parametrize("task", ["age", "gender"])
def test_the_exported_model_predicts_and_maps_what_the_keras_model_does(variant, task, faces):
    model = load_for_inference(WEIGHTS_DIR / variant, task)
    session = onnxruntime.InferenceSession(EXPORTS / model_file(variant, task))
    exported, expected = onnx_outputs(session, faces), predict_outputs(model, faces)
    tolerance = {"age": 0.05, "gender": 0.002}[task]  # years; probability
    assert np.abs(exported - expected).max() < tolerance
    cam = session.run(["cam"], {"faces": faces.astype(np.float32)})[0]
    expected_cam = cam_model(model, task)(faces.astype(np.float32))["cam"].numpy()
    assert np.abs(cam - expected_cam).max() < 0.02


def test_float16_weights_halve_the_file_and_keep_the_answers(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    features = layers.GlobalAveragePooling2D()(layers.Conv2D(64, 3, activation="relu")(inputs))
    model = keras.Model(inputs, layers.Dense(1)(layers.Dense(256, activation="relu")(features)))
    _export_keras(model, tmp_path / "wide.onnx", (16, 16), "faces")
    import onnx

    onnx.save(float16_weights(onnx.load(tmp_path / "wide.onnx")), tmp_path / "narrow.onnx")
    wide, narrow = (tmp_path / name for name in ("wide.onnx", "narrow.onnx"))
    assert narrow.stat().st_size < 0.6 * wide.stat().st_size
    images = np.random.default_rng(1).uniform(0, 1, (4, 16, 16, 3)).astype(np.float32)
    answers = [
        onnxruntime.InferenceSession(tmp_path / name).run(None, {"faces": images})[0]
        for name in ("wide.onnx", "narrow.onnx")
    ]
    np.testing.assert_allclose(answers[0], model(images).numpy(), atol=1e-5)
    np.testing.assert_allclose(answers[1], answers[0], rtol=2e-3, atol=1e-4)
    assert not np.array_equal(answers[1], answers[0])  # the weights did change


def test_the_manifest_carries_the_shipped_margins_template_and_verdicts(manifest):
    assert manifest["chip_template"] == ChipTemplate.load(WEIGHTS_DIR / TEMPLATE).to_dict()
    for variant, entry in manifest["variants"].items():
        assert entry["calibration"] == asdict(shipped.calibration(variant))
        report = sanity.load(variant)
        for method in BROWSER_METHODS:
            assert entry["methods"][method]["passes"] == sanity.verdict(report, method).passes
        test_metrics = shipped.metrics(variant)
        assert entry["metrics"]["age_mae"] == round(test_metrics["age"]["mae"], 2)
        assert set(entry["metrics"]["by_young_age"]) == set(test_metrics["by_young_age"])
    total = sum(path.stat().st_size for path in EXPORTS.glob("*.onnx")) + sum(
        (NETWORKS_DIR / entry["file"]).stat().st_size
        for entry in manifest["detector"]["networks"].values()
    )
    assert total < 15e6  # the download the browser edition aims for
