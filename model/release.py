"""Refresh every file derived from a variant's models, after a model in the weights folder changed:

    python -m model.release --data data/aligned --wild data/wild [--variant cropped] [--weights DIR]
                            [--steps calibration metrics wild maps]

First, ``data``: the prepared folder's report, copied beside the weights (``data_report.json``:
what the dashboard and the demo's About tab show of the training data). Then, in order, for each
variant (both unless ``--variant``):

1. ``calibration``: the map from the age network's answer to the shown age, and the age
   margins, on the validation split (``calibration.json``);
2. ``metrics``: the evaluation of each split of the prepared folder (``metrics.json`` for test,
   ``metrics_val.json``, ``metrics_train.json``);
3. ``wild``: the evaluation on the wild set (``data_prep wild``), through the Predictor
   (``metrics_wild.json``);
4. ``maps``: the average Grad-CAM maps and the methods' sanity check (``average_maps/``,
   ``sanity.json``);
5. ``export`` (without ``--variant``): the ONNX export of every shipped model with its
   manifest, which carries the calibration, verdicts and metrics (``onnx/``, `model.export`).

A changed gender model leaves the calibration as it is: ``--steps metrics wild maps export``.
``--data`` must be the prepared folder the models learnt from: its report and splits are theirs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from data_prep.dataset import REPORT
from data_prep.wild import IMAGES, LABELS
from model import sanity
from model.average_maps import average_maps
from model.calibration import calibrate_variant
from model.config import (
    CALIBRATION_FILE,
    DATA_REPORT_FILE,
    EXPORT_DIR,
    WEIGHTS_DIR,
    metrics_file,
)
from model.evaluate import evaluate, evaluate_photos
from model.export import export

STEPS = ("data", "calibration", "metrics", "wild", "maps", "export")
SPLITS = ("test", "val", "train")


def release(
    variant: str,
    data: str | Path,
    wild: str | Path | None,
    weights: str | Path = WEIGHTS_DIR,
    steps: tuple[str, ...] = STEPS,
) -> list[Path]:
    """Run `steps` for one variant; returns the files written."""
    variant_dir = Path(weights) / variant
    written: list[Path] = []

    def save(split: str, metrics: dict) -> None:
        path = variant_dir / metrics_file(split)
        path.write_text(json.dumps(metrics, indent=2))
        written.append(path)

    if "calibration" in steps:
        calibrate_variant(variant_dir, data, variant)
        written.append(variant_dir / CALIBRATION_FILE)
    if "metrics" in steps:
        for split in SPLITS:
            save(split, evaluate(variant, data, weights, split=split))
    if "wild" in steps:
        wild = Path(wild)
        save("wild", evaluate_photos(variant, wild / IMAGES, wild / LABELS, weights))
    if "maps" in steps:
        index = average_maps(variant, data, weights)
        written.append(variant_dir / "average_maps")
        written.append(sanity.refresh(variant_dir, data, variant)[1])
        print(f"{variant}: {sum(len(groups) for groups in index['maps'].values())} average maps")
    return written


def copy_data_report(data: str | Path, weights: str | Path = WEIGHTS_DIR) -> Path:
    """The prepared folder's report, beside the weights; returns where it went."""
    path = Path(weights) / DATA_REPORT_FILE
    path.write_text((Path(data) / REPORT).read_text())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.release", description=__doc__)
    parser.add_argument("--data", required=True, help="the prepared folder the models learnt")
    parser.add_argument("--wild", help="the wild set (data_prep wild): needed by the wild step")
    parser.add_argument("--variant", choices=("full", "cropped"), help="one variant (default both)")
    parser.add_argument("--weights", default=str(WEIGHTS_DIR), help="weights folder")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    args = parser.parse_args(argv)
    if "wild" in args.steps and not (
        args.wild and (Path(args.wild) / LABELS).is_file() and (Path(args.wild) / IMAGES).is_dir()
    ):
        parser.error(f"the wild step needs --wild, a folder with {IMAGES}/ and {LABELS}")
    if "data" in args.steps:
        print(f"data: wrote {copy_data_report(args.data, args.weights)}")
    for variant in [args.variant] if args.variant else ["full", "cropped"]:
        started = time.perf_counter()
        written = release(variant, args.data, args.wild, args.weights, tuple(args.steps))
        print(f"{variant}: wrote {len(written)} files in {time.perf_counter() - started:.0f} s")
        for path in written:
            print(f"  {path}")
    if "export" in args.steps and args.variant:
        print("export: skipped for one variant; python -m model.export exports both")
    elif "export" in args.steps:
        out = Path(args.weights) / EXPORT_DIR
        export(out, Path(args.weights))
        print(f"exported every model to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
