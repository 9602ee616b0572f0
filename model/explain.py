"""Saliency maps: which pixels of a face drive a model's prediction.

    explainer = Explainer(age_model, "age")
    heat = explainer.explain(face, "gradcam")    # AttributionMap (S, S) in [0, 1]
    heat = explainer.explain(face, "occlusion")  # signed, in years: heat.units == "years"

Every map is an `AttributionMap`: a float32 array that also says what its values mean.
Six methods give *relative* maps, normalised to [0, 1] (``units`` None): vanilla saliency,
SmoothGrad, Grad-CAM and Grad-CAM++ come from tf-keras-vis; CAM is Grad-CAM at the last stage
in closed form (`cam_model`: for our dense heads the gradient needs no backward pass, so the
same graph runs in the browser edition, exported to ONNX); Score-CAM is our own short
implementation: tf-keras-vis's ``Scorecam`` passes the model output through a softmax before
weighting channels, which on our one-unit outputs is always 1, so every channel would weigh
the same. Here each channel is weighted by how much the score itself (predicted age, or
probability of the predicted gender) rises above a black-image baseline when the input is
masked by that channel's upsampled activation.

Two methods give *signed* maps in the model's own units (``signed`` True): years for the age
model, percentage points of the probability of "female" for the gender model, so positive
(red) always means older / more female and negative (blue) younger / more male.

* Occlusion: a grey patch slides over the face; each pixel gets the mean change of the
  estimate (averaged with the mirrored face; the predictor averages eight views, the face moved
  and closer and each mirrored, which would make the map four times slower) over the patch
  positions that covered it. Positive: covering this part made the person look older.
* Integrated gradients (Sundararajan et al., 2017): the gradient averaged along the straight
  path from a baseline image (black, or the face blurred) to the face, times the difference
  face - baseline, summed over the colour channels. The map adds up to the model's output on
  the face minus its output on the baseline (completeness). Positive: this part pushes the
  estimate up (older, more female) compared with the baseline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from scipy.ndimage import gaussian_filter
from scipy.stats import spearmanr
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
from tf_keras_vis.saliency import Saliency
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

from model.networks import MIRRORED, PLAIN, predict_outputs

SMOOTHGRAD_SAMPLES = 20
SMOOTHGRAD_NOISE = 0.15
"""SmoothGrad's noise: standard deviation as a share of each face's value range."""
SCORECAM_MAX_CHANNELS = 64
"""Score-CAM masks with the highest-variance channels only (Faster Score-CAM)."""
OCCLUSION_PATCH = 0.1875
"""Default side of the occlusion patch, as a share of the face (12 pixels of 64)."""
OCCLUSION_GREY = 128
BASELINES = ("black", "blurred")
"""Integrated gradients' reference images: all black, or the face under a Gaussian blur."""
BLUR_SIGMA = 0.1
"""Standard deviation of the blurred baseline's blur, as a share of the face (6.4 of 64)."""
INTEGRATED_GRADIENTS_STEPS = 48
"""Points on the path from the baseline to the face (midpoint rule)."""
GRADIENT_BATCH = 128


class AttributionMap(np.ndarray):
    """A float32 map (S, S), or a stack of them (N, S, S), that says what its values mean.

    ``units``: None for a relative map normalised to [0, 1]; else the unit of a signed map
    (``"years"``, or ``"points"``: percentage points of the probability of "female").
    ``signed``: whether negative values mean something (draw them with a diverging scale).
    ``meaning``: what a value is, for a colour bar, e.g. ``"age change when covered"``.
    ``ends``: what the low and the high end mean, e.g. ``("younger", "older")``.
    Slicing or arithmetic keeps these; ``np.asarray(heat)`` gives the plain array.
    """

    def __new__(
        cls, values, units=None, signed=False, meaning="relative importance", ends=("low", "high")
    ):
        heat = np.asarray(values, np.float32).view(cls)
        heat.units, heat.signed, heat.meaning, heat.ends = units, signed, meaning, tuple(ends)
        return heat

    def __array_finalize__(self, source):
        self.units = getattr(source, "units", None)
        self.signed = getattr(source, "signed", False)
        self.meaning = getattr(source, "meaning", "relative importance")
        self.ends = getattr(source, "ends", ("low", "high"))

    def __reduce__(self):
        state = super().__reduce__()
        return state[0], state[1], (*state[2], self.units, self.signed, self.meaning, self.ends)

    def __setstate__(self, state):
        *array_state, self.units, self.signed, self.meaning, self.ends = state
        super().__setstate__(tuple(array_state))


def signed_map(values, task: str, method: str) -> AttributionMap:
    """`values` as a signed map of `method` on the `task` model, with its units and words."""
    if task == "age":
        units, ends = "years", ("younger", "older")
    else:
        units, ends = "points", ("more male", "more female")
    if method == "occlusion":
        meaning = f"{'age' if task == 'age' else 'P(female)'} change when covered"
    else:
        meaning = f"contribution to {'the age' if task == 'age' else 'P(female)'}, per pixel"
    return AttributionMap(values, units, True, meaning, ends)


def _starts(size: int, patch: int, stride: int) -> list[int]:
    """Patch positions along one side: every `stride` pixels, the last flush with the edge."""
    starts = list(range(0, size - patch + 1, stride))
    return starts if starts[-1] == size - patch else [*starts, size - patch]


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


def last_stage(model: keras.Model) -> str:
    """The last layer with a spatial (B, h, w, C) output: where the dense head begins."""
    spatial = [layer.name for layer in model.layers if len(layer.output.shape) == 4]
    return spatial[-1]


class ClosedFormCam(keras.layers.Layer):
    """Grad-CAM at the last stage for a dense head, without a backward pass.

    The head (global average pooling or flattening, then Dense layers with ReLU between them)
    is piecewise linear up to the output unit's activation, which Grad-CAM ignores. So the
    gradient of the output unit's input with respect to the feature map is the last kernel
    taken back through the Dense kernels, masked by the ReLUs that fired. A head that ends in
    a softmax over classes and the output unit's fixed values for them (the pretrained age
    network's expected age) takes one step more: the output's gradient on logit k is
    p_k (value_k - output). Grad-CAM weighs
    each channel by that gradient's spatial mean, sums, and keeps the positive part (here
    for the predicted direction: older, or the predicted gender), then tf-keras-vis's
    bilinear zoom to the input size (corners aligned) and min-max scaling.
    Inputs: [feature map (B, h, w, C), model output (B, 1)]; output (B, S, S) in [0, 1]."""

    def __init__(
        self, pooling: str, kernels, biases, size: int, two_sided: bool, softmax: bool, **kwargs
    ):
        super().__init__(**kwargs)
        self.pooling, self.size, self.two_sided, self.softmax = pooling, size, two_sided, softmax
        self.kernels = [self._constant(f"kernel_{i}", k) for i, k in enumerate(kernels)]
        self.biases = [self._constant(f"bias_{i}", b) for i, b in enumerate(biases)]

    def _constant(self, name: str, values) -> keras.Variable:
        values = np.asarray(values, np.float32)
        weight = self.add_weight(name=name, shape=values.shape, trainable=False)
        weight.assign(values)
        return weight

    def call(self, inputs):
        features, output = inputs
        _, height, width, channels = features.shape
        pooled = (
            tf.reduce_mean(features, axis=(1, 2))
            if self.pooling == "average"
            else tf.reshape(features, (-1, height * width * channels))
        )
        hidden_layers = len(self.kernels) - (2 if self.softmax else 1)
        fired, hidden = [], pooled
        for kernel, bias in zip(
            self.kernels[:hidden_layers], self.biases[:hidden_layers], strict=True
        ):
            hidden = tf.matmul(hidden, kernel) + bias
            fired.append(tf.cast(hidden > 0, tf.float32))
            hidden = tf.nn.relu(hidden)
        gradient = tf.transpose(self.kernels[-1])  # (1, units): d output / d last hidden
        if self.softmax:  # d output / d logits, then back through the logits' kernel
            logits = tf.matmul(hidden, self.kernels[-2]) + self.biases[-2]
            probabilities = tf.nn.softmax(logits)
            expected = tf.reduce_sum(probabilities * gradient, axis=1, keepdims=True)
            gradient = tf.matmul(
                probabilities * (gradient - expected), self.kernels[-2], transpose_b=True
            )
        for kernel, mask in zip(
            reversed(self.kernels[:hidden_layers]), reversed(fired), strict=True
        ):
            gradient = tf.matmul(gradient * mask, kernel, transpose_b=True)
        if self.pooling == "average":
            weights = gradient / float(height * width) * tf.ones_like(pooled)
        else:
            weights = tf.reduce_mean(
                tf.reshape(gradient * tf.ones_like(pooled), (-1, height, width, channels)),
                axis=(1, 2),
            )
        if self.two_sided:  # the predicted gender: the sign of the score follows the output
            weights *= tf.where(output >= 0.5, 1.0, -1.0)
        heat = tf.nn.relu(tf.einsum("bhwc,bc->bhw", features, weights))
        heat = tf.raw_ops.ResizeBilinear(
            images=heat[..., None], size=(self.size, self.size), align_corners=True
        )[..., 0]
        low = tf.reduce_min(heat, axis=(1, 2), keepdims=True)
        high = tf.reduce_max(heat, axis=(1, 2), keepdims=True)
        return (heat - low) / (high - low + keras.config.epsilon())


def cam_model(model: keras.Model, task: str) -> keras.Model:
    """The model with a second output: faces (B, S, S, 3) -> {"output": (B, 1), "cam": (B, S,
    S)}, the closed-form CAM of `ClosedFormCam` at `last_stage`. Raises ValueError for a head
    it cannot take back in closed form."""
    layer_names = [layer.name for layer in model.layers]
    head = model.layers[layer_names.index(last_stage(model)) + 1 :]
    pooling, kernels, biases, softmax = None, [], [], False
    for layer in head:
        if isinstance(layer, keras.layers.GlobalAveragePooling2D | keras.layers.Flatten):
            averaged = isinstance(layer, keras.layers.GlobalAveragePooling2D)
            pooling = "average" if averaged else "flat"
        elif isinstance(layer, keras.layers.Dense):
            kernels.append(layer.kernel.numpy())
            biases.append(layer.bias.numpy() if layer.use_bias else np.zeros(layer.units))
            hidden_linear = layer is not head[-1] and layer.activation is not keras.activations.relu
            if hidden_linear and not isinstance(
                head[head.index(layer) + 1], keras.layers.ReLU | keras.layers.Softmax
            ):
                raise ValueError(
                    f"{layer.name}: a hidden Dense layer must be followed by a ReLU (or, last, "
                    "by a softmax)"
                )
        elif isinstance(layer, keras.layers.Softmax) and layer is head[-2]:
            softmax = True
        elif not isinstance(layer, keras.layers.Dropout | keras.layers.ReLU):
            raise ValueError(f"no closed-form CAM through {layer.name} ({type(layer).__name__})")
    if pooling is None or not kernels:
        raise ValueError(f"{model.name}: the head has no pooling or no Dense layer")
    maps = ClosedFormCam(
        pooling,
        kernels,
        biases,
        model.input_shape[1],
        two_sided=task == "gender",
        softmax=softmax,
        name="cam",
    )([model.get_layer(last_stage(model)).output, model.output])
    return keras.Model(model.input, {"output": model.output, "cam": maps})


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
        self._cam = None  # built on first use: not every head has a closed-form CAM
        size = model.input_shape[1]
        self._gradient = tf.function(
            self._score_gradient, input_signature=[tf.TensorSpec([None, size, size, 3])]
        )
        self._lock = threading.Lock()

    def explain(self, face: np.ndarray, method: str, **options) -> AttributionMap:
        """Map of `method` for a uint8 (S, S, 3) face: (S, S), normalised to [0, 1] or, for
        `SIGNED_METHODS`, signed in the units it carries. `options`: see `OPTIONS`."""
        return self.explain_batch(face[np.newaxis], method, **options)[0]

    def explain_batch(self, faces: np.ndarray, method: str, **options) -> AttributionMap:
        """Maps for uint8 faces (N, S, S, 3): (N, S, S), as `explain` gives them."""
        if method not in METHOD_RECORDS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
        record = METHOD_RECORDS[method]
        unknown = set(options) - set(record.options)
        if unknown:
            raise ValueError(f"{method} takes no option {sorted(unknown)}")
        return record.function(self, faces, **options)

    def _relative(self, faces: np.ndarray, compute) -> AttributionMap:
        """A relative map per face, each scaled to [0, 1]: `compute(seeds, signs)` gives the
        raw maps (N, S, S) of float faces, where `signs` is +1 where the score rises with the
        output (age, female) and -1 where it falls (male)."""
        seeds = np.asarray(faces, np.float32)
        with self._lock:
            outputs = self.model(seeds, training=False).numpy()[:, 0]
            signs = np.where((self.task == "age") | (outputs >= 0.5), 1.0, -1.0).astype("float32")
            heat = compute(seeds, signs)
        heat = np.asarray(heat).reshape(seeds.shape[:3])
        return AttributionMap(np.stack([_normalise(one) for one in heat]))

    @staticmethod
    def _linear_score(signs: np.ndarray):
        return lambda output: output[:, 0] * signs

    def saliency(self, faces: np.ndarray) -> AttributionMap:
        return self._relative(
            faces, lambda seeds, signs: self._saliency(self._linear_score(signs), seeds)
        )

    def smoothgrad(self, faces: np.ndarray) -> AttributionMap:
        return self._relative(faces, self._smoothgrad)

    def gradcam(self, faces: np.ndarray) -> AttributionMap:
        return self._relative(
            faces,
            lambda seeds, signs: self._gradcam(
                self._linear_score(signs), seeds, penultimate_layer=self.layer
            ),
        )

    def gradcam_plus_plus(self, faces: np.ndarray) -> AttributionMap:
        return self._relative(
            faces,
            lambda seeds, signs: self._gradcam_pp(
                self._linear_score(signs), seeds, penultimate_layer=self.layer
            ),
        )

    def scorecam(self, faces: np.ndarray) -> AttributionMap:
        return self._relative(
            faces,
            lambda seeds, signs: np.concatenate(
                [
                    self._scorecam(seed[np.newaxis], sign)
                    for seed, sign in zip(seeds, signs, strict=True)
                ]
            ),
        )

    def cam(self, faces: np.ndarray) -> AttributionMap:
        def closed_form(seeds, _signs):
            self._cam = self._cam or cam_model(self.model, self.task)
            return self._cam(seeds, training=False)["cam"].numpy()

        return self._relative(faces, closed_form)

    def integrated_gradients_map(self, faces: np.ndarray, **options) -> AttributionMap:
        attributions, _, _ = self.integrated_gradients(faces, **options)
        return signed_map(attributions.sum(axis=-1), self.task, "integrated_gradients")

    def _smoothgrad(self, seeds: np.ndarray, signs: np.ndarray) -> np.ndarray:
        """SmoothGrad of float faces (N, S, S, 3): (N, S, S), not yet normalised.

        The same map as tf-keras-vis's ``Saliency(smooth_samples=...)`` (the mean absolute
        gradient over noisy copies, then the largest colour channel), but its loop runs one
        gradient pass per copy; here all copies of a few faces go through tf-keras-vis's
        Saliency as one batch, several times faster. Every face gets the same seeded noise
        pattern, scaled to its value range, so a face's map does not depend on the call."""
        pattern = np.random.default_rng(0).standard_normal(
            (SMOOTHGRAD_SAMPLES, 1, *seeds.shape[1:]), np.float32
        )
        spread = SMOOTHGRAD_NOISE * np.ptp(seeds, axis=(1, 2, 3), keepdims=True)
        faces_per_pass = max(1, GRADIENT_BATCH // SMOOTHGRAD_SAMPLES)
        heat = []
        for start in range(0, len(seeds), faces_per_pass):
            chunk = slice(start, start + faces_per_pass)
            faces = seeds[chunk]
            noisy = faces + spread[chunk] * pattern  # (K, n, S, S, 3)
            copy_signs = np.tile(signs[chunk], SMOOTHGRAD_SAMPLES)
            gradients = self._saliency(
                lambda output, copy_signs=copy_signs: output[:, 0] * copy_signs,
                noisy.reshape(-1, *faces.shape[1:]),
                keepdims=True,
                normalize_map=False,
            )
            heat.append(np.asarray(gradients).reshape(noisy.shape).mean(axis=0).max(axis=-1))
        return np.concatenate(heat)

    def _in_units(self, outputs: np.ndarray) -> np.ndarray:
        """Model outputs in the units of the signed maps: years, or points of P(female)."""
        return outputs if self.task == "age" else 100.0 * outputs

    def occlusion(
        self,
        faces: np.ndarray,
        patch: int | None = None,
        stride: int | None = None,
        mirror: bool = True,
    ) -> AttributionMap:
        """Occlusion sensitivity of uint8 faces (N, S, S, 3): (N, S, S), signed, in years or
        points. A grey square of `patch` pixels (default `OCCLUSION_PATCH` of the face) moves
        by `stride` (default half the patch); each pixel gets the mean change of the estimate
        over the positions that covered it. With `mirror` the estimate is averaged with that
        of the mirrored face. All positions of all faces run as one batched forward pass."""
        faces = np.asarray(faces, np.uint8)
        size = faces.shape[1]
        patch = patch or max(2, round(size * OCCLUSION_PATCH))
        stride = stride or max(1, patch // 2)
        if not (1 <= patch <= size and 1 <= stride <= size):
            raise ValueError(f"patch and stride must be 1 to {size} pixels, got {patch}, {stride}")
        starts = _starts(size, patch, stride)
        corners = [(top, left) for top in starts for left in starts]
        covered = np.repeat(faces[:, np.newaxis], len(corners), axis=1)  # (N, P, S, S, 3)
        for index, (top, left) in enumerate(corners):
            covered[:, index, top : top + patch, left : left + patch] = OCCLUSION_GREY
        with self._lock:
            views = MIRRORED if mirror else PLAIN
            original = predict_outputs(self.model, faces, views)
            changed = predict_outputs(self.model, covered.reshape(-1, *faces.shape[1:]), views)
        deltas = self._in_units(changed.reshape(len(faces), len(corners)) - original[:, None])
        heat = np.zeros(faces.shape[:3], np.float64)
        count = np.zeros(faces.shape[1:3], np.float64)
        for index, (top, left) in enumerate(corners):
            heat[:, top : top + patch, left : left + patch] += deltas[:, index, None, None]
            count[top : top + patch, left : left + patch] += 1
        return signed_map(heat / count, self.task, "occlusion")

    def baseline(self, faces: np.ndarray, kind: str = "black") -> np.ndarray:
        """Integrated gradients' reference images for faces (N, S, S, 3): float32, same shape."""
        faces = np.asarray(faces, np.float32)
        if kind == "black":
            return np.zeros_like(faces)
        if kind == "blurred":
            sigma = BLUR_SIGMA * faces.shape[1]
            return gaussian_filter(faces, sigma=(0, sigma, sigma, 0), mode="nearest")
        raise ValueError(f"baseline must be one of {BASELINES}, got {kind!r}")

    def _score_gradient(self, images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            score = self._in_units(self.model(images, training=False)[:, 0])
        return tape.gradient(score, images)

    def integrated_gradients(
        self,
        faces: np.ndarray,
        baseline: str = "black",
        steps: int = INTEGRATED_GRADIENTS_STEPS,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integrated gradients of uint8 faces (N, S, S, 3) against a `baseline` ("black" or
        "blurred"), with `steps` points on the path (midpoint rule), all faces batched.
        Returns (attributions float32 (N, S, S, 3) in years or points, the outputs on the
        faces (N,) and on the baselines (N,), in the same units): each face's attributions
        add up to its output minus its baseline's, up to the integration error."""
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        images = np.asarray(faces, np.float32)
        references = self.baseline(images, baseline)
        alphas = ((np.arange(steps) + 0.5) / steps).astype(np.float32)[:, None, None, None]
        paths = (references[:, None] + alphas * (images - references)[:, None]).reshape(
            -1, *images.shape[1:]
        )  # (N * steps, S, S, 3)
        with self._lock:
            gradients = np.concatenate(
                [
                    self._gradient(tf.constant(paths[start : start + GRADIENT_BATCH])).numpy()
                    for start in range(0, len(paths), GRADIENT_BATCH)
                ]
            )
            ends = predict_outputs(self.model, np.concatenate([images, references]), PLAIN)
        mean_gradients = gradients.reshape(len(images), steps, *images.shape[1:]).mean(axis=1)
        attributions = ((images - references) * mean_gradients).astype(np.float32)
        ends = self._in_units(ends)
        return attributions, ends[: len(images)], ends[len(images) :]

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


@dataclass(frozen=True)
class Method:
    """One explanation method: its name and how to read its maps (for menus and notes),
    whether its maps are signed (in years or points) or relative, the keyword options it
    takes, and the `Explainer` function that draws it."""

    name: str
    description: str
    function: Callable[..., AttributionMap]
    signed: bool = False
    options: tuple[str, ...] = ()


METHOD_RECORDS = {
    "saliency": Method(
        "Vanilla saliency",
        "How much each pixel's colour moves the score: the gradient. Sharp, but noisy.",
        Explainer.saliency,
    ),
    "smoothgrad": Method(
        "SmoothGrad",
        "The gradient averaged over 20 noisy copies of the face: less speckle.",
        Explainer.smoothgrad,
    ),
    "gradcam": Method(
        "Grad-CAM",
        "Which regions of a late 8x8 feature map raise the score: coarse, by region.",
        Explainer.gradcam,
    ),
    "gradcam++": Method(
        "Grad-CAM++",
        "Grad-CAM weighted to show several separate regions at once.",
        Explainer.gradcam_plus_plus,
    ),
    "scorecam": Method(
        "Score-CAM",
        "Masks the face with each feature map and weighs it by how much the score rises.",
        Explainer.scorecam,
    ),
    "cam": Method(
        "CAM",
        "The network's last feature maps, each weighed by how its output reads it: very "
        "coarse (4x4 or 8x8 regions), and what the browser edition draws.",
        Explainer.cam,
    ),
    "occlusion": Method(
        "Occlusion",
        "A grey square slides over the face. Red: covering this part made the person look "
        "older (age) or more female (gender); blue: younger, or more male. The colour bars are "
        "in years and in percentage points.",
        Explainer.occlusion,
        signed=True,
        options=("patch", "stride", "mirror"),
    ),
    "integrated_gradients": Method(
        "Integrated gradients",
        "Each pixel's share of the difference between the estimate for this face and for a "
        "black (or blurred) copy; the shares add up to that difference. Red: pushes the "
        "estimate older, or more female; blue: younger, or more male.",
        Explainer.integrated_gradients_map,
        signed=True,
        options=("baseline", "steps"),
    ),
}
"""Every explanation method, in menu order: one record each."""
METHODS = {key: method.name for key, method in METHOD_RECORDS.items()}
DESCRIPTIONS = {key: method.description for key, method in METHOD_RECORDS.items()}
"""How to read each method's map, in a sentence or two for a class."""
SIGNED_METHODS = tuple(key for key, method in METHOD_RECORDS.items() if method.signed)
"""Methods whose maps are signed, in years or percentage points, not normalised."""
OPTIONS = {key: method.options for key, method in METHOD_RECORDS.items() if method.options}
"""The keyword options each method accepts (the others take none)."""


def randomisation_check(
    model: keras.Model, task: str, faces: np.ndarray, methods=tuple(METHODS), seed: int = 0
) -> dict[str, float]:
    """Model-parameter randomisation test (Adebayo et al., 2018): for each method, the mean
    Spearman rank correlation between the maps of `model` and of the same architecture with
    freshly initialised weights, over uint8 faces (N, S, S, 3). Near 0: the maps depend on
    what the model learned; near 1: they would look the same for an untrained network. A
    blank map (the untrained network often gives one for the CAM methods) counts as 0.
    Signed maps are compared by their magnitude (how much each pixel matters, whichever way),
    as Adebayo et al. rank them. Layers that were never trained (the pretrained age head's
    fixed ages) keep their weights."""
    keras.utils.set_random_seed(seed)
    random_model = keras.models.clone_model(model)
    for untrained_layer, layer in zip(random_model.layers, model.layers, strict=True):
        if not layer.trainable and layer.weights:
            untrained_layer.set_weights(layer.get_weights())
    trained, untrained = Explainer(model, task), Explainer(random_model, task)
    correlations = {}
    for method in methods:
        ours, theirs = trained.explain_batch(faces, method), untrained.explain_batch(faces, method)
        if method in SIGNED_METHODS:
            ours, theirs = np.abs(ours), np.abs(theirs)
        values = [
            spearmanr(np.ravel(a), np.ravel(b))[0] if np.ptp(a) > 0 and np.ptp(b) > 0 else 0.0
            for a, b in zip(ours, theirs, strict=True)
        ]
        correlations[method] = float(np.mean(np.nan_to_num(values)))
    return correlations
