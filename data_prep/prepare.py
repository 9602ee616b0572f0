"""UTKFace (folder or archive) in; a rebalanced, split, cached data set out (see `dataset`)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from data_prep.config import PrepareConfig
from data_prep.dataset import MANIFEST, REPORT, VARIANTS, array_path
from data_prep.names import GENDERS, RACES, UNKNOWN, describe_action, parse_name
from data_prep.rebalance import rebalance
from data_prep.source import count_files, iter_source
from data_prep.split import AGE_BUCKET_LABELS, SPLITS, age_bucket, assign_splits
from faces.align import TEMPLATE, ChipTemplate, align_face, chip_inputs, measure_template
from faces.detect import Face, FaceDetector, fallback_face
from faces.images import ImageError, load_image

DETECTIONS = "detections.json"
MANIFEST_COLUMNS = [
    "file", "age", "gender", "race", "split", "image_width", "image_height",
    "face_found", "face_x", "face_y", "face_w", "face_h", "face_confidence",
]  # fmt: skip


def distribution(records: pd.DataFrame) -> dict:
    """Counts of images by age (year), age bucket, gender and race."""
    ages = Counter(int(a) for a in records["age"])
    buckets = Counter(AGE_BUCKET_LABELS[b] for b in age_bucket(records["age"]))
    names = {"gender": GENDERS, "race": RACES}
    counts = {
        column: {
            label: int((records[column] == code).sum())
            for code, label in [*names[column].items(), (UNKNOWN, "unknown")]
        }
        for column in names
    }
    return {
        "count": len(records),
        "age": {str(age): ages[age] for age in sorted(ages)},
        "age_bucket": {label: buckets[label] for label in AGE_BUCKET_LABELS},
        **counts,
    }


def _read_source(source: Path) -> tuple[pd.DataFrame, dict[str, bytes], dict]:
    """Parse every name and decode every image once; report what cannot be used and why."""
    records, blobs, seen = [], {}, set()
    malformed, unreadable, duplicates = [], [], []
    for name, data in tqdm(iter_source(source), total=count_files(source), desc="Reading"):
        if name in seen:
            duplicates.append(name)
            continue
        seen.add(name)
        parsed = parse_name(name)
        if parsed.problems:
            malformed.append(
                {"file": name, "problems": parsed.problems, "action": describe_action(parsed)}
            )
        if not parsed.usable:
            continue
        try:
            width, height = load_image(data).size
        except ImageError as error:
            unreadable.append({"file": name, "reason": str(error)})
            continue
        blobs[name] = data
        records.append(
            {
                "file": name,
                "age": parsed.age,
                "gender": parsed.gender,
                "race": parsed.race,
                "width": width,
                "height": height,
            }
        )
    columns = ["file", "age", "gender", "race", "width", "height"]
    problems = {
        "malformed_names": malformed,
        "unreadable_files": unreadable,
        "duplicate_names": sorted(set(duplicates)),
    }
    return pd.DataFrame(records, columns=columns), blobs, problems


def _load_detections(path: Path, config: PrepareConfig) -> dict[str, Face | None]:
    if not path.is_file():
        return {}
    cached = json.loads(path.read_text())
    if cached.get("detect_max_side") != config.detect_max_side or "landmarks" not in cached:
        return {}
    return {
        file: Face(*box[:5], tuple(map(tuple, box[5])) if box[5] else None) if box else None
        for file, box in cached["faces"].items()
    }


def _save_detections(path: Path, faces: dict[str, Face | None], config: PrepareConfig) -> None:
    boxes = {
        file: None
        if face is None
        else [face.x, face.y, face.width, face.height, face.confidence, face.landmarks]
        for file, face in sorted(faces.items())
    }
    cached = {"detect_max_side": config.detect_max_side, "landmarks": True, "faces": boxes}
    path.write_text(json.dumps(cached))


def _detect(
    kept: pd.DataFrame,
    blobs: dict[str, bytes],
    out: Path,
    config: PrepareConfig,
    detector: FaceDetector,
) -> tuple[list[Face | None], int]:
    """The largest face of each kept image (None where there is none), reusing the saved
    detections (only the others are decoded); returns the faces and how many were cached."""
    cache_path = out / DETECTIONS
    cache = _load_detections(cache_path, config)
    files = kept["file"].tolist()
    missing = [file for file in files if file not in cache]
    with tqdm(total=len(missing), desc="Detecting faces") as progress:
        for start in range(0, len(missing), config.detect_batch):
            batch = missing[start : start + config.detect_batch]
            images = [np.asarray(load_image(blobs[file])) for file in batch]
            cache.update(zip(batch, detector.detect_largest(images), strict=True))
            progress.update(len(batch))
    _save_detections(cache_path, cache, config)
    return [cache[file] for file in files], len(files) - len(missing)


def _build_arrays(
    kept: pd.DataFrame,
    blobs: dict[str, bytes],
    faces: list[Face],
    template: ChipTemplate,
    out: Path,
    size: int,
) -> None:
    """Align each kept image to the chip template with its own landmarks and write both
    variants' arrays, one file per variant and split."""
    arrays = {variant: np.zeros((len(kept), size, size, 3), np.uint8) for variant in VARIANTS}
    files = kept["file"].tolist()
    for row, (file, face) in enumerate(
        tqdm(zip(files, faces, strict=True), total=len(files), desc="Aligning and resizing")
    ):
        chip = align_face(load_image(blobs[file]), face, template)
        for variant, pixels in chip_inputs(chip, template, size).items():
            arrays[variant][row] = pixels
    for variant, images in arrays.items():
        for split in SPLITS:
            path = array_path(out, variant, split)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, images[(kept["split"] == split).to_numpy()])


def prepare(
    source: str | Path,
    out: str | Path,
    config: PrepareConfig | None = None,
    detector: FaceDetector | None = None,
) -> dict:
    """Run the whole pipeline from `source` (UTKFace folder or archive) into folder `out`.

    Writes the manifest, arrays, detection cache, chip template and report (see
    `data_prep.dataset`);
    returns the report as a dict.
    """
    config = config or PrepareConfig()
    detector = detector or FaceDetector(max_side=config.detect_max_side)
    source, out = Path(source), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings = {}

    started = time.perf_counter()
    records, blobs, problems = _read_source(source)
    timings["read_and_decode_s"] = time.perf_counter() - started
    if records.empty:
        raise ValueError(f"no usable UTKFace image found in {source}")

    step = time.perf_counter()
    kept, rebalance_counts = rebalance(
        records, config.max_age, config.toddler_max_age, config.toddler_keep, config.seed
    )
    kept["split"] = assign_splits(kept, config.split_fractions, config.seed)
    kept["split_order"] = kept["split"].map({name: i for i, name in enumerate(SPLITS)})
    kept = kept.sort_values(["split_order", "file"], ignore_index=True).drop(columns="split_order")
    timings["rebalance_and_split_s"] = time.perf_counter() - step

    step = time.perf_counter()
    found, n_cached = _detect(kept, blobs, out, config, detector)
    timings["detect_s"] = time.perf_counter() - step

    step = time.perf_counter()
    is_train = (kept["split"] == "train").to_numpy()
    template = measure_template(
        [face for face, train in zip(found, is_train, strict=True) if train],
        kept.loc[is_train, "width"].tolist(),
    )
    template.save(out / TEMPLATE)
    faces = [
        face or fallback_face(width, height)
        for face, width, height in zip(found, kept["width"], kept["height"], strict=True)
    ]
    _build_arrays(kept, blobs, faces, template, out, config.size)
    timings["align_and_resize_s"] = time.perf_counter() - step

    kept["face_found"] = [face.confidence > 0 for face in faces]
    for column, attribute in [
        ("face_x", "x"),
        ("face_y", "y"),
        ("face_w", "width"),
        ("face_h", "height"),
        ("face_confidence", "confidence"),
    ]:
        kept[column] = [round(getattr(face, attribute), 2) for face in faces]
    manifest = kept.rename(columns={"width": "image_width", "height": "image_height"})
    manifest = manifest[MANIFEST_COLUMNS]
    manifest.to_csv(out / MANIFEST, index=False)
    timings["total_s"] = time.perf_counter() - started

    fallbacks = manifest.loc[~manifest["face_found"], "file"].tolist()
    report = {
        "source": str(source),
        "config": config.to_dict(),
        "files": {
            "usable": len(records),
            "malformed_names": len(problems["malformed_names"]),
            "unreadable": len(problems["unreadable_files"]),
            "duplicates": len(problems["duplicate_names"]),
        },
        **problems,
        "rebalance": rebalance_counts,
        "distributions": {
            "before_rebalance": distribution(records),
            "after_rebalance": distribution(kept),
            **{split: distribution(kept[kept["split"] == split]) for split in SPLITS},
        },
        "chip_template": {"file": TEMPLATE, **template.to_dict()},
        "detector": {
            "images": len(manifest),
            "faces_found": len(manifest) - len(fallbacks),
            "fallbacks": len(fallbacks),
            "fallback_rate": len(fallbacks) / len(manifest),
            "boxes_from_cache": n_cached,
            "fallback_files": fallbacks,
        },
        "timings": {name: round(seconds, 2) for name, seconds in timings.items()},
    }
    (out / REPORT).write_text(json.dumps(report, indent=2))
    return report
