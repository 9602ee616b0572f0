"""Evaluate a variant's age and gender models.

``python -m model.evaluate --variant full|cropped --data PATH --out metrics.json [--max-age N]``

PATH is either a prepared folder (its test split is evaluated, or the one ``--split`` names) or
any folder or archive of UTKFace-named images (all of them are evaluated, decoded and cropped as
at inference, with face detection for ``cropped``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data_prep import FaceDetector, load_image, load_split
from data_prep.dataset import MANIFEST
from data_prep.images import ImageError
from data_prep.names import parse_name
from data_prep.source import iter_source
from data_prep.split import SPLITS
from model.calibration import AgeCalibration
from model.config import CALIBRATION_FILE, WEIGHTS_DIR
from model.metrics import evaluate_predictions
from model.networks import load_for_inference, predict_outputs
from model.preprocess import full_inputs, largest_face_inputs


@dataclass
class LabelledInputs:
    """Model inputs uint8 (N, S, S, 3) with their labels (int (N,), -1 unknown)."""

    images: np.ndarray
    ages: np.ndarray
    genders: np.ndarray
    races: np.ndarray
    notes: dict


def _from_prepared(folder: Path, variant: str, split: str) -> LabelledInputs:
    data = load_split(folder, variant, split)
    return LabelledInputs(
        data.images, data.ages, data.genders, data.races, {"source": str(folder), "split": split}
    )


def _from_images(source: Path, variant: str, size: int, batch: int = 200) -> LabelledInputs:
    """Decode and preprocess every UTKFace-named image in a folder or archive."""
    detector = FaceDetector() if variant == "cropped" else None
    inputs, labels, skipped, no_face = [], [], [], 0
    pending: list = []

    def flush() -> None:
        nonlocal no_face
        if not pending:
            return
        if detector is None:
            inputs.append(full_inputs(pending, size))
        else:
            crops, faces = largest_face_inputs(pending, size, detector)
            inputs.append(crops)
            no_face += sum(face.confidence == 0 for face in faces)
        pending.clear()

    for name, data in tqdm(iter_source(source), desc="Reading and preprocessing"):
        parsed = parse_name(name)
        if not parsed.usable:
            skipped.append({"file": name, "reason": "; ".join(parsed.problems)})
            continue
        try:
            pending.append(load_image(data, max_side=1024))
        except ImageError as error:
            skipped.append({"file": name, "reason": str(error)})
            continue
        labels.append((parsed.age, parsed.gender, parsed.race))
        if len(pending) >= batch:
            flush()
    flush()
    if not labels:
        raise ValueError(f"no usable UTKFace-named image in {source}")
    ages, genders, races = (np.array(column) for column in zip(*labels, strict=True))
    notes = {"source": str(source), "skipped": skipped, "no_face_found": no_face}
    return LabelledInputs(np.concatenate(inputs), ages, genders, races, notes)


def evaluate(
    variant: str,
    data: str | Path,
    weights: str | Path = WEIGHTS_DIR,
    max_age: int | None = None,
    split: str = "test",
) -> dict:
    """Metrics (see `model.metrics.evaluate_predictions`) of a variant's shipped models, on
    `split` of a prepared folder or on every image of a folder or archive."""
    variant_dir = Path(weights) / variant
    age_model = load_for_inference(variant_dir, "age")
    gender_model = load_for_inference(variant_dir, "gender")
    calibration_path = variant_dir / CALIBRATION_FILE
    calibration = AgeCalibration.load(calibration_path) if calibration_path.is_file() else None

    data = Path(data)
    size = age_model.input_shape[1]
    if (data / MANIFEST).is_file():
        inputs = _from_prepared(data, variant, split)
    else:
        inputs = _from_images(data, variant, size)
    keep = inputs.ages >= 0 if max_age is None else (inputs.ages >= 0) & (inputs.ages <= max_age)
    images = inputs.images[keep]
    predicted_age = predict_outputs(age_model, images)
    probability = predict_outputs(gender_model, images)
    metrics = evaluate_predictions(
        inputs.ages[keep],
        inputs.genders[keep],
        inputs.races[keep],
        predicted_age,
        probability,
        calibration,
    )
    return {"variant": variant, "max_age": max_age, **inputs.notes, **metrics}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__)
    parser.add_argument("--variant", choices=("full", "cropped"), required=True)
    parser.add_argument("--data", required=True, help="prepared folder, or UTKFace images")
    parser.add_argument("--out", required=True, help="metrics JSON to write")
    parser.add_argument("--max-age", type=int, default=None, help="only ages up to this")
    parser.add_argument("--weights", default=str(WEIGHTS_DIR), help="weights folder")
    parser.add_argument(
        "--split", default="test", choices=SPLITS, help="split of a prepared folder (test)"
    )
    args = parser.parse_args(argv)
    metrics = evaluate(args.variant, args.data, args.weights, args.max_age, args.split)
    Path(args.out).write_text(json.dumps(metrics, indent=2))
    age, gender = metrics["age"], metrics["gender"]
    print(
        f"{args.variant}: n={metrics['n']}  age MAE {age['mae']:.2f}  RMSE {age['rmse']:.2f}  "
        f"CS5 {age['cs5']:.3f}  gender accuracy {gender['accuracy']:.4f}  AUC {gender['auc']:.4f}"
    )
    for level, figures in metrics.get("age_interval_coverage", {}).items():
        print(
            f"  {float(level):.0%} interval coverage {figures['coverage']:.3f}, "
            f"mean width {figures['mean_width']:.1f} years"
        )
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
