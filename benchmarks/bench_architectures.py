"""What each candidate architecture costs on this CPU:
``TF_ENABLE_ONEDNN_OPTS=1 python benchmarks/bench_architectures.py`` (training runs with oneDNN).

For input sizes 64, 80 and 96 and for wider and deeper variants of the shipped backbone, builds
the age CNN (`model.networks.build_model`) and measures its weights (count, and megabytes as
float32), the median milliseconds of a training step through ``fit`` on a batch of 64, each
step timed on its own (random pixels: the cost does not depend on them; the augmentation
pipeline adds the same to each; the median, as CPU throttling on a shared machine stalls
whole runs of steps and a mean over them swings by 2x between runs), and
the median milliseconds of one inference on a face, as the demo predicts (all its test-time
views).
With the validation error of the models actually trained (notebook 02), this is what chose the
architecture per CPU-minute. Prints a table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_inference import p50_ms  # noqa: E402
from model.config import TrainConfig  # noqa: E402
from model.networks import build_model, compile_model, predict_outputs  # noqa: E402
from model.tasks import TASKS  # noqa: E402

SHIPPED = TrainConfig()
CANDIDATES = {
    "64 px": (64, SHIPPED),
    "64 px, 2 blocks/stage": (64, replace(SHIPPED, blocks_per_stage=2)),
    "64 px, 1.5x wider": (64, replace(SHIPPED, stem_width=48, widths=(96, 192, 384))),
    "64 px, 4 stages": (64, replace(SHIPPED, widths=(64, 128, 256, 512))),
    "80 px": (80, SHIPPED),
    "96 px": (96, SHIPPED),
    "96 px, 2 blocks/stage": (96, replace(SHIPPED, blocks_per_stage=2)),
}
BATCH = 64


class StepTimer(keras.callbacks.Callback):
    """Wall time of each training batch, in milliseconds."""

    def __init__(self):
        super().__init__()
        self.step_ms: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        float(logs["loss"])  # waits for the step's result
        self.step_ms.append((time.perf_counter() - self._started) * 1000)


def measure(size: int, config: TrainConfig, repeats: int) -> dict:
    task = TASKS["age"]
    model = build_model(task, config, size, output_bias=33.0)
    compile_model(model, task, config)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (BATCH, size, size, 3)).astype(np.float32)
    ages = rng.uniform(0, 80, BATCH).astype(np.float32)
    face = images[:1].astype(np.uint8)
    batches = tf.data.Dataset.from_tensors((images, ages)).repeat()
    model.fit(batches, steps_per_epoch=3, verbose=0)  # builds and traces
    timer = StepTimer()
    model.fit(batches, steps_per_epoch=repeats, verbose=0, callbacks=[timer])
    return {
        "input_size": size,
        "stem_width": config.stem_width,
        "widths": list(config.widths),
        "blocks_per_stage": config.blocks_per_stage,
        "weights": model.count_params(),
        "megabytes": round(model.count_params() * 4 / 2**20, 2),
        "train_step_ms": round(float(np.median(timer.step_ms)), 1),
        "predict_face_p50_ms": p50_ms(predict_outputs, (model, face), repeats),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20, help="timed steps per measurement")
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results" / "architectures.json")
    )
    args = parser.parse_args(argv)
    results = {}
    for name, (size, config) in CANDIDATES.items():
        results[name] = measure(size, config, args.repeats)
        print(f"{name:24} {results[name]}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "0")
    out.write_text(
        json.dumps({"batch": BATCH, "onednn": onednn, "architectures": results}, indent=2)
    )
    print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
