"""Build and save the age and gender CNNs from the shared blocks."""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers

from model.blocks import backbone
from model.config import TrainConfig
from model.tasks import Task


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
