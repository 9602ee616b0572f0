"""Training throughput with TensorFlow's oneDNN kernels off (the project's default) and on:
``python benchmarks/bench_training.py --data data/prepared``.

Each setting trains one epoch of the gender model (cropped, the shipped architecture) on the
whole training split through ``python -m model.train``, in a fresh interpreter, and reports
training images per second over that epoch (its validation pass included, as a user waits
for it). Prints a table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"onednn_off": "0", "onednn_on": "1"}


def one_epoch(data: str, onednn: str, task: str, variant: str) -> dict:
    """Train one epoch in a child process with ``TF_ENABLE_ONEDNN_OPTS=onednn``."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "model.train", "--task", task, "--variant", variant,
                   "--data", data, "--out", out, "--epochs", "1"]  # fmt: skip
        env = os.environ | {"TF_ENABLE_ONEDNN_OPTS": onednn}
        child = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if child.returncode != 0:
            return {"error": f"exit {child.returncode}", "stderr": child.stderr[-2000:]}
        run = json.loads((Path(out) / variant / f"{task}_run.json").read_text())
        history = pd.read_csv(Path(out) / variant / f"{task}_history.csv")
        seconds = float(history["epoch_seconds"][0])
    images = run["data"]["train"]
    return {"train_images": images, "epoch_s": round(seconds, 1),
            "images_per_s": round(images / seconds, 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(ROOT / "data" / "prepared"))
    parser.add_argument("--task", default="gender", choices=("age", "gender"))
    parser.add_argument("--variant", default="cropped", choices=("full", "cropped"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "training.json"))
    args = parser.parse_args(argv)
    results = {}
    for name, value in SETTINGS.items():
        results[name] = one_epoch(args.data, value, args.task, args.variant)
        print(name, results[name], flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"task": args.task, "variant": args.variant, **results}, indent=2))
    print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
