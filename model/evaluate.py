"""Evaluate a variant's age and gender models.

    python -m model.evaluate --variant full|cropped --data PATH --out metrics.json [--max-age N]
    python -m model.evaluate --variant full|cropped --photos DIR --labels labels.csv --out ...

``--data`` is either a prepared folder (its test split is evaluated, or the one ``--split``
names, from the cached arrays) or any folder or archive of UTKFace-named images. ``--photos``
is a folder of photos with a CSV of labels (columns ``filename``, ``age`` and optionally
``gender`` as male/female). UTKFace-named images and photos both go through the Predictor's
public path, as a user's upload does: detect, align, predict; the largest face of each photo
counts. Photos where no face was found are counted (``no_face_found``): ``cropped`` makes no
prediction for them, ``full`` predicts on its best guess at a face (counted in ``best_guess``)
or else on the whole picture.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from data_prep import load_split
from data_prep.dataset import MANIFEST
from data_prep.names import GENDERS, UNKNOWN, parse_name
from data_prep.source import count_files, iter_source
from data_prep.split import SPLITS
from faces.images import ImageError
from model.calibration import AgeCalibration
from model.config import CALIBRATION_FILE, WEIGHTS_DIR
from model.metrics import evaluate_predictions
from model.networks import load_for_inference, predict_outputs
from model.predictor import FRAMING_FACE, FRAMING_GUESS, Predictor

LabelledPhoto = tuple[str, bytes, int, int, int]
"""(file name, encoded photo, age, gender, race); labels -1 where unknown."""


def _from_prepared(
    folder: Path, variant: str, split: str, weights: Path, calibration: AgeCalibration | None
) -> dict:
    """Labels and predictions of a prepared split (its cached, aligned model inputs); the
    shown ages where the variant is calibrated."""
    data = load_split(folder, variant, split)
    predictions = {
        f"predicted_{task}": predict_outputs(
            load_for_inference(weights / variant, task), data.images
        )
        for task in ("age", "gender")
    }
    if calibration is not None:
        predictions["predicted_age"] = calibration.age(predictions["predicted_age"])
    labels = {"ages": data.ages, "genders": data.genders, "races": data.races}
    return {**labels, **predictions, "notes": {"source": str(folder), "split": split}}


def _from_photos(photos: Iterable[LabelledPhoto], predictor: Predictor, total: int) -> dict:
    """Labels and predictions of the largest face of each photo, through `Predictor.predict`."""
    rows, skipped, no_face, guessed, seconds = [], [], 0, 0, 0.0
    for name, data, age, gender, race in tqdm(photos, total=total, desc="Predicting photos"):
        started = time.perf_counter()
        try:
            result = predictor.predict(data)
        except ImageError as error:
            skipped.append({"file": name, "reason": str(error)})
            continue
        seconds += time.perf_counter() - started
        if not result.faces or result.faces[0].framing != FRAMING_FACE:
            no_face += 1
        if result.faces:
            guessed += result.faces[0].framing == FRAMING_GUESS
            face = result.faces[0]
            rows.append((age, gender, race, face.age, face.probability_female, face.input_span))
    if not rows:
        raise ValueError("no photo could be predicted")
    ages, genders, races, predicted_age, predicted_gender, spans = (
        np.array(column) for column in zip(*rows, strict=True)
    )
    photos_read = len(rows) + (no_face if predictor.variant == "cropped" else 0)
    notes = {
        "photos": photos_read,
        "skipped": skipped,
        "no_face_found": no_face,
        "no_face_rate": round(no_face / max(1, photos_read), 4),
        "best_guess": guessed,
        "seconds_per_photo": round(seconds / max(1, photos_read), 4),
    }
    return {
        "ages": ages, "genders": genders, "races": races, "predicted_age": predicted_age,
        "predicted_gender": predicted_gender, "spans": spans, "notes": notes,
    }  # fmt: skip


def utkface_photos(source: str | Path) -> Iterator[LabelledPhoto]:
    """Every image with a usable UTKFace name in a folder or archive, labelled by its name."""
    for name, data in iter_source(source):
        parsed = parse_name(name)
        if parsed.usable:
            yield name, data, parsed.age, parsed.gender, parsed.race


def labelled_photos(folder: str | Path, labels: str | Path) -> Iterator[LabelledPhoto]:
    """The photos a labels CSV lists (``filename``, ``age``, optional ``gender`` as
    male/female), read from `folder`; a listed file that is missing yields empty bytes."""
    table = pd.read_csv(labels)
    codes = {name: code for code, name in GENDERS.items()}
    for row in table.itertuples(index=False):
        path = Path(folder) / str(row.filename)
        gender = codes.get(str(getattr(row, "gender", "")).strip().lower(), UNKNOWN)
        data = path.read_bytes() if path.is_file() else b""
        yield str(row.filename), data, int(row.age), gender, UNKNOWN


def _calibration(variant: str, weights: Path) -> AgeCalibration | None:
    path = weights / variant / CALIBRATION_FILE
    return AgeCalibration.load(path) if path.is_file() else None


def _metrics(
    variant: str, found: dict, calibration: AgeCalibration | None, max_age: int | None
) -> dict:
    ages = np.asarray(found["ages"])
    keep = ages >= 0 if max_age is None else (ages >= 0) & (ages <= max_age)
    metrics = evaluate_predictions(
        ages[keep],
        np.asarray(found["genders"])[keep],
        np.asarray(found["races"])[keep],
        np.asarray(found["predicted_age"])[keep],
        np.asarray(found["predicted_gender"])[keep],
        calibration,
        np.asarray(found.get("spans", np.full(len(ages), np.inf)))[keep],
    )
    return {"variant": variant, "max_age": max_age, **found["notes"], **metrics}


def evaluate(
    variant: str,
    data: str | Path,
    weights: str | Path = WEIGHTS_DIR,
    max_age: int | None = None,
    split: str = "test",
) -> dict:
    """Metrics (see `model.metrics.evaluate_predictions`) of a variant's models on `split` of
    a prepared folder, or on every UTKFace-named image of a folder or archive."""
    data, weights = Path(data), Path(weights)
    if (data / MANIFEST).is_file():
        calibration = _calibration(variant, weights)
        found = _from_prepared(data, variant, split, weights, calibration)
    else:
        predictor = Predictor(variant, weights)
        calibration = predictor.calibration
        found = _from_photos(utkface_photos(data), predictor, count_files(data))
        found["notes"]["source"] = str(data)
    return _metrics(variant, found, calibration, max_age)


def evaluate_photos(
    variant: str,
    photos: str | Path,
    labels: str | Path,
    weights: str | Path = WEIGHTS_DIR,
    max_age: int | None = None,
) -> dict:
    """Metrics of a variant on a folder of photos labelled by a CSV, through the Predictor."""
    total = len(pd.read_csv(labels))
    predictor = Predictor(variant, weights)
    found = _from_photos(labelled_photos(photos, labels), predictor, total)
    found["notes"].update(source=str(photos), labels=str(labels))
    return _metrics(variant, found, predictor.calibration, max_age)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__)
    parser.add_argument("--variant", choices=("full", "cropped"), required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="prepared folder, or UTKFace-named images")
    source.add_argument("--photos", help="folder of photos (with --labels)")
    parser.add_argument("--labels", help="CSV: filename, age, optional gender (male/female)")
    parser.add_argument("--out", required=True, help="metrics JSON to write")
    parser.add_argument("--max-age", type=int, default=None, help="only ages up to this")
    parser.add_argument("--weights", default=str(WEIGHTS_DIR), help="weights folder")
    parser.add_argument(
        "--split", default="test", choices=SPLITS, help="split of a prepared folder (test)"
    )
    args = parser.parse_args(argv)
    if args.photos and not args.labels:
        parser.error("--photos needs --labels")
    if args.photos:
        metrics = evaluate_photos(
            args.variant, args.photos, args.labels, args.weights, args.max_age
        )
    else:
        metrics = evaluate(args.variant, args.data, args.weights, args.max_age, args.split)
    Path(args.out).write_text(json.dumps(metrics, indent=2))
    age, gender = metrics["age"], metrics["gender"]
    print(
        f"{args.variant}: n={metrics['n']}  age MAE {age['mae']:.2f}  RMSE {age['rmse']:.2f}  "
        f"CS5 {age['cs5']:.3f}  gender accuracy {gender['accuracy']:.4f}  AUC {gender['auc']:.4f}"
    )
    if "no_face_found" in metrics:
        print(
            f"  no face found in {metrics['no_face_found']} of {metrics['photos']} photos "
            f"({metrics['best_guess']} judged on a best guess at a face); "
            f"{metrics['seconds_per_photo'] * 1000:.0f} ms per photo"
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
