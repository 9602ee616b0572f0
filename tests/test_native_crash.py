"""TensorFlow never takes the interpreter down: the explainers run in a child process, started
as any entry point starts, and a native crash there becomes a failure that names the signal."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from model.explain import METHODS

ROOT = Path(__file__).resolve().parent.parent
ONEDNN = "TF_ENABLE_ONEDNN_OPTS"

EXPLAIN_ONE_FACE = """
import numpy as np

import model  # what every entry point imports before TensorFlow
from model.config import TrainConfig
from model.explain import METHODS, Explainer
from model.networks import build_model
from model.tasks import TASKS

face = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
for task in ("age", "gender"):
    network = build_model(TASKS[task], TrainConfig(stem_width=8, widths=(8, 16, 16)), 32)
    explainer = Explainer(network, task)
    for method in METHODS:
        # one face: a batch of one, whose gradient crashed oneDNN on AVX-512 CPUs
        explainer.explain(face, method)
        print(task, method, "ok", flush=True)
"""


def run_child(code: str, **env: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter at the repository root, with the user's environment
    minus any oneDNN setting, plus `env`."""
    environment = {k: v for k, v in os.environ.items() if k != ONEDNN} | env
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_explainer_runs_on_a_small_real_model_without_a_native_crash():
    child = run_child(EXPLAIN_ONE_FACE)
    if child.returncode < 0:
        done = child.stdout.strip().splitlines()
        pytest.fail(
            f"the child process was killed by {signal.Signals(-child.returncode).name} "
            f"after {len(done)} maps (last: {done[-1] if done else 'none'}); "
            f"stderr ends: {child.stderr[-1500:]}"
        )
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.count(" ok") == 2 * len(METHODS)


@pytest.mark.parametrize(("users_value", "expected"), [(None, "0"), ("1", "1")])
def test_onednn_is_off_unless_the_user_says_otherwise(users_value, expected):
    env = {} if users_value is None else {ONEDNN: users_value}
    child = run_child(f"import os, data_prep; print(os.environ['{ONEDNN}'])", **env)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == expected


def test_importing_tensorflow_first_is_warned_about():
    child = run_child("import tensorflow, data_prep")
    assert child.returncode == 0, child.stderr
    assert "TensorFlow was imported before faces" in child.stderr
