"""One predictor per variant: a photo in, faces with age, margin, gender and probability out.

    predictor = Predictor("cropped")
    result = predictor.predict("photo.jpg")      # path, bytes, PIL image or array
    for face in result.faces:
        print(face.age, face.interval_80, face.gender, face.gender_probability)

Both variants find every face with MTCNN (largest first, up to `max_faces`), align each to
the UTKFace chip geometry on its five landmarks (`faces.align`) and predict it: ``full``
on the whole aligned chip, ``cropped`` on its tight face crop, exactly as the training chips
were framed. Only when no face is found does ``full`` predict on its best guess at one (the
most face-like region the detector rejected, `faces.detect.GUESS_MIN_CONFIDENCE`) or, without
one, on the whole picture, and says so; ``cropped`` then has nothing to predict.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from data_prep.dataset import VARIANTS
from data_prep.split import AGE_BUCKET_LABELS, age_bucket
from faces.align import TEMPLATE, ChipTemplate, align_face, chip_inputs, input_span
from faces.detect import Face, FaceDetector, scaled_box
from faces.images import SOURCE_SIZE, ImageInput, load_image, resize_square
from model import sanity
from model.calibration import AgeCalibration
from model.config import CALIBRATION_FILE, VARIANT_NAMES, WEIGHTS_DIR
from model.explain import METHODS, AttributionMap, Explainer
from model.networks import load_for_inference, predict_outputs
from model.onnx_runtime import exported_models
from model.render import presentation_figure

__all__ = [
    "AGE_BUCKET_LABELS",
    "FacePrediction",
    "PredictionResult",
    "Predictor",
    "adience_group",
    "age_bucket",
    "shared_predictor",
]
"""The front ends take the model's side from here (data flows data_prep -> model -> webapp):
`age_bucket` and `AGE_BUCKET_LABELS` are the ten-year buckets of the evaluation and the
average maps. A bad photo raises `faces.ImageError`."""

TASK_NAMES = ("age", "gender")
RUNTIMES = ("auto", "onnx", "keras")
"""How the Predictor runs the two models: "onnx" through onnxruntime from the export in the
weights folder (`model.onnx_runtime`), "keras" through Keras, "auto" onnx where the export is
there and made from the Keras files beside it, else keras."""

MAX_SIDE = 1600
"""Photos are shrunk to this longer side on decoding (faces stay large enough to crop well)."""

ADIENCE_GROUPS = ("0-2", "4-6", "8-12", "15-20", "25-32", "38-43", "48-53", "60+")
ADIENCE_RANGES = ((0, 2), (4, 6), (8, 12), (15, 20), (25, 32), (38, 43), (48, 53), (60, 200))
NO_FACE_MESSAGE = (
    "No face was found in this photo. Try a clearer, front-facing photo, or switch to the "
    "full-image model, which then judges the most face-like part of the photo, or the whole of it."
)
BEST_GUESS_MESSAGE = (
    "No clear face was found in this photo, so the full-image model judged the most face-like "
    "part of it (boxed): expect a rough answer, and check that the box holds a face. A clearer, "
    "front-facing photo works better."
)
WHOLE_PICTURE_MESSAGE = (
    "No face was found in this photo, so the full-image model judged the whole picture as if "
    "it were one face: expect a rough answer. A clearer, front-facing photo works better."
)

FRAMING_FACE, FRAMING_GUESS, FRAMING_WHOLE = "aligned face", "best guess", "whole picture"
"""What a face's model input shows: a face found, aligned; where none was found (full-image
model only), the best guess at a face, aligned, or else the whole picture."""


def adience_group(age: float) -> str:
    """The Adience age group (0-2, 4-6, 8-12, 15-20, 25-32, 38-43, 48-53, 60+) nearest `age`."""
    distances = [max(low - age, 0, age - high) for low, high in ADIENCE_RANGES]
    return ADIENCE_GROUPS[int(np.argmin(distances))]


@dataclass
class FacePrediction:
    """One face. ``box``: x, y, width, height in pixels of the photo as the user sees it
    (EXIF rotation applied); ages in years; ``detection_confidence``: MTCNN's, None for the
    whole picture; ``framing``: `FRAMING_FACE`, `FRAMING_GUESS` or `FRAMING_WHOLE`; ``face``:
    the uint8 (S, S, 3) model input; ``input_span``: how many of the photo's pixels it spans
    across (inf for the whole picture): a small face gets wider margins."""

    box: tuple[int, int, int, int]
    age: float
    interval_80: tuple[float, float]
    interval_90: tuple[float, float]
    age_group: str
    probability_female: float
    detection_confidence: float | None
    variant: str
    framing: str
    face: np.ndarray = field(repr=False)
    input_span: float = math.inf

    @property
    def gender(self) -> str:
        return "female" if self.probability_female >= 0.5 else "male"

    @property
    def gender_probability(self) -> float:
        """Probability of the predicted gender (0.5 to 1)."""
        return max(self.probability_female, 1 - self.probability_female)

    def label(self) -> str:
        """Short caption, e.g. ``34 (28-41) · female 93%`` (80% interval)."""
        low, high = self.interval_80
        return (
            f"{self.age:.0f} ({low:.0f}-{high:.0f}) · {self.gender} {self.gender_probability:.0%}"
        )

    def to_dict(self) -> dict:
        """JSON-ready summary (no image)."""
        return {
            "box": list(self.box),
            "age": round(self.age, 1),
            "age_interval_80": [round(v, 1) for v in self.interval_80],
            "age_interval_90": [round(v, 1) for v in self.interval_90],
            "age_group": self.age_group,
            "gender": self.gender,
            "gender_probability": round(self.gender_probability, 4),
            "probability_female": round(self.probability_female, 4),
            "detection_confidence": self.detection_confidence,
            "framing": self.framing,
        }


@dataclass
class PredictionResult:
    """All faces of one photo (largest first); ``message`` says why there are none.
    ``image_size``: the photo's upright size in pixels; ``photo``: the decoded upright photo,
    shrunk to at most `MAX_SIDE` pixels (`boxes_in` gives the boxes in its pixels)."""

    variant: str
    image_size: tuple[int, int]
    faces: list[FacePrediction]
    message: str | None = None
    photo: Image.Image | None = field(default=None, repr=False)

    def boxes_in(self, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
        """The faces' boxes in the pixels of this photo shown at `size` (width, height)."""
        factor = size[0] / self.image_size[0]
        return [scaled_box(face.box, factor, size) for face in self.faces]

    def to_dict(self) -> dict:
        return {
            "variant": self.variant,
            "image_size": list(self.image_size),
            "faces": [face.to_dict() for face in self.faces],
            "message": self.message,
        }


class Predictor:
    """Loads a variant's age and gender models and calibration once; safe to share between
    threads. `max_faces` bounds the work per photo. The chip template comes with the weights
    (``chip_template.json``, written by data_prep and copied by training)."""

    def __init__(
        self,
        variant: str,
        weights: str | Path = WEIGHTS_DIR,
        max_faces: int = 8,
        detector: FaceDetector | None = None,
        runtime: str = "auto",
    ):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        variant_dir = Path(weights) / variant
        self.variant, self.weights = variant, Path(weights)
        self.exported = None if runtime == "keras" else exported_models(weights, variant)
        if runtime == "onnx" and self.exported is None:
            raise ValueError(f"{weights} has no fresh ONNX export: run python -m model.export")
        self._keras: dict[str, object] = {}
        self._keras_lock = threading.Lock()
        self.calibration = AgeCalibration.load(variant_dir / CALIBRATION_FILE)
        self.template = ChipTemplate.load(Path(weights) / TEMPLATE)
        self.size = (
            self.exported["age"].size if self.exported else int(self.age_model.input_shape[1])
        )
        self.max_faces = max_faces
        self.detector = detector or FaceDetector()
        self._lock = threading.Lock()
        self._explainers: dict[str, Explainer] = {}
        self.predict_faces(np.zeros((1, self.size, self.size, 3), np.uint8))
        self.detector.detect([np.zeros((64, 64, 3), np.uint8)])

    @property
    def age_model(self):
        """The Keras age model (loaded on first use: the gradient maps need it)."""
        return self._keras_model("age")

    @property
    def gender_model(self):
        return self._keras_model("gender")

    def _keras_model(self, task: str):
        with self._keras_lock:
            if task not in self._keras:
                self._keras[task] = load_for_inference(self.weights / self.variant, task)
            return self._keras[task]

    def predict_faces(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shown ages (N,), probabilities of female (N,)) for uint8 faces (N, S, S, 3):
        through onnxruntime where the weights folder has a fresh export, else through Keras."""
        if self.exported:
            answers, female = (self.exported[task].outputs(faces) for task in TASK_NAMES)
        else:
            with self._lock:
                answers = predict_outputs(self.age_model, faces)
                female = predict_outputs(self.gender_model, faces)
        return self.calibration.age(answers), female

    def face_input(self, image: Image.Image, face: Face) -> np.ndarray:
        """The model input of one face of a photo: aligned to the chip template, then framed
        for this variant. uint8 (S, S, 3)."""
        chip = align_face(image, face, self.template)
        return chip_inputs(chip, self.template, self.size)[self.variant]

    def predict(self, source: ImageInput) -> PredictionResult:
        """Predict every face in a photo. Raises `ImageError` for a bad image."""
        image = load_image(source, max_side=MAX_SIDE)
        photo_size = image.info[SOURCE_SIZE]
        scale = photo_size[0] / image.width
        found, guesses = self.detector.detect_with_guesses([image])
        boxes, framing, message = found[0][: self.max_faces], FRAMING_FACE, None
        if not boxes and self.variant == "cropped":
            return PredictionResult(self.variant, photo_size, [], NO_FACE_MESSAGE, image)
        if not boxes and guesses[0] is not None:
            boxes, framing, message = [guesses[0]], FRAMING_GUESS, BEST_GUESS_MESSAGE
        if boxes:
            faces = [self.face_input(image, box) for box in boxes]
        else:
            boxes = [Face(0, 0, image.width, image.height, 0.0)]
            framing, message = FRAMING_WHOLE, WHOLE_PICTURE_MESSAGE
            faces = [resize_square(image, self.size)]
        ages, female = self.predict_faces(np.stack(faces))
        spans = [input_span(box, self.template, self.variant) for box in boxes]
        low_80, high_80 = self.calibration.interval(ages, 0.8, spans)
        low_90, high_90 = self.calibration.interval(ages, 0.9, spans)
        predictions = [
            FacePrediction(
                box=scaled_box((box.x, box.y, box.width, box.height), scale, photo_size),
                age=float(ages[i]),
                interval_80=(float(low_80[i]), float(high_80[i])),
                interval_90=(float(low_90[i]), float(high_90[i])),
                age_group=adience_group(ages[i]),
                probability_female=float(female[i]),
                detection_confidence=round(box.confidence, 4) if box.confidence else None,
                variant=self.variant,
                framing=framing,
                face=faces[i],
                input_span=spans[i],
            )
            for i, box in enumerate(boxes)
        ]
        return PredictionResult(self.variant, photo_size, predictions, message, image)

    def explainer(self, task: str) -> Explainer:
        """The saliency explainer of the `task` model ('age' or 'gender'), built on first use."""
        with self._lock:
            if task not in self._explainers:
                model = {"age": self.age_model, "gender": self.gender_model}[task]
                self._explainers[task] = Explainer(model, task)
            return self._explainers[task]

    def explain(
        self, face: FacePrediction | np.ndarray, method: str, **options
    ) -> dict[str, AttributionMap]:
        """Maps of both models for one face (a prediction, or a uint8 (S, S, 3) model input):
        ``{"age": (S, S), "gender": (S, S)}``, `AttributionMap`s: in [0, 1], or for occlusion
        and integrated gradients signed, in the units they carry (years; points of the
        probability of "female"). `options` go to the method (`model.explain.OPTIONS`)."""
        pixels = face.face if isinstance(face, FacePrediction) else face
        return {
            task: self.explainer(task).explain(pixels, method, **options) for task in TASK_NAMES
        }

    def presentation(
        self,
        face: FacePrediction,
        methods=tuple(METHODS),
        opacity: float = 0.5,
    ) -> bytes:
        """A 1920x1080 PNG for slides: the face, then every method for age and for gender.
        Methods that fail the sanity check stored beside this predictor's weights are marked."""
        sanity_report = sanity.load(self.variant, self.weights)
        failing = tuple(m for m in methods if sanity.verdict(sanity_report, m).passes is False)
        maps = {task: {} for task in TASK_NAMES}
        for method in methods:
            for task, heat in self.explain(face, method).items():
                maps[task][method] = heat
        low, high = face.interval_80
        captions = {
            "age": f"Age {face.age:.0f} (80%: {low:.0f}-{high:.0f})",
            "gender": f"{face.gender.capitalize()} {face.gender_probability:.0%}",
        }
        title = f"What the {VARIANT_NAMES[self.variant]} models look at"
        return presentation_figure(face.face, maps, captions, opacity, title=title, failing=failing)


_shared: dict[str, Predictor] = {}
_shared_lock = threading.Lock()


def shared_predictor(variant: str) -> Predictor:
    """One `Predictor` per variant on the shipped weights for the whole process, loaded on
    first use: what the web front ends call."""
    with _shared_lock:
        if variant not in _shared:
            _shared[variant] = Predictor(variant)
        return _shared[variant]
