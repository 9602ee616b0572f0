"""Train one CNN: ``python -m model.train --task age|gender --variant full|cropped --data DIR``.

Copies the data's chip template (``chip_template.json``) to ``<out>``, and writes to
``<out>/<variant>/``: the best model (``<task>.keras``), its per-epoch history
(``<task>_history.csv``), what produced it (``<task>_run.json``) and the last checkpoint
with optimizer state (``<task>.resume.keras``) so ``--resume`` continues a schedule later.
After an age model, its error margins are calibrated on the validation split.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from data_prep import load_split
from data_prep.config import add_config_arguments, config_from_args
from faces.align import TEMPLATE
from model.augment import PhotoDamage
from model.config import ModelFiles, TrainConfig
from model.data import make_dataset
from model.networks import (
    ARCHITECTURE_FIELDS,
    build_model,
    compile_model,
    grow,
    save_for_inference,
)
from model.tasks import TASKS


def learning_rate_at(epoch: int, config: TrainConfig) -> float:
    """Linear warm-up for `warmup_epochs`, then cosine decay to 2% of the peak at `epochs`."""
    if epoch < config.warmup_epochs:
        return config.learning_rate * (epoch + 1) / (config.warmup_epochs + 1)
    progress = (epoch - config.warmup_epochs) / max(1, config.epochs - config.warmup_epochs)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.learning_rate * (0.02 + 0.98 * cosine)


class EpochBookkeeping(keras.callbacks.Callback):
    """After every epoch: adds learning rate and epoch seconds to the logs; saves the inference
    model if this epoch is the one to ship (`keep`: "best" so far, or "last"), the resume
    checkpoint and the run information (so a run killed mid-way can still be resumed); stops
    before an epoch that would overrun the time budget."""

    def __init__(self, files: ModelFiles, monitor: str, run: dict, max_seconds: float, keep: str):
        super().__init__()
        self.files, self.monitor, self.run, self.keep = files, monitor, run, keep
        self.max_seconds = max_seconds
        self.started = time.perf_counter()
        self.epochs_before = run["epochs_done"]
        self.wall_before = run["total_wall_time_s"]
        self.sessions_before = list(run["sessions"])
        self.longest_epoch = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.epoch_started
        self.longest_epoch = max(self.longest_epoch, seconds)
        logs["learning_rate"] = float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        )
        logs["epoch_seconds"] = seconds
        if self.keep == "last" or logs[self.monitor] < self.run["best_value"]:
            self.run.update(best_value=float(logs[self.monitor]), best_epoch=epoch + 1)
            save_for_inference(self.model, self.files.model)
        self.model.save(self.files.resume)
        elapsed = time.perf_counter() - self.started
        self.run.update(
            epochs_done=epoch + 1,
            total_wall_time_s=round(self.wall_before + elapsed, 1),
            sessions=[
                *self.sessions_before,
                {
                    "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                    "epochs": epoch + 1 - self.epochs_before,
                    "wall_time_s": round(elapsed, 1),
                },
            ],
        )
        self.files.run_info.write_text(json.dumps(self.run, indent=2))
        if elapsed + self.longest_epoch > self.max_seconds:
            print(f"\nStopping: one more epoch would pass {self.max_seconds / 60:.0f} minutes")
            self.model.stop_training = True


def _labelled(data, task, limit: int):
    targets, mask = task.labels(data)
    images, targets = data.images[mask], targets[mask]
    return (images[:limit], targets[:limit]) if limit else (images, targets)


def _architecture(config: TrainConfig, input_size: int) -> dict:
    return {"input_size": input_size, **{f: getattr(config, f) for f in ARCHITECTURE_FIELDS}}


def train(config: TrainConfig) -> dict:
    """Train (or resume) one model as `config` says; returns the run information written."""
    task = TASKS[config.task]
    files = ModelFiles(config.variant_dir, config.task)
    files.variant_dir.mkdir(parents=True, exist_ok=True)
    template = Path(config.data) / TEMPLATE
    if not template.is_file():
        raise FileNotFoundError(
            f"{template} is missing: prepare the data again with this version of data_prep"
        )
    shutil.copy(template, Path(config.out) / TEMPLATE)  # the framing the models learn
    keras.utils.set_random_seed(config.seed)

    train_x, train_y = _labelled(
        load_split(config.data, config.variant, "train"), task, config.limit
    )
    val_x, val_y = _labelled(load_split(config.data, config.variant, "val"), task, config.limit)
    input_size = train_x.shape[1]

    val_data = make_dataset(val_x, val_y, 256, False, False)
    has_run = config.resume and files.run_info.is_file()
    previous = json.loads(files.run_info.read_text()) if has_run else {}
    grows = new_optimizer = False
    if has_run:  # the saved run's config; fields added since then take their defaults
        saved_config = config_from_args(TrainConfig, TrainConfig().to_dict() | previous["config"])
        grows = _architecture(saved_config, previous["input_size"]) != (
            _architecture(config, input_size)
        )
        new_optimizer = grows or (saved_config.ema, saved_config.label_smoothing) != (
            config.ema,
            config.label_smoothing,
        )
    if has_run and files.resume.is_file() and not new_optimizer:
        model = keras.models.load_model(files.resume)
        schedule_start = previous.get("schedule_start", 0)
        print(f"Resuming {files.resume} after epoch {previous['epochs_done']}")
    elif has_run and files.model.is_file():
        # A new machine (the checkpoint stayed local, the shipped model did not), a bigger
        # architecture that starts from the shipped model, or a change of --ema or of
        # --label-smoothing.
        model = keras.models.load_model(files.model, compile=False)
        if grows:
            model = grow(model, saved_config, task, config, input_size)
            save_for_inference(model, files.model)  # it predicts what the saved model did
            print(f"Grown to {_architecture(config, input_size)}: {model.count_params():,} weights")
        compile_model(model, task, config)
        schedule_start = previous["epochs_done"]
        scores = model.evaluate(val_data, return_dict=True, verbose=0)
        previous["best_value"] = float(scores[task.monitor.removeprefix("val_")])
        print(
            f"Continuing from {files.model} with a fresh optimizer, a new {config.epochs}-epoch "
            f"schedule and a {config.warmup_epochs}-epoch warm-up; it scores {task.monitor} "
            f"{previous['best_value']:.4f} on this data"
        )
    else:
        if config.resume:
            print(f"Nothing to resume in {files.variant_dir}: starting a new run")
        model = build_model(task, config, input_size, task.output_bias(train_y))
        compile_model(model, task, config)
        previous, schedule_start = {}, 0
        files.history.unlink(missing_ok=True)

    run = {
        "task": config.task,
        "variant": config.variant,
        "config": config.to_dict(),
        "input_size": input_size,
        "parameters": model.count_params(),
        "data": {"train": len(train_x), "val": len(val_x), "source": config.data},
        "epochs_done": previous.get("epochs_done", 0),
        "schedule_start": schedule_start,
        "best_epoch": previous.get("best_epoch"),
        "best_metric": task.monitor,
        "best_value": previous.get("best_value", math.inf),
        "total_wall_time_s": previous.get("total_wall_time_s", 0.0),
        "sessions": previous.get("sessions", []),
        "versions": {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    if config.start == "cydral":
        from model.pretrained import credit

        run["pretrained_from"] = credit(config.task)
    # With --ema, the average replaces the weights from each epoch's end to the next epoch's
    # start: validation, the shipped model and the checkpoint see the average (a resumed run
    # trains on from the average).
    swap_average = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if config.ema else []
    callbacks = [
        keras.callbacks.LearningRateScheduler(
            lambda epoch: learning_rate_at(epoch - schedule_start, config)
        ),
        *swap_average,
        EpochBookkeeping(files, task.monitor, run, config.max_minutes * 60, config.keep),
        keras.callbacks.EarlyStopping(task.monitor, patience=config.patience),
        keras.callbacks.CSVLogger(files.history, append=True),
    ]
    damage = replace(PhotoDamage().scaled(config.photo_damage), aged_print=config.aged_prints)
    if not any(asdict(damage).values()):
        damage = None
    teacher = None
    if config.damaged_from_pretrained:
        from model.pretrained import cydral_network

        teacher = cydral_network(config.task, input_size)
        teacher.trainable = False
    train_data = make_dataset(
        train_x,
        train_y,
        config.batch_size,
        True,
        config.augment,
        config.seed,
        damage,
        task.sample_weights(train_y, config.age_balance, config.relative_to_age),
        teacher,
    )
    model.fit(
        train_data,
        validation_data=val_data,
        epochs=schedule_start + config.epochs,
        initial_epoch=run["epochs_done"],
        callbacks=callbacks,
        shuffle=False,  # the dataset reshuffles itself every epoch
        verbose=1 if sys.stdout.isatty() else 2,
    )
    if config.task == "age":
        from model.calibration import calibrate_variant

        calibrate_variant(config.variant_dir, config.data, config.variant)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__)
    add_config_arguments(parser, TrainConfig)
    config = config_from_args(TrainConfig, parser.parse_args(argv))
    if config.task not in TASKS or config.variant not in ("full", "cropped"):
        parser.error("--task must be age or gender, --variant full or cropped")
    try:
        TASKS[config.task].loss_function(config.label_smoothing)
    except ValueError as error:
        parser.error(str(error))
    if config.start not in ("scratch", "cydral"):
        parser.error("--start must be scratch or cydral")
    if config.relative_to_age < 0:
        parser.error("--relative-to-age must be 0 (off) or a number of years above 0")
    if config.keep not in ("best", "last"):
        parser.error("--keep must be best or last")
    if config.damaged_from_pretrained and config.start != "cydral":
        parser.error("--damaged-from-pretrained needs --start cydral")
    run = train(config)
    print(
        json.dumps(
            {
                k: run[k]
                for k in (
                    "epochs_done",
                    "best_epoch",
                    "best_metric",
                    "best_value",
                    "total_wall_time_s",
                )
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
