"""The small library of layers both CNNs are built from (one backbone, two heads)."""

from __future__ import annotations

import keras
from keras import layers

LAST_CONV = "last_conv"
"""Name of the backbone's last convolutional activation (the default Grad-CAM layer)."""


def conv_bn_relu(x, filters: int, stride: int = 1, name: str | None = None):
    """3x3 convolution, batch norm, ReLU."""
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU(name=name)(x)


def residual_block(x, filters: int, stride: int, name: str | None = None):
    """Two 3x3 convolutions with a shortcut (1x1 projection when the shape changes)."""
    shortcut = x
    y = conv_bn_relu(x, filters, stride)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.ReLU(name=name)(layers.Add()([y, shortcut]))


def backbone(
    input_size: int,
    stem_width: int,
    widths: tuple[int, ...],
    blocks_per_stage: int,
    dropout: float,
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """A compact ResNet: stride-2 stem, then one stride-2 stage per width, then pooling.

    Input: float pixels in [0, 255], shape (input_size, input_size, 3); the model rescales.
    Returns (inputs, pooled features).
    """
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = conv_bn_relu(x, stem_width, stride=2)
    for stage, width in enumerate(widths):
        for block in range(blocks_per_stage):
            last = stage == len(widths) - 1 and block == blocks_per_stage - 1
            x = residual_block(x, width, 2 if block == 0 else 1, name=LAST_CONV if last else None)
    x = layers.GlobalAveragePooling2D()(x)
    return inputs, layers.Dropout(dropout)(x)
