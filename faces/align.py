"""One face geometry for training and inference: the UTKFace chip template.

UTKFace's chips are faces already aligned by their authors: eyes level, centred, one scale,
200x200 pixels. `measure_template` measures that framing on the training chips (the typical
position of MTCNN's five landmarks, and the typical face box) and `align_face` warps any face
of any photo into a chip of the same framing, with a similarity transform (rotation, uniform
scale, shift) fitted by least squares on the five points. Both variants are then cut from
the aligned chip by `chip_inputs`: ``full`` is the whole chip, ``cropped`` the tight face crop
at the template's face box, for training data and user photos alike.

    template = ChipTemplate.load(path)
    chip = align_face(photo, face, template)            # RGB 200x200, eyes where chips have them
    inputs = chip_inputs(chip, template, 64)            # {"full": (64, 64, 3), "cropped": ...}
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.transform import SimilarityTransform

from faces.detect import LANDMARK_NAMES, Face, crop_square, face_crop
from faces.images import resize_square

CHIP_SIZE = 200
"""Side of a UTKFace chip in pixels: aligned faces are warped to this size, then resized."""
TEMPLATE = "chip_template.json"
"""File name of the template, next to data_prep's report and beside the shipped weights."""
OUTSIDE_FILL = (0, 0, 0)
"""Colour of the chip where it reaches past the photo: UTKFace's chips are black there."""
MAX_SHRINK_BEFORE_WARP = 1.25
"""A face this much larger than a chip's is first shrunk with an anti-aliasing filter: the
affine warp samples without one, and would alias a large face. (One full bilinear resize, with
no `reducing_gap` shortcut: the browser edition repeats it exactly.)"""


@dataclass(frozen=True)
class ChipTemplate:
    """Where faces sit in a chip: the five landmarks (x, y) in `LANDMARK_NAMES` order and the
    face box (x, y, width, height), all in pixels of a ``size x size`` chip."""

    landmarks: tuple[tuple[float, float], ...]
    face_box: tuple[float, float, float, float]
    size: int = CHIP_SIZE
    chips: int = 0
    """How many chips it was measured on."""

    @property
    def points(self) -> np.ndarray:
        """float64 (5, 2)."""
        return np.asarray(self.landmarks, np.float64)

    def to_dict(self) -> dict:
        """JSON-ready: lists, not tuples; the landmarks named."""
        return json.loads(json.dumps({"landmark_names": LANDMARK_NAMES, **asdict(self)}))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> ChipTemplate:
        content = json.loads(Path(path).read_text())
        return cls(
            landmarks=tuple(tuple(point) for point in content["landmarks"]),
            face_box=tuple(content["face_box"]),
            size=content["size"],
            chips=content["chips"],
        )


def measure_template(faces: Sequence[Face | None], image_sizes: Sequence[int]) -> ChipTemplate:
    """The template from the detections on chips: each chip's landmarks and box scaled to
    `CHIP_SIZE`, then the mean landmark positions and the median face box (chips without a
    detection are skipped). `image_sizes`: each chip's side in pixels."""
    points, boxes = [], []
    for face, side in zip(faces, image_sizes, strict=True):
        if face is None or face.landmarks is None:
            continue
        scale = CHIP_SIZE / side
        points.append(np.asarray(face.landmarks) * scale)
        boxes.append(np.array([face.x, face.y, face.width, face.height]) * scale)
    if not points:
        raise ValueError("no chip with landmarks: cannot measure the chip template")
    mean_points = np.mean(points, axis=0)
    box = np.median(boxes, axis=0)
    return ChipTemplate(
        landmarks=tuple((round(float(x), 2), round(float(y), 2)) for x, y in mean_points),
        face_box=tuple(round(float(v), 2) for v in box),
        chips=len(points),
    )


def chip_transform(landmarks: np.ndarray, template: ChipTemplate) -> SimilarityTransform:
    """The least-squares similarity transform taking a face's landmarks (5, 2) in photo
    pixels onto the template's, in chip pixels."""
    source = np.asarray(landmarks, np.float64)
    transform = SimilarityTransform.from_estimate(source, template.points)
    if not transform:
        raise ValueError(f"cannot fit a similarity transform to the landmarks {landmarks}")
    return transform


def align_face(image: Image.Image, face: Face, template: ChipTemplate) -> Image.Image:
    """The face warped into a chip of the template's framing: RGB ``size x size``, black
    where the chip reaches past the photo. A face without landmarks (no detection) is
    returned as the whole image resized, as a chip is its own aligned face."""
    size = template.size
    if face.landmarks is None:
        return image.resize((size, size), Image.Resampling.BILINEAR)
    landmarks = np.asarray(face.landmarks, np.float64)
    transform = chip_transform(landmarks, template)
    if 1 / transform.scale > MAX_SHRINK_BEFORE_WARP:
        image, landmarks = _shrink_around(image, landmarks, transform)
        transform = chip_transform(landmarks, template)
    inverse = np.linalg.inv(transform.params)  # chip pixel -> photo pixel, as PIL wants it
    return image.transform(
        (size, size),
        Image.Transform.AFFINE,
        data=tuple(inverse[:2].ravel()),
        resample=Image.Resampling.BILINEAR,
        fillcolor=OUTSIDE_FILL,
    )


def input_span(face: Face, template: ChipTemplate, variant: str) -> float:
    """How many of the photo's pixels the `variant`'s model input spans across (how much
    detail it can show): for ``full`` the whole chip, for ``cropped`` the crop; inf for a face
    without landmarks (the whole picture)."""
    if face.landmarks is None:
        return math.inf
    photo_pixels = 1 / float(chip_transform(np.asarray(face.landmarks), template).scale)
    if variant == "full":
        return template.size * photo_pixels
    left, _, right, _ = crop_square(Face(*template.face_box, confidence=1.0))
    return (right - left) * photo_pixels


def _shrink_around(
    image: Image.Image, landmarks: np.ndarray, transform: SimilarityTransform
) -> tuple[Image.Image, np.ndarray]:
    """The part of `image` the chip covers, shrunk (anti-aliased) to the chip's scale, and
    the landmarks in its pixels."""
    corners = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float64) * CHIP_SIZE
    covered = transform.inverse(corners)
    left, top = np.maximum(np.floor(covered.min(axis=0)) - 2, 0).astype(int)
    right = int(min(np.ceil(covered[:, 0].max()) + 2, image.width))
    bottom = int(min(np.ceil(covered[:, 1].max()) + 2, image.height))
    if right <= left or bottom <= top:  # the chip lies wholly outside the photo
        return image, landmarks
    scale = transform.scale
    region = image.crop((left, top, right, bottom))
    new_size = (max(1, round(region.width * scale)), max(1, round(region.height * scale)))
    shrunk = region.resize(new_size, Image.Resampling.BILINEAR)
    factors = np.array([new_size[0] / region.width, new_size[1] / region.height])
    return shrunk, (landmarks - [left, top]) * factors


def chip_inputs(chip: Image.Image, template: ChipTemplate, size: int) -> dict[str, np.ndarray]:
    """Both variants' model inputs from an aligned chip, uint8 (size, size, 3) each: ``full``
    the whole chip, ``cropped`` the tight square crop at the template's face box."""
    return {
        "full": resize_square(chip, size),
        "cropped": face_crop(chip, Face(*template.face_box, confidence=1.0), size),
    }
