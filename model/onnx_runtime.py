"""The shipped models through onnxruntime, from their ONNX export (``model.export``): what the
Predictor runs when the export is fresh. The same test-time views as
`model.networks.predict_outputs`, built in numpy: a small network answers several times faster
in onnxruntime than through a Keras call. The Keras models stay the reference, and what the
gradient maps need."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime

from model.config import EXPORT_DIR, EXPORT_MANIFEST, ModelFiles
from model.networks import TEST_VIEWS, View

TASKS = ("age", "gender")


def view_faces(images: np.ndarray, view: View) -> np.ndarray:
    """`model.networks.view_faces` in numpy, for float32 faces (B, S, S, 3): zoomed about the
    centre with bilinear sampling at half-pixel centres (what TensorFlow's resize does when it
    enlarges), shifted with mirrored borders, flipped."""
    size = images.shape[1]
    if view.zoom != 1.0:
        zoomed = round(size * view.zoom)
        positions = (np.arange(zoomed) + 0.5) * (size / zoomed) - 0.5
        positions = np.clip(positions, 0, size - 1)
        low = np.floor(positions).astype(int)
        high = np.minimum(low + 1, size - 1)
        weight = (positions - low).astype(np.float32)
        rows = (
            images[:, low] * (1 - weight)[:, None, None] + images[:, high] * weight[:, None, None]
        )
        images = rows[:, :, low] * (1 - weight)[:, None] + rows[:, :, high] * weight[:, None]
        offset = (zoomed - size) // 2
        images = images[:, offset : offset + size, offset : offset + size]
    if view.shift_x or view.shift_y:
        pad = max(abs(view.shift_x), abs(view.shift_y))
        padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="symmetric")
        top, left = pad - view.shift_y, pad - view.shift_x
        images = padded[:, top : top + size, left : left + size]
    return images[:, :, ::-1] if view.mirror else images


class ExportedModel:
    """One exported face model: faces (B, S, S, 3), RGB float32 in [0, 255] -> its output."""

    def __init__(self, path: str | Path):
        options = onnxruntime.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(path), options)
        self.size = int(self.session.get_inputs()[0].shape[1])

    def outputs(self, faces: np.ndarray, views: tuple[View, ...] = TEST_VIEWS) -> np.ndarray:
        """The output for uint8 faces (N, S, S, 3), averaged over `views`: float64 (N,)."""
        images = np.asarray(faces, np.float32)
        if not len(images):
            return np.zeros(0)
        seen = np.concatenate([view_faces(images, view) for view in views])
        (answer,) = self.session.run(["output"], {"faces": np.ascontiguousarray(seen)})
        return answer[:, 0].reshape(len(views), -1).mean(axis=0).astype(np.float64)


def exported_models(weights: str | Path, variant: str) -> dict[str, ExportedModel] | None:
    """The variant's exported age and gender models, or None where the weights folder has no
    export or it was made from other Keras files than the ones there now."""
    folder = Path(weights) / EXPORT_DIR
    manifest = folder / EXPORT_MANIFEST
    if not manifest.is_file():
        return None
    entries = json.loads(manifest.read_text())["variants"].get(variant, {}).get("models", {})
    for task in TASKS:
        source = ModelFiles(Path(weights) / variant, task).model
        entry = entries.get(task)
        if entry is None or not (folder / entry["file"]).is_file() or not source.is_file():
            return None
        if hashlib.sha256(source.read_bytes()).hexdigest() != entry["source_sha256"]:
            return None
    return {task: ExportedModel(folder / entries[task]["file"]) for task in TASKS}
