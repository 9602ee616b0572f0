"""Export the shipped models as ONNX files with one manifest: what the browser edition runs.

    python -m model.export [--out DIR] [--weights DIR]
    python -m model.export --compare data/aligned      # the exported files against Keras, on val

For each variant it writes ``<variant>_age.onnx`` and ``<variant>_gender.onnx``: faces (B, S,
S, 3), RGB float32 in [0, 255], to ``output`` (B, 1) and ``cam`` (B, S, S), the closed-form CAM
of `model.explain.cam_model`. Their weights are stored as float16 and widened to float32 when
the file loads (`float16_weights`), which halves the download and changes no prediction that
matters (``--compare``; docs/browser.md gives the figures). MTCNN's three networks
are the `faces` floor's (`faces.mtcnn_onnx`, float32: detection decides every box); the manifest
names them, and the static build copies them beside these files. ``manifest.json`` holds what a
runtime needs besides the networks: the chip template and crop, the test-time views, the age
margins, the age groups, the methods' sanity verdicts, a summary of the shipped metrics, and
the SHA-256 of each Keras file an export came from (tests/test_export.py fails when a shipped
model changed and its export was not refreshed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from data_prep.dataset import VARIANTS
from faces.align import MAX_SHRINK_BEFORE_WARP, TEMPLATE, ChipTemplate
from faces.detect import (
    CROP_SCALE,
    DETECT_MAX_SIDE,
    GUESS_MIN_CONFIDENCE,
    LANDMARK_NAMES,
    RETRY_MIN_CONFIDENCE,
    RETRY_VIEWS,
)
from faces.mtcnn_onnx import NETWORK_INPUTS, NETWORKS_DIR, network_file
from model import sanity, shipped
from model.config import EXPORT_DIR, EXPORT_MANIFEST, VARIANT_NAMES, WEIGHTS_DIR, ModelFiles
from model.explain import DESCRIPTIONS, OCCLUSION_GREY, OCCLUSION_PATCH, signed_map
from model.networks import MIRRORED, TEST_VIEWS, View

TASKS = ("age", "gender")
FLOAT16_MIN_SIZE = 1024
"""Weight tensors of at least this many values are stored as float16; smaller ones (biases,
batch-norm folds) stay float32: they weigh nothing and keep the graph's arithmetic exact."""
BROWSER_METHODS = ("cam", "occlusion")
"""The maps the browser draws: neither needs a gradient at run time."""


def model_file(variant: str, task: str) -> str:
    return f"{variant}_{task}.onnx"


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def float16_weights(model):
    """The ONNX model with each float32 weight tensor of at least `FLOAT16_MIN_SIZE` values
    stored as float16 and cast back to float32 by a Cast node (which runtimes fold when the
    model loads): half the bytes, the same float32 arithmetic."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    casts, kept = [], []
    for tensor in graph.initializer:
        values = numpy_helper.to_array(tensor)
        if tensor.data_type != TensorProto.FLOAT or values.size < FLOAT16_MIN_SIZE:
            kept.append(tensor)
            continue
        narrow = f"{tensor.name}/float16"
        kept.append(numpy_helper.from_array(values.astype(np.float16), narrow))
        casts.append(helper.make_node("Cast", [narrow], [tensor.name], to=TensorProto.FLOAT))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model


def _export_keras(model, path: Path, input_shape: tuple, name: str) -> None:
    """A Keras model to an ONNX file with one float32 input called `name`."""
    import keras
    import onnx
    import tensorflow as tf

    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Normalization):
            # Keras keeps a given mean and variance as tensors, which the converter would
            # turn into graph inputs; as variables they are frozen into the graph.
            for statistic in ("mean", "variance"):
                values = tf.Variable(np.asarray(getattr(layer, statistic)), trainable=False)
                object.__setattr__(layer, statistic, values)
    model(np.zeros((1, *(side or 32 for side in input_shape), 3), np.float32))
    spec = tf.TensorSpec([None, *input_shape, 3], tf.float32, name=name)
    model.export(str(path), format="onnx", input_signature=[spec], verbose=False)
    inputs = [graph_input.name for graph_input in onnx.load(path).graph.input]
    if inputs != [name]:
        raise ValueError(f"the export of {model.name} takes {inputs}, not only {name!r}")


def export_face_model(variant_dir: Path, task: str, path: Path) -> dict:
    """One shipped model with its CAM output, float16 weights; its manifest entry."""
    import onnx

    from model.explain import cam_model
    from model.networks import load_for_inference

    model = load_for_inference(variant_dir, task)
    size = int(model.input_shape[1])
    with tempfile.TemporaryDirectory() as folder:
        full = Path(folder) / "model.onnx"
        _export_keras(cam_model(model, task), full, (size, size), "faces")
        onnx.save(float16_weights(onnx.load(full)), path)
    source = ModelFiles(variant_dir, task).model
    return {
        "file": path.name,
        "input": "faces",
        "size": size,
        "outputs": {"output": "(B, 1)", "cam": f"(B, {size}, {size}) in [0, 1]"},
        "weights": "float16",
        "bytes": path.stat().st_size,
        "source": f"{variant_dir.name}/{source.name}",
        "source_sha256": sha256(source),
    }


def detector_entry() -> dict:
    """The manifest's entry for MTCNN, whose ONNX files the `faces` floor ships (`faces.mtcnn_onnx
    .NETWORKS_DIR`; the static build copies them beside the face models)."""
    from importlib.metadata import version

    networks = {
        network: {
            "file": network_file(network),
            "input": "images",
            "bytes": (NETWORKS_DIR / network_file(network)).stat().st_size,
        }
        for network in NETWORK_INPUTS
    }
    return {
        "package": f"mtcnn {version('mtcnn')} (MIT licence; the networks of Zhang et al., 2016)",
        "networks": networks,
        "max_side": DETECT_MAX_SIDE,
        "landmarks": list(LANDMARK_NAMES),
        "retry_views": [{"tilt": tilt, "size": size} for tilt, size in RETRY_VIEWS],
        "retry_min_confidence": RETRY_MIN_CONFIDENCE,
        "guess_min_confidence": GUESS_MIN_CONFIDENCE,
    }


def _methods(variant: str, weights: Path) -> dict:
    """The browser's maps with their names, how to read them, and their sanity verdicts."""
    report = sanity.load(variant, weights)
    methods = {}
    for method in BROWSER_METHODS:
        verdict = sanity.verdict(report, method)
        methods[method] = {
            "label": verdict.label,
            "description": DESCRIPTIONS[method],
            "passes": verdict.passes,
            "verdict": verdict.words(f"the {VARIANT_NAMES[variant]} models"),
        }
    return methods


def _metrics_summary(variant: str, weights: Path) -> dict:
    """What the page's "how it works" panel says of a variant, from its test metrics: age MAE
    and gender accuracy overall, and with the mean age error, per young band and per decade."""
    metrics = shipped.metrics(variant, weights)

    def figures(group: dict) -> dict:
        return {
            "n": group["n"],
            "age_mae": round(group["age"]["mae"], 2),
            "age_mean_error": round(group["age"]["mean_error"], 2),
            "gender_accuracy": round(group["gender"]["accuracy"], 4),
        }

    return {
        **figures(metrics),
        "by_young_age": {band: figures(g) for band, g in metrics["by_young_age"].items()},
        "by_age_bucket": {band: figures(g) for band, g in metrics["by_age_bucket"].items()},
    }


def _words(heat) -> dict:
    """What a signed map's values mean, as the server's colour bars say it."""
    return {"units": heat.units, "meaning": heat.meaning, "ends": list(heat.ends)}


def manifest(weights: Path, models: dict, detector: dict) -> dict:
    from model.predictor import (
        ADIENCE_GROUPS,
        ADIENCE_RANGES,
        BEST_GUESS_MESSAGE,
        MAX_SIDE,
        NO_FACE_MESSAGE,
        WHOLE_PICTURE_MESSAGE,
    )

    return {
        "about": "age-gender-explained: the shipped models for an ONNX runtime (model.export)",
        "pixels": "RGB float32 in [0, 255], (B, S, S, 3); the networks rescale themselves",
        "max_side": MAX_SIDE,
        "chip_template": ChipTemplate.load(weights / TEMPLATE).to_dict(),
        "crop_scale": CROP_SCALE,
        "max_shrink_before_warp": MAX_SHRINK_BEFORE_WARP,
        "views": [view._asdict() for view in TEST_VIEWS],
        "occlusion": {
            "patch": OCCLUSION_PATCH,
            "grey": OCCLUSION_GREY,
            "views": [view._asdict() for view in MIRRORED],
        },
        "signed_words": {
            task: {"occlusion": _words(signed_map(np.zeros(1), task, "occlusion"))}
            for task in TASKS
        },
        "age_groups": [
            {"name": name, "low": low, "high": high}
            for name, (low, high) in zip(ADIENCE_GROUPS, ADIENCE_RANGES, strict=True)
        ],
        "no_face_message": NO_FACE_MESSAGE,
        "best_guess_message": BEST_GUESS_MESSAGE,
        "whole_picture_message": WHOLE_PICTURE_MESSAGE,
        "variants": {
            variant: {
                "models": models[variant],
                "calibration": asdict(shipped.calibration(variant, weights)),
                "methods": _methods(variant, weights),
                "metrics": _metrics_summary(variant, weights),
            }
            for variant in VARIANTS
        },
        "detector": detector,
    }


def export(out: Path, weights: Path = WEIGHTS_DIR) -> dict:
    """Write every ONNX file and the manifest into `out`; returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    models = {
        variant: {
            task: export_face_model(weights / variant, task, out / model_file(variant, task))
            for task in TASKS
        }
        for variant in VARIANTS
    }
    content = manifest(weights, models, detector_entry())
    (out / EXPORT_MANIFEST).write_text(json.dumps(content, indent=2) + "\n")
    return content


def stale_exports(out: Path = WEIGHTS_DIR / EXPORT_DIR, weights: Path = WEIGHTS_DIR) -> list[str]:
    """The shipped Keras models whose export in `out` came from another file (or is missing),
    and the calibrations that the manifest has otherwise than the weights folder."""
    content = json.loads((out / EXPORT_MANIFEST).read_text())
    stale = []
    for variant in VARIANTS:
        exported = content["variants"][variant]
        for task in TASKS:
            entry = exported["models"][task]
            current = sha256(ModelFiles(weights / variant, task).model)
            if entry["source_sha256"] != current or not (out / entry["file"]).is_file():
                stale.append(f"{variant}/{task}")
        if exported["calibration"] != asdict(shipped.calibration(variant, weights)):
            stale.append(f"{variant}/calibration")
    return stale


def onnx_outputs(session, faces: np.ndarray, views: tuple[View, ...] = TEST_VIEWS) -> np.ndarray:
    """An exported face model's output for uint8 faces (N, S, S, 3), averaged over `views` as
    `model.networks.predict_outputs` averages them: float64 (N,)."""
    import tensorflow as tf

    from model.networks import view_faces

    images = tf.constant(np.asarray(faces, np.float32))
    outputs = [
        session.run(["output"], {"faces": view_faces(images, view).numpy()})[0][:, 0]
        for view in views
    ]
    return np.mean(outputs, axis=0).astype(np.float64)


def compare(out: Path, data: str | Path, weights: Path = WEIGHTS_DIR, split: str = "val") -> dict:
    """The exported models against the shipped Keras models on a prepared split: age MAE and
    gender accuracy of each, and the largest difference of any one prediction."""
    import onnxruntime

    from data_prep import load_split
    from model.networks import load_for_inference, predict_outputs

    figures = {}
    for variant in VARIANTS:
        faces = load_split(data, variant, split)
        known = faces.ages >= 0
        for task in TASKS:
            keras_model = load_for_inference(weights / variant, task)
            session = onnxruntime.InferenceSession(out / model_file(variant, task))
            ours = [
                np.concatenate([run(faces.images[i : i + 512]) for i in range(0, len(known), 512)])
                for run in (
                    lambda batch, m=keras_model: predict_outputs(m, batch),
                    lambda batch, s=session: onnx_outputs(s, batch),
                )
            ]
            if task == "age":
                score = [float(np.mean(np.abs(o[known] - faces.ages[known]))) for o in ours]
                name = "age_mae"
            else:
                labels = faces.genders == 1
                score = [float(np.mean((o >= 0.5) == labels)) for o in ours]
                name = "gender_accuracy"
            figures[f"{variant}/{task}"] = {
                f"keras_{name}": round(score[0], 4),
                f"onnx_{name}": round(score[1], 4),
                "largest_difference": round(float(np.abs(ours[0] - ours[1]).max()), 5),
                "faces": int(len(ours[0])),
            }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.export", description=__doc__)
    parser.add_argument("--out", default=str(WEIGHTS_DIR / EXPORT_DIR), help="folder to write")
    parser.add_argument("--weights", default=str(WEIGHTS_DIR), help="shipped weights folder")
    parser.add_argument(
        "--compare", metavar="DATA", help="prepared data folder: compare the existing export "
        "with the Keras models on its validation split instead of exporting"
    )  # fmt: skip
    args = parser.parse_args(argv)
    out, weights = Path(args.out), Path(args.weights)
    if args.compare:
        print(json.dumps(compare(out, args.compare, weights), indent=2))
        return 0
    content = export(out, weights)
    files = [*(m for v in content["variants"].values() for m in v["models"].values()),
             *content["detector"]["networks"].values()]  # fmt: skip
    for entry in files:
        print(f"{entry['file']:24} {entry['bytes'] / 1e6:6.2f} MB")
    total = sum(entry["bytes"] for entry in files) / 1e6
    print(f"{'in all':24} {total:6.2f} MB -> {out} (MTCNN's three from {NETWORKS_DIR})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
