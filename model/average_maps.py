"""Average Grad-CAM maps, and the methods' sanity check, of one variant's shipped models.

``python -m model.average_maps --variant full|cropped --data DIR [--weights DIR]``

Over the test split of data_prep's output, each face's Grad-CAM map (normalised to [0, 1])
is averaged within each age bucket and each gender, for the age and the gender model. Each
average is drawn over the group's average face, on one scale for all groups of a model (the
strongest average at full colour), and written as a small PNG to
``<weights>/<variant>/average_maps/<task>_<kind>_<group>.png``, indexed by ``index.json``.

The same command refreshes ``<weights>/<variant>/sanity.json``: the randomisation sanity
check of every saliency method (`model.sanity`) on the first ``--sanity-faces`` test faces.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from data_prep import load_split
from data_prep.names import GENDERS
from data_prep.split import AGE_BUCKET_LABELS, age_bucket
from model import sanity
from model.config import AVERAGE_MAPS_DIR, AVERAGE_MAPS_INDEX, WEIGHTS_DIR
from model.explain import Explainer
from model.networks import load_for_inference
from model.render import overlay

PICTURE_SIZE = 128
OPACITY = 0.8
BATCH = 128


def group_labels(ages: np.ndarray, genders: np.ndarray) -> dict[str, np.ndarray]:
    """Row indices of each group: ``age_<bucket>`` and ``gender_<name>`` (unknowns skipped)."""
    groups = {}
    buckets = age_bucket(ages)
    for index, label in enumerate(AGE_BUCKET_LABELS):
        groups[f"age_{label}"] = np.flatnonzero((buckets == index) & (ages >= 0))
    for code, name in GENDERS.items():
        groups[f"gender_{name}"] = np.flatnonzero(genders == code)
    return {name: rows for name, rows in groups.items() if len(rows)}


def average_maps(
    variant: str, data: str | Path, weights: str | Path = WEIGHTS_DIR, limit: int = 0
) -> dict:
    """Compute and write the average maps of one variant; returns the index written."""
    split = load_split(data, variant, "test")
    images, ages, genders = split.images, split.ages, split.genders
    if limit:
        images, ages, genders = images[:limit], ages[:limit], genders[:limit]
    out = Path(weights) / variant / AVERAGE_MAPS_DIR
    out.mkdir(parents=True, exist_ok=True)
    groups = group_labels(ages, genders)
    index = {"variant": variant, "method": "gradcam", "n": len(images), "maps": {}}
    for task in ("age", "gender"):
        model = load_for_inference(Path(weights) / variant, task)
        explainer = Explainer(model, task)
        heat = np.concatenate(
            [
                explainer.explain_batch(images[start : start + BATCH], "gradcam")
                for start in tqdm(
                    range(0, len(images), BATCH), desc=f"Grad-CAM {variant} {task}", unit="batch"
                )
            ]
        )
        averages = {group: heat[rows].mean(axis=0) for group, rows in groups.items()}
        # one scale for all groups of a task: the strongest average is drawn at full colour
        scale = max(float(average.max()) for average in averages.values()) or 1.0
        for group, rows in groups.items():
            mean_face = images[rows].mean(axis=0).round().astype(np.uint8)
            picture = overlay(mean_face, averages[group] / scale, OPACITY, size=PICTURE_SIZE)
            file = f"{task}_{group}.png"
            Image.fromarray(picture).save(out / file, optimize=True)
            index["maps"].setdefault(task, {})[group] = {"file": file, "n": len(rows)}
    (out / AVERAGE_MAPS_INDEX).write_text(json.dumps(index, indent=2))
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.average_maps", description=__doc__)
    parser.add_argument("--variant", required=True, choices=("full", "cropped"))
    parser.add_argument("--data", required=True, help="data_prep output folder")
    parser.add_argument("--weights", default=str(WEIGHTS_DIR), help="weights folder")
    parser.add_argument("--limit", type=int, default=0, help="first N test images (0: all)")
    parser.add_argument(
        "--sanity-faces",
        type=int,
        default=sanity.SANITY_FACES,
        help="test faces for the methods' sanity check (0: skip it)",
    )
    args = parser.parse_args(argv)
    index = average_maps(args.variant, args.data, args.weights, args.limit)
    print(
        f"Wrote {sum(len(groups) for groups in index['maps'].values())} maps of {index['n']} "
        f"faces to {Path(args.weights) / args.variant / AVERAGE_MAPS_DIR}"
    )
    if args.sanity_faces:
        variant_dir = Path(args.weights) / args.variant
        report, path = sanity.refresh(variant_dir, args.data, args.variant, args.sanity_faces)
        print(f"Sanity check on {report['faces']} faces, written to {path}:")
        for method, passes in report["passes"].items():
            values = "  ".join(
                f"{task} {report['correlations'][task][method]:5.2f}" for task in sanity.TASKS
            )
            print(f"  {method:22} {values}  {'passes' if passes else 'FAILS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
