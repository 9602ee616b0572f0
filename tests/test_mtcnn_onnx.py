"""`OnnxMTCNN` finds what the ``mtcnn`` package finds, and runs without TensorFlow."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faces.mtcnn_onnx import OnnxMTCNN
from testkit.hostile import face_photo
from testkit.synthetic import noise_image

EXAMPLES = Path(__file__).resolve().parent.parent / "webapp" / "examples"
PHOTOS = sorted(path.name for path in EXAMPLES.iterdir() if path.suffix in (".jpg", ".png"))
"""The demo's example photos, RGB."""
DRAWN = {"640x480": (640, 480, 0), "333x517": (333, 517, 1), "200x150": (200, 150, 2)}
"""Drawn-face photos: (width, height, seed)."""
FACELESS = ("noise", "tiny")
"""Photos without a face: noise, and one too small for the image pyramid (16x16)."""


def photo(name: str) -> np.ndarray:
    if name in DRAWN:
        return np.asarray(face_photo(*DRAWN[name]))
    if name == "noise":
        return np.asarray(noise_image(300, seed=0))
    if name == "tiny":
        return np.asarray(face_photo(16, 16))
    return np.asarray(Image.open(EXAMPLES / name).convert("RGB"))


@pytest.fixture(scope="module")
def package():
    from mtcnn import MTCNN

    return MTCNN()


@pytest.fixture(scope="module")
def onnx_mtcnn() -> OnnxMTCNN:
    return OnnxMTCNN()


@pytest.mark.parametrize("name", [*PHOTOS, *DRAWN, *FACELESS])
def test_it_finds_the_faces_the_package_finds(name, package, onnx_mtcnn):
    image = photo(name)
    expected = package.detect_faces([image], fit_to_image=False)[0]
    found = onnx_mtcnn.detect_faces(image)
    assert len(found) == len(expected)
    assert bool(found) == (name not in FACELESS)
    for face, reference in zip(found, expected, strict=True):
        assert list(face) == list(reference)
        assert np.abs(np.subtract(face["box"], reference["box"])).max() <= 1
        assert list(face["keypoints"]) == list(reference["keypoints"])
        points = np.array(list(face["keypoints"].values()))
        reference_points = np.array(list(reference["keypoints"].values()))
        assert np.abs(points - reference_points).max() <= 1
        assert face["confidence"] == pytest.approx(reference["confidence"], abs=1e-3)


def test_it_detects_without_tensorflow():
    script = (
        "import sys, numpy as np\n"
        "from faces.mtcnn_onnx import OnnxMTCNN\n"
        "from testkit.hostile import face_photo\n"
        "faces = OnnxMTCNN().detect_faces(np.asarray(face_photo()))\n"
        "assert len(faces) == 1, faces\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", script], cwd=root, check=True, timeout=120)
