"""Build and save the age and gender CNNs from the shared blocks."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from model.blocks import LAST_BN, ContrastNormalization, backbone
from model.config import ModelFiles, TrainConfig
from model.tasks import Task


class View(NamedTuple):
    """One way of showing a face to a model at test time: moved right and down by `shift_x`,
    `shift_y` pixels (the border repeats mirrored), enlarged about its centre by `zoom` (below
    1 the border is black), and flipped left to right when `mirror`."""

    shift_x: int = 0
    shift_y: int = 0
    zoom: float = 1.0
    mirror: bool = False


PLAIN = (View(),)
MIRRORED = (View(), View(mirror=True))
TEST_VIEWS = tuple(
    View(shift_y=shift_y, zoom=zoom, mirror=mirror)
    for shift_y, zoom in ((0, 1.0), (2, 1.0), (-2, 1.0), (0, 1.06))
    for mirror in (False, True)
)
"""The views every prediction averages over (a face seen slightly moved, closer or mirrored
has the same age and gender): the face, moved 2 pixels down and up, 6% closer, and each of
those mirrored. Chosen on the validation split among shifts of 2 or 3 pixels each way and
zooms of 0.94 to 1.12 (``model.evaluate --views`` compares them)."""


def build_model(task: Task, config: TrainConfig, input_size: int, output_bias: float = 0.0):
    """An uncompiled CNN for `task`: (B, S, S, 3) pixels in [0, 255] -> (B, 1). From scratch,
    its output unit starts at `output_bias`; the pretrained start keeps its own answers."""
    if config.start == "cydral":
        from model.pretrained import cydral_network

        return cydral_network(task.name, input_size, config.dropout, contrast_layer(config))
    inputs, features = backbone(
        input_size,
        config.stem_width,
        config.widths,
        config.blocks_per_stage,
        config.dropout,
        contrast_layer(config),
    )
    output = layers.Dense(
        1,
        activation=task.activation,
        bias_initializer=keras.initializers.Constant(output_bias),
        name=task.name,
    )(features)
    return keras.Model(inputs, output, name=f"{task.name}_cnn")


def contrast_layer(config: TrainConfig) -> ContrastNormalization | None:
    """The model's first layer as `config` asks for it: `ContrastNormalization` (of faded faces
    only, with `contrast_below`), or none."""
    if not config.contrast:
        return None
    return ContrastNormalization(below=config.contrast_below or None, name="contrast")


ARCHITECTURE_FIELDS = (
    "start",
    "stem_width",
    "widths",
    "blocks_per_stage",
    "contrast",
    "contrast_below",
)
"""The config fields that shape a model (with the input size, from the data)."""


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
    Widths and the start must stay the same. `config.contrast` and `contrast_below` may
    differ: the contrast normalisation has no weights, and adding it changes the answers much
    only for faces of unusual contrast (faded, dark)."""
    same_shape = (config.start, config.stem_width, tuple(config.widths)) == (
        source_config.start,
        source_config.stem_width,
        tuple(source_config.widths),
    )
    if not same_shape or config.blocks_per_stage < source_config.blocks_per_stage:
        raise ValueError(
            "a model can only grow deeper or take larger inputs, not change its widths or start"
        )
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
    model.compile(
        optimizer=optimizer,
        loss=task.loss_function(config.label_smoothing),
        metrics=task.metrics(),
    )


def save_for_inference(model: keras.Model, path: Path) -> None:
    """Save architecture and weights only (no optimizer state): what the demo ships."""
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    clone.save(path)


def load_for_inference(variant_dir: str | Path, task: str) -> keras.Model:
    """A variant's shipped `task` model (``<variant_dir>/<task>.keras``), uncompiled."""
    return keras.models.load_model(ModelFiles(Path(variant_dir), task).model, compile=False)


def view_faces(images: tf.Tensor, view: View) -> tf.Tensor:
    """Faces (B, S, S, 3) float32 as `view` shows them: the same shape."""
    size = images.shape[1]
    if view.zoom != 1.0:
        zoomed = round(size * view.zoom)
        images = tf.image.resize(images, (zoomed, zoomed), antialias=True)
        images = tf.image.resize_with_crop_or_pad(images, size, size)
    if view.shift_x or view.shift_y:
        pad = max(abs(view.shift_x), abs(view.shift_y))
        padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="SYMMETRIC")
        top, left = pad - view.shift_y, pad - view.shift_x
        images = padded[:, top : top + size, left : left + size]
    return tf.reverse(images, axis=[2]) if view.mirror else images


_forwards: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _forward(model: keras.Model, views: tuple[View, ...]):
    """The model's inference pass, averaged over `views`, as a graph with one fixed signature
    (B, S, S, 3) -> (B,): ten times faster than an eager call for one face, and never retraced,
    so memory stays flat."""
    graphs = _forwards.setdefault(model, {})
    if views not in graphs:
        size = model.input_shape[1]
        spec = tf.TensorSpec([None, size, size, 3], tf.float32)

        def forward(images):
            seen = tf.concat([view_faces(images, view) for view in views], axis=0)
            outputs = model(seen, training=False)[:, 0]
            return tf.reduce_mean(tf.reshape(outputs, (len(views), -1)), axis=0)

        graphs[views] = tf.function(forward, input_signature=[spec])
    return graphs[views]


def predict_outputs(
    model: keras.Model,
    faces: np.ndarray,
    views: tuple[View, ...] = TEST_VIEWS,
    batch_size: int = 64,
) -> np.ndarray:
    """The model's single output for uint8 faces (N, S, S, 3), averaged over `views`: float64
    (N,). Every prediction in the project (demo, evaluation, calibration) runs through here,
    so they agree."""
    forward = _forward(model, tuple(views))
    outputs = [
        forward(np.asarray(faces[start : start + batch_size], np.float32)).numpy()
        for start in range(0, len(faces), batch_size)
    ]
    return np.concatenate(outputs).astype(np.float64) if outputs else np.zeros(0)
