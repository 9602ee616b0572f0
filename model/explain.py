"""Saliency maps: which pixels of a face drive a model's prediction.

    explainer = Explainer(age_model, "age")
    heat = explainer.explain(face, "gradcam")    # float32 (S, S) in [0, 1]

Vanilla saliency, SmoothGrad, Grad-CAM and Grad-CAM++ come from tf-keras-vis. Score-CAM is
our own short implementation: tf-keras-vis's ``Scorecam`` passes the model output through a
softmax before weighting channels, which on our one-unit outputs is always 1, so every
channel would weigh the same. Here each channel is weighted by how much the score itself
(predicted age, or probability of the predicted gender) rises above a black-image baseline
when the input is masked by that channel's upsampled activation.
"""

from __future__ import annotations

import threading

import keras
import numpy as np
import tensorflow as tf
from scipy.stats import spearmanr
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
from tf_keras_vis.saliency import Saliency
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

METHODS = {
    "saliency": "Vanilla saliency",
    "smoothgrad": "SmoothGrad",
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "scorecam": "Score-CAM",
}
SMOOTHGRAD_SAMPLES = 20
SCORECAM_MAX_CHANNELS = 64
"""Score-CAM masks with the highest-variance channels only (Faster Score-CAM)."""


def cam_layer(model: keras.Model, min_side: int = 6) -> str:
    """The deepest layer whose feature map is still at least `min_side` pixels wide.

    The last convolution of a 64x64 network is only 4x4, too coarse to show a face's parts;
    one stage earlier (8x8) keeps the maps readable.
    """
    best = None
    for layer in model.layers:
        shape = getattr(layer, "output", None)
        shape = None if shape is None else shape.shape
        if isinstance(layer, keras.layers.ReLU) and len(shape) == 4 and shape[1] >= min_side:
            best = layer.name
    if best is None:
        raise ValueError(f"{model.name} has no ReLU feature map of at least {min_side} pixels")
    return best


def _normalise(heat: np.ndarray) -> np.ndarray:
    heat = np.nan_to_num(np.asarray(heat, np.float32))
    low, high = float(heat.min()), float(heat.max())
    return (heat - low) / (high - low) if high > low else np.zeros_like(heat)


class Explainer:
    """Maps for one model. task: 'age' (score = predicted age) or 'gender' (score = the
    predicted class: the probability of female if >= 0.5, else of male)."""

    def __init__(self, model: keras.Model, task: str, layer: str | None = None):
        if task not in ("age", "gender"):
            raise ValueError(f"task must be 'age' or 'gender', got {task!r}")
        self.model, self.task = model, task
        self.layer = layer or cam_layer(model)
        self._saliency = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
        self._gradcam = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
        self._gradcam_pp = GradcamPlusPlus(model, model_modifier=ReplaceToLinear(), clone=True)
        self._features = keras.Model(model.input, model.get_layer(self.layer).output)
        self._lock = threading.Lock()

    def explain(self, face: np.ndarray, method: str) -> np.ndarray:
        """Map of `method` for a uint8 (S, S, 3) face: float32 (S, S) normalised to [0, 1]."""
        return self.explain_batch(face[np.newaxis], method)[0]

    def explain_batch(self, faces: np.ndarray, method: str) -> np.ndarray:
        """Maps for uint8 faces (N, S, S, 3): float32 (N, S, S), each normalised to [0, 1]."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
        seeds = np.asarray(faces, np.float32)
        with self._lock:
            outputs = self.model(seeds, training=False).numpy()[:, 0]
            # +1 where the score rises with the output (age, female), -1 where it falls (male)
            signs = np.where((self.task == "age") | (outputs >= 0.5), 1.0, -1.0).astype("float32")
            linear_score = lambda output: output[:, 0] * signs  # noqa: E731
            if method == "saliency":
                heat = self._saliency(linear_score, seeds)
            elif method == "smoothgrad":
                heat = self._saliency(
                    linear_score, seeds, smooth_samples=SMOOTHGRAD_SAMPLES, smooth_noise=0.15
                )
            elif method == "gradcam":
                heat = self._gradcam(linear_score, seeds, penultimate_layer=self.layer)
            elif method == "gradcam++":
                heat = self._gradcam_pp(linear_score, seeds, penultimate_layer=self.layer)
            else:
                heat = np.concatenate(
                    [
                        self._scorecam(seed[np.newaxis], sign)
                        for seed, sign in zip(seeds, signs, strict=True)
                    ]
                )
        heat = np.asarray(heat).reshape(seeds.shape[:3])
        return np.stack([_normalise(one) for one in heat])

    def _scorecam(self, seed: np.ndarray, sign: float) -> np.ndarray:
        """Faster Score-CAM for one-unit outputs: (1, S, S) map, not yet normalised."""
        activations = self._features(seed, training=False)[0].numpy()  # (h, w, C)
        spread = activations.reshape(-1, activations.shape[-1]).std(axis=0)
        channels = np.argsort(spread)[::-1][:SCORECAM_MAX_CHANNELS]
        channels = channels[spread[channels] > 0]
        if len(channels) == 0:
            return np.zeros(seed.shape[:3], np.float32)
        size = seed.shape[1:3]
        masks = tf.image.resize(activations[..., channels], size, method="bilinear").numpy()
        low = masks.min(axis=(0, 1), keepdims=True)
        high = masks.max(axis=(0, 1), keepdims=True)
        masks = (masks - low) / np.maximum(high - low, 1e-8)  # (S, S, N)
        masked = seed * np.transpose(masks, (2, 0, 1))[..., np.newaxis]  # (N, S, S, 3)
        batch = np.concatenate([np.zeros_like(seed), masked])
        outputs = np.concatenate(
            [
                self.model(batch[start : start + 64], training=False).numpy()
                for start in range(0, len(batch), 64)
            ]
        )[:, 0]
        # the score: age in years, or the probability of the predicted class
        scores = outputs if self.task == "age" or sign > 0 else 1.0 - outputs
        weights = scores[1:] - scores[0]
        heat = np.maximum(np.tensordot(activations[..., channels], weights, axes=([-1], [0])), 0)
        return tf.image.resize(heat[np.newaxis, ..., np.newaxis], size).numpy()[..., 0]


def randomisation_check(
    model: keras.Model, task: str, faces: np.ndarray, methods=tuple(METHODS), seed: int = 0
) -> dict[str, float]:
    """Model-parameter randomisation test (Adebayo et al., 2018): for each method, the mean
    Spearman rank correlation between the maps of `model` and of the same architecture with
    freshly initialised weights, over uint8 faces (N, S, S, 3). Near 0: the maps depend on
    what the model learned; near 1: they would look the same for an untrained network. A
    blank map (the untrained network often gives one for the CAM methods) counts as 0."""
    keras.utils.set_random_seed(seed)
    random_model = keras.models.clone_model(model)
    trained, untrained = Explainer(model, task), Explainer(random_model, task)
    correlations = {}
    for method in methods:
        ours, theirs = trained.explain_batch(faces, method), untrained.explain_batch(faces, method)
        values = [spearmanr(a.ravel(), b.ravel())[0] for a, b in zip(ours, theirs, strict=True)]
        correlations[method] = float(np.mean(np.nan_to_num(values)))
    return correlations
