"""Build and save the age and gender CNNs from the shared blocks."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from model.blocks import backbone
from model.config import TrainConfig
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


def compile_model(model: keras.Model, task: Task, config: TrainConfig) -> None:
    optimizer = keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay)
    model.compile(optimizer=optimizer, loss=task.loss, metrics=task.metrics())


def save_for_inference(model: keras.Model, path: Path) -> None:
    """Save architecture and weights only (no optimizer state): what the demo ships."""
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    clone.save(path)


def predict_outputs(
    model: keras.Model, faces: np.ndarray, mirror: bool = MIRROR_AVERAGE, batch_size: int = 256
) -> np.ndarray:
    """The model's single output for uint8 faces (N, S, S, 3): float64 (N,). With `mirror`, the
    output is averaged with that of the mirrored face (a face and its mirror image have the
    same age and gender). Every prediction in the project (demo, evaluation, calibration) runs
    through here, so they agree."""
    outputs = []
    for start in range(0, len(faces), batch_size):
        batch = keras.ops.convert_to_tensor(faces[start : start + batch_size].astype(np.float32))
        output = keras.ops.convert_to_numpy(model(batch, training=False))[:, 0]
        if mirror:
            flipped = keras.ops.convert_to_numpy(model(batch[:, :, ::-1], training=False))[:, 0]
            output = (output + flipped) / 2
        outputs.append(output.astype(np.float64))
    return np.concatenate(outputs) if outputs else np.zeros(0)
