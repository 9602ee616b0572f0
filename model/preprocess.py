"""Turn decoded photos into model inputs exactly as data_prep turned the training chips."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from data_prep.faces import Face, FaceDetector, face_crop, fallback_face
from data_prep.images import resize_square


def full_inputs(images: Sequence[Image.Image], size: int) -> np.ndarray:
    """Whole images resized to ``size x size``: uint8 (N, size, size, 3)."""
    return np.stack([resize_square(image, size) for image in images])


def largest_face_inputs(
    images: Sequence[Image.Image], size: int, detector: FaceDetector
) -> tuple[np.ndarray, list[Face]]:
    """The largest face of each image, cropped as in training: uint8 (N, size, size, 3).

    Where no face is found the fixed central crop is used (as data_prep does for chips);
    those faces have confidence 0.
    """
    found = detector.detect_largest([np.asarray(image) for image in images])
    faces = [
        face or fallback_face(image.width, image.height)
        for image, face in zip(images, found, strict=True)
    ]
    crops = [face_crop(image, face, size) for image, face in zip(images, faces, strict=True)]
    return np.stack(crops), faces
