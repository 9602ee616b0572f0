"""Which test-time views pay, on the validation split:
``python benchmarks/bench_views.py --data data/prepared``.

For each variant and task, the shipped model's validation age MAE or gender accuracy with
each candidate view alone (with its mirror image), with the face and its mirror only (what
the demo predicted before test-time views), and with `model.networks.TEST_VIEWS` (what it
predicts now). Only the validation split: the test split stays for the final figures.
Prints a table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data_prep import VARIANTS, load_split  # noqa: E402
from model.config import WEIGHTS_DIR  # noqa: E402
from model.metrics import age_metrics, gender_metrics  # noqa: E402
from model.networks import (  # noqa: E402
    MIRRORED,
    TEST_VIEWS,
    View,
    load_for_inference,
    predict_outputs,
)

CANDIDATES = {
    f"{name} {pixels} px": View(shift_x=sign * pixels * dx, shift_y=sign * pixels * dy)
    for name, dx, dy, sign in (
        ("right", 1, 0, 1),
        ("left", 1, 0, -1),
        ("down", 0, 1, 1),
        ("up", 0, 1, -1),
    )
    for pixels in (2, 3)
} | {f"zoom {zoom}": View(zoom=zoom) for zoom in (0.94, 1.06, 1.12)}


def _with_mirror(view: View) -> tuple[View, View]:
    return view, view._replace(mirror=True)


def score(task: str, predicted: np.ndarray, ages: np.ndarray, genders: np.ndarray) -> float:
    """Age MAE in years, or gender accuracy, over the faces whose label is known."""
    if task == "age":
        return age_metrics(ages[ages >= 0], predicted[ages >= 0])["mae"]
    return gender_metrics(genders[genders >= 0], predicted[genders >= 0])["accuracy"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="prepared data folder")
    parser.add_argument("--weights", default=str(WEIGHTS_DIR))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "views.json"))
    args = parser.parse_args(argv)

    view_sets = {"face and mirror": MIRRORED, "TEST_VIEWS": TEST_VIEWS} | {
        name: _with_mirror(view) for name, view in CANDIDATES.items()
    }
    results: dict[str, dict[str, float]] = {}
    for variant in VARIANTS:
        val = load_split(args.data, variant, "val")
        for task in ("age", "gender"):
            model = load_for_inference(Path(args.weights) / variant, task)
            column = f"{variant} {task}"
            results[column] = {
                name: round(
                    score(task, predict_outputs(model, val.images, views), val.ages, val.genders), 4
                )
                for name, views in view_sets.items()
            }
            print(f"{column}: done", flush=True)
    columns = list(results)
    print("| views (each with its mirror) | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name in view_sets:
        print(f"| {name} | " + " | ".join(f"{results[c][name]:.4f}" for c in columns) + " |")
    Path(args.out).write_text(
        json.dumps({"split": "val", "data": args.data, "results": results}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
