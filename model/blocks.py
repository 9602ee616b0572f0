"""The small library of layers both CNNs are built from (one backbone, two heads).

Layers with weights are named after their place (``stem_conv``, ``stage2_block1_2_bn``), so a
deeper or larger-input model can take over a smaller one's weights layer by layer
(`model.networks.grow`).
"""

from __future__ import annotations

import keras
from keras import layers, ops

LAST_CONV = "last_conv"
"""Name of the backbone's last convolutional activation (the default Grad-CAM layer)."""
LAST_BN = "2_bn"
"""Suffix of a residual block's last batch norm: zero scale there makes the block the identity."""


@keras.saving.register_keras_serializable(package="age_gender")
class ContrastNormalization(layers.Layer):
    """Every face brought towards the same brightness and contrast, as the model's first step:
    its pixels shifted so that their luminance (the mean of the channels) has mean `centre`,
    and scaled by ``sqrt(spread**2 + softness**2) / sqrt(std**2 + softness**2)``, where std is
    the luminance's standard deviation; then clipped to [0, 255]. A clean UTKFace chip (std
    about `spread`) keeps its contrast; a faded print (std about 30) gets most of it back, a
    black image becomes an even grey. The scale is soft (`softness`) so that the output
    changes smoothly along integrated gradients' path from a black image to the face.

    With `below`, only faded faces are normalised: a face gets the share
    ``sigmoid((below - std) / gate_width)`` of the change, near 1 well under `below` and near 0
    well above it, so a clean chip passes almost unchanged, its brightness included."""

    def __init__(
        self, centre=115.0, spread=52.0, softness=20.0, below=None, gate_width=4.0, **kwargs
    ):
        super().__init__(**kwargs)
        self.centre, self.spread, self.softness = float(centre), float(spread), float(softness)
        self.below = None if below is None else float(below)
        self.gate_width = float(gate_width)

    def call(self, images):
        luminance = ops.mean(images, axis=-1, keepdims=True)
        mean = ops.mean(luminance, axis=(1, 2, 3), keepdims=True)
        variance = ops.mean(ops.square(luminance - mean), axis=(1, 2, 3), keepdims=True)
        scale = ((self.spread**2 + self.softness**2) ** 0.5) * ops.rsqrt(
            variance + self.softness**2
        )
        normalised = ops.clip((images - mean) * scale + self.centre, 0.0, 255.0)
        if self.below is None:
            return normalised
        # + 1 keeps the gradient finite where the luminance is flat (a black image)
        std = ops.sqrt(variance + 1.0)
        share = ops.sigmoid((self.below - std) / self.gate_width)
        return images + share * (normalised - images)

    def get_config(self):
        return {
            **super().get_config(),
            "centre": self.centre,
            "spread": self.spread,
            "softness": self.softness,
            "below": self.below,
            "gate_width": self.gate_width,
        }


def model_input(
    input_size: int, contrast: ContrastNormalization | None
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The models' input, float pixels in [0, 255] of shape (input_size, input_size, 3), and
    what the first layer sees: the same, or what the `contrast` layer makes of it."""
    inputs = keras.Input((input_size, input_size, 3), name="image")
    return inputs, contrast(inputs) if contrast is not None else inputs


def conv_bn_relu(x, filters: int, stride: int, prefix: str, name: str | None = None):
    """3x3 convolution, batch norm, ReLU (named `name`)."""
    x = layers.Conv2D(
        filters, 3, strides=stride, padding="same", use_bias=False, name=f"{prefix}_conv"
    )(x)
    x = layers.BatchNormalization(name=f"{prefix}_bn")(x)
    return layers.ReLU(name=name)(x)


def residual_block(x, filters: int, stride: int, prefix: str, name: str | None = None):
    """Two 3x3 convolutions with a shortcut (1x1 projection when the shape changes)."""
    shortcut = x
    y = conv_bn_relu(x, filters, stride, f"{prefix}_1")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{prefix}_2_conv")(y)
    y = layers.BatchNormalization(name=f"{prefix}_{LAST_BN}")(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(
            filters, 1, strides=stride, use_bias=False, name=f"{prefix}_shortcut_conv"
        )(shortcut)
        shortcut = layers.BatchNormalization(name=f"{prefix}_shortcut_bn")(shortcut)
    return layers.ReLU(name=name)(layers.Add()([y, shortcut]))


def backbone(
    input_size: int,
    stem_width: int,
    widths: tuple[int, ...],
    blocks_per_stage: int,
    dropout: float,
    contrast: ContrastNormalization | None = None,
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """A compact ResNet: stride-2 stem, then one stride-2 stage per width, then pooling.

    Input: float pixels in [0, 255], shape (input_size, input_size, 3); the model rescales
    (after the `contrast` layer, if any). Returns (inputs, pooled features).
    """
    inputs, x = model_input(input_size, contrast)
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(x)
    x = conv_bn_relu(x, stem_width, 2, "stem")
    for stage, width in enumerate(widths):
        for block in range(blocks_per_stage):
            last = stage == len(widths) - 1 and block == blocks_per_stage - 1
            x = residual_block(
                x,
                width,
                2 if block == 0 else 1,
                f"stage{stage + 1}_block{block + 1}",
                name=LAST_CONV if last else None,
            )
    x = layers.GlobalAveragePooling2D()(x)
    return inputs, layers.Dropout(dropout)(x)
