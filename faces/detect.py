"""Find faces with MTCNN and cut the tight square face crop used by the ``cropped`` variant.

The crop is defined from a box by one function, `face_crop`: training data and inference both
call it with the chip template's face box on the aligned chip (`faces.align.chip_inputs`),
so the model always sees faces framed the same way.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from faces.images import resize_square

CROP_SCALE = 0.9
"""Side of the square crop relative to the geometric mean of the box's width and height:
slightly inside MTCNN's box, so forehead to chin with little hair or background."""

FALLBACK_BOX = (0.075, -0.115, 0.82, 1.075)
"""Where no face is found: the median MTCNN box on UTKFace chips, as fractions of the image
(x, y, width, height). The chips are aligned, so this is the face in almost all of them."""

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
"""MTCNN's keypoints, in the order `Face.landmarks` keeps them."""

RETRY_VIEWS = ((0.0, 1.0), (-20.0, 1.0), (20.0, 1.0), (0.0, 0.5), (-20.0, 0.5), (20.0, 0.5))
"""Where MTCNN finds nothing, it looks again at the photo with its contrast stretched, in
these views, one after the other until a face is found: (tilt in degrees, size relative to
the detection size). It misses faint faces (grayscale, faded), faces tilted by more than about
15 degrees, which scanned and hand-held photos often show, and faces under the grain, halftone
and hard shadows of scanned old prints, which it finds again in the picture at half the size:
on the scanned-print validation set the half-size views found 21 of the 51 faces that the
full-size ones missed (one of 5 babies), and 2 of the 16 in the wild set; at 0.97 (below) they
found no face in 120 faceless scenes and 180 noise images. Tilts of 30 degrees at half size
found 7 more prints and also a face in the noise."""
RETRY_MIN_CONFIDENCE = 0.97
"""A face found only in a retry view must score at least this: the views also make MTCNN see
faces in faceless texture, at 0.81-0.96 on 100 faceless scenes (none above), while 8 of the 18
wild-set faces it recovered on a sample of 600 photos scored 0.97 or more."""
GUESS_MIN_CONFIDENCE = 0.8
"""Where no view finds a face, `FaceDetector.detect_with_guesses` offers the most confident
face that the retry views rejected, if it scores at least this: a best guess for a model that
would otherwise judge the whole picture. On the scanned-print validation set 22 of the 30
prints without a face found have one (0.83-0.97), and 21 of those 22 boxes hold the face;
faceless scenes and noise score up to 0.89 and 0.94 in the retry views, so a guess may also
be no face at all."""

Picture = Image.Image | np.ndarray
"""An RGB image as the detector takes it: PIL, or uint8 (H, W, 3)."""

DETECT_MAX_SIDE = 640
"""Images are shrunk to this longer side before detection (speed); boxes are scaled back."""


@dataclass(frozen=True)
class Face:
    """A face box in pixels of the image it was found in: x, y (top left), width, height.

    ``confidence`` is MTCNN's score in [0, 1]; 0 marks the fallback box (no face found).
    ``landmarks``: MTCNN's five points (x, y) in the same pixels, in `LANDMARK_NAMES` order;
    None for the fallback box.
    """

    x: float
    y: float
    width: float
    height: float
    confidence: float
    landmarks: tuple[tuple[float, float], ...] | None = None

    @property
    def area(self) -> float:
        return self.width * self.height


def fallback_face(image_width: int, image_height: int) -> Face:
    """The fixed central box used when the detector finds no face."""
    x, y, w, h = FALLBACK_BOX
    return Face(x * image_width, y * image_height, w * image_width, h * image_height, 0.0)


def scaled_box(
    box: Sequence[float], factor: float, size: tuple[int, int] | None = None
) -> tuple[int, int, int, int]:
    """A box (x, y, width, height) in the pixels of the same picture `factor` times as large:
    its edges rounded to whole pixels and, given the picture's `size` (width, height), kept
    inside it. The one place where a box moves between sizes of a picture."""
    x, y, width, height = box
    left, top = round(x * factor), round(y * factor)
    right, bottom = round((x + width) * factor), round((y + height) * factor)
    if size is not None:
        left, top = max(0, left), max(0, top)
        right, bottom = min(size[0], right), min(size[1], bottom)
    return left, top, right - left, bottom - top


def crop_square(face: Face) -> tuple[int, int, int, int]:
    """The square (left, top, right, bottom) cut around a face box, in pixels.

    It may reach past the image border; `face_crop` fills that part with black.
    """
    side = CROP_SCALE * float(np.sqrt(face.width * face.height))
    center_x = face.x + face.width / 2
    center_y = face.y + face.height / 2
    left = round(center_x - side / 2)
    top = round(center_y - side / 2)
    side_px = max(1, round(side))
    return left, top, left + side_px, top + side_px


def face_crop(image: Image.Image, face: Face, size: int) -> np.ndarray:
    """The face's square crop resized to ``size x size``; uint8 (size, size, 3).

    Parts of the square outside the image are black.
    """
    return resize_square(image.crop(crop_square(face)), size)


class FaceDetector:
    """MTCNN (`faces.mtcnn_onnx`: the ``mtcnn`` package's networks and results, run by
    onnxruntime and numpy, four times faster) behind a lock, loaded on first use.

    max_side: images are shrunk so their longer side is at most this before detection.
    MTCNN's ``min_face_size`` must stay at its default of 20 (other values fail in mtcnn 1.0),
    so shrinking is also how very large photos are handled.
    """

    def __init__(self, max_side: int = DETECT_MAX_SIDE):
        self.max_side = max_side
        self._mtcnn = None
        self._lock = threading.Lock()

    def _model(self):
        if self._mtcnn is None:
            from faces.mtcnn_onnx import OnnxMTCNN

            self._mtcnn = OnnxMTCNN()
        return self._mtcnn

    def detect(self, images: Sequence[Picture]) -> list[list[Face]]:
        """Faces in each RGB image (PIL, or uint8 (H, W, 3)), largest first; one list per image.
        Where none is found, it looks again at the retry views (`RETRY_VIEWS`)."""
        return self.detect_with_guesses(images)[0]

    def detect_with_guesses(
        self, images: Sequence[Picture]
    ) -> tuple[list[list[Face]], list[Face | None]]:
        """`detect`'s faces, and for each image without one the best guess: the most confident
        face that a retry view rejected, if it scores at least `GUESS_MIN_CONFIDENCE` (else
        None, as for every image with faces)."""
        faces = self._detect_each(images)
        guesses: list[Face | None] = [None] * len(images)

        @functools.cache  # each tilt's view serves at both sizes
        def retry_view(index: int, tilt: float) -> tuple[np.ndarray, np.ndarray]:
            return _retry_view(images[index], tilt)

        for tilt, size in RETRY_VIEWS:
            missing = [index for index, found in enumerate(faces) if not found]
            views = [retry_view(index, tilt) for index in missing]
            found = self._detect_each([view for view, _ in views], size)
            for index, (_, to_image), image_faces in zip(missing, views, found, strict=True):
                mapped = [_mapped(face, to_image) for face in image_faces]
                faces[index] = [face for face in mapped if face.confidence >= RETRY_MIN_CONFIDENCE]
                candidates = [guesses[index]] if guesses[index] else []
                candidates += [face for face in mapped if face.confidence >= GUESS_MIN_CONFIDENCE]
                guesses[index] = max(candidates, key=lambda face: face.confidence, default=None)
        guesses = [None if found else guess for found, guess in zip(faces, guesses, strict=True)]
        return faces, guesses

    def detect_largest(self, images: Sequence[Picture]) -> list[Face | None]:
        """The largest face of each image, or None where there is none."""
        return [found[0] if found else None for found in self.detect(images)]

    def _detect_each(self, images: Sequence[Picture], size: float = 1.0) -> list[list[Face]]:
        """MTCNN's faces in each image shrunk to at most `max_side`, and then to `size` times
        that; in the image's pixels."""
        shrunk, scales = [], []
        for image in images:
            width, height = image.size if isinstance(image, Image.Image) else image.shape[1::-1]
            scale = min(1.0, self.max_side / max(width, height)) * size
            if scale < 1.0:
                small = _as_image(image)
                new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
                image = small.resize(new_size, Image.Resampling.BILINEAR)
            shrunk.append(np.asarray(image))
            scales.append(scale)
        with self._lock:
            results = [self._model().detect_faces(array) for array in shrunk]
        faces = []
        for found, scale in zip(results, scales, strict=True):
            image_faces = [
                Face(
                    *(float(v) / scale for v in item["box"]),
                    float(item["confidence"]),
                    tuple(
                        (
                            float(item["keypoints"][name][0]) / scale,
                            float(item["keypoints"][name][1]) / scale,
                        )
                        for name in LANDMARK_NAMES
                    ),
                )
                for item in found
            ]
            faces.append(sorted(image_faces, key=lambda face: face.area, reverse=True))
        return faces


def _as_image(image: Picture) -> Image.Image:
    return image if isinstance(image, Image.Image) else Image.fromarray(image)


def _retry_view(picture: Picture, tilt: float) -> tuple[np.ndarray, np.ndarray]:
    """The image with its contrast stretched and turned by `tilt` degrees (the whole of it
    kept), and the 2x3 matrix taking the view's pixels back to the image's."""
    image = ImageOps.autocontrast(_as_image(picture), cutoff=1)
    if tilt == 0:
        return np.asarray(image), np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    cos, sin = np.cos(np.radians(tilt)), np.sin(np.radians(tilt))
    width, height = image.size
    view_width = int(np.ceil(abs(width * cos) + abs(height * sin)))
    view_height = int(np.ceil(abs(width * sin) + abs(height * cos)))
    to_image = np.array(
        [
            [cos, sin, width / 2 - cos * view_width / 2 - sin * view_height / 2],
            [-sin, cos, height / 2 + sin * view_width / 2 - cos * view_height / 2],
        ]
    )
    view = image.transform(
        (view_width, view_height),
        Image.Transform.AFFINE,
        tuple(to_image.ravel()),
        Image.Resampling.BILINEAR,
    )
    return np.asarray(view), to_image


def _mapped(face: Face, to_image: np.ndarray) -> Face:
    """A face found in a retry view, in the image's pixels: its landmarks exactly, its box as
    the upright box around the turned one."""
    corners = np.array(
        [[face.x, face.y], [face.x + face.width, face.y], [face.x, face.y + face.height],
         [face.x + face.width, face.y + face.height]]
    )  # fmt: skip
    corners = corners @ to_image[:, :2].T + to_image[:, 2]
    (left, top), (right, bottom) = corners.min(axis=0), corners.max(axis=0)
    landmarks = None
    if face.landmarks is not None:
        points = np.asarray(face.landmarks) @ to_image[:, :2].T + to_image[:, 2]
        landmarks = tuple((float(x), float(y)) for x, y in points)
    box = (float(left), float(top), float(right - left), float(bottom - top))
    return Face(*box, face.confidence, landmarks)
