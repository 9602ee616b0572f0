"""The demo's example photos: small, credited, and the face detector finds every face."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faces import FaceDetector, load_image

EXAMPLES = Path(__file__).resolve().parent.parent / "webapp" / "examples"
PHOTOS = {"apollo11_crew_1969.jpg": 3, "eileen_collins.jpg": 1, "grace_hopper.jpg": 1}
"""The public-domain photographs and how many faces each shows."""


def test_every_example_is_credited_with_its_source_and_licence():
    credits = (EXAMPLES / "CREDITS.md").read_text()
    for path in EXAMPLES.iterdir():
        if path.suffix in (".jpg", ".png"):
            assert f"`{path.name}`" in credits, path.name
    for name in PHOTOS:
        row = next(line for line in credits.splitlines() if line.startswith(f"| `{name}`"))
        assert "Public domain" in row and "http" in row


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_photos_are_small_jpegs(name):
    path = EXAMPLES / name
    image = Image.open(path)
    assert image.format == "JPEG" and max(image.size) <= 800
    assert path.stat().st_size < 150_000


@pytest.fixture(scope="module")
def face_detector() -> FaceDetector:
    return FaceDetector()  # as the demo's predictor builds it


@pytest.mark.parametrize(("name", "faces"), sorted(PHOTOS.items()))
def test_the_detector_finds_every_face(face_detector, name, faces):
    found = face_detector.detect([np.asarray(load_image(EXAMPLES / name))])[0]
    assert len(found) == faces
    assert min(face.confidence for face in found) > 0.9
