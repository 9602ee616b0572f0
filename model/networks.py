"""Build and save the age and gender CNNs from the shared blocks."""

from __future__ import annotations

import weakref
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from model.blocks import LAST_BN, backbone
from model.config import ModelFiles, TrainConfig
from model.tasks import Task

MIRROR_AVERAGE = True
"""Average each prediction with that of the mirrored face (measured on the validation split)."""


def build_model(task: Task, config: TrainConfig, input_size: int, output_bias: float = 0.0):
    """An uncompiled CNN for `task`: (B, S, S, 3) pixels in [0, 255] -> (B, 1)."""
    inputs, features = backbone(
        input_size, config.stem_width, config.widths, config.blocks_per_stage, config.dropout
    )
    output = layers.Dense(
        1,
        activation=task.activation,
        bias_initializer=keras.initializers.Constant(output_bias),
        name=task.name,
    )(features)
    return keras.Model(inputs, output, name=f"{task.name}_cnn")


ARCHITECTURE_FIELDS = ("stem_width", "widths", "blocks_per_stage")
"""The config fields that shape a model's weights (with the input size, from the data)."""


def grow(
    source: keras.Model,
    source_config: TrainConfig,
    task: Task,
    config: TrainConfig,
    input_size: int,
) -> keras.Model:
    """`config`'s deeper (more blocks per stage) or larger-input model, computing exactly what
    `source` (built from `source_config`) computes: every layer the two share takes `source`'s
    weights, and each added residual block starts as the identity (its last batch norm scales
    by zero; the block's input is a ReLU output, so the block passes it through unchanged).
    Widths must stay the same."""
    if config.blocks_per_stage < source_config.blocks_per_stage or (
        config.stem_width,
        tuple(config.widths),
    ) != (source_config.stem_width, tuple(source_config.widths)):
        raise ValueError("a model can only grow deeper or take larger inputs, not change widths")
    named = build_model(task, source_config, source.input_shape[1])
    named.set_weights(source.get_weights())  # the same builder: the same weight order
    shared = {layer.name: layer for layer in named.layers}
    grown = build_model(task, config, input_size)
    for layer in grown.layers:
        if layer.name in shared:
            layer.set_weights(shared[layer.name].get_weights())
        elif layer.name.endswith(LAST_BN):
            layer.gamma.assign(np.zeros(layer.gamma.shape, np.float32))
    return grown


def compile_model(model: keras.Model, task: Task, config: TrainConfig) -> None:
    optimizer = keras.optimizers.AdamW(
        config.learning_rate,
        weight_decay=config.weight_decay,
        use_ema=config.ema > 0,
        ema_momentum=config.ema or 0.99,
    )
    model.compile(optimizer=optimizer, loss=task.loss, metrics=task.metrics())


def save_for_inference(model: keras.Model, path: Path) -> None:
    """Save architecture and weights only (no optimizer state): what the demo ships."""
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    clone.save(path)


def load_for_inference(variant_dir: str | Path, task: str) -> keras.Model:
    """A variant's shipped `task` model (``<variant_dir>/<task>.keras``), uncompiled."""
    return keras.models.load_model(ModelFiles(Path(variant_dir), task).model, compile=False)


_forwards: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _forward(model: keras.Model):
    """The model's inference pass as a graph with one fixed signature (B, S, S, 3): ten times
    faster than an eager call for one face, and never retraced, so memory stays flat."""
    if model not in _forwards:
        size = model.input_shape[1]
        spec = tf.TensorSpec([None, size, size, 3], tf.float32)

        def forward(images):
            return model(images, training=False)

        _forwards[model] = tf.function(forward, input_signature=[spec])
    return _forwards[model]


def predict_outputs(
    model: keras.Model, faces: np.ndarray, mirror: bool = MIRROR_AVERAGE, batch_size: int = 256
) -> np.ndarray:
    """The model's single output for uint8 faces (N, S, S, 3): float64 (N,). With `mirror`, the
    output is averaged with that of the mirrored face (a face and its mirror image have the
    same age and gender). Every prediction in the project (demo, evaluation, calibration) runs
    through here, so they agree."""
    forward = _forward(model)
    outputs = []
    for start in range(0, len(faces), batch_size):
        batch = np.asarray(faces[start : start + batch_size], np.float32)
        if mirror:
            both = forward(np.concatenate([batch, batch[:, :, ::-1]])).numpy()[:, 0]
            output = (both[: len(batch)] + both[len(batch) :]) / 2
        else:
            output = forward(batch).numpy()[:, 0]
        outputs.append(output.astype(np.float64))
    return np.concatenate(outputs) if outputs else np.zeros(0)
