"""Shared fixtures: synthetic UTKFace-style sources and one prepared folder per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_prep import PrepareConfig, prepare
from faces import FaceDetector
from testkit.synthetic import write_utkface_folder

SMALL_CONFIG = PrepareConfig(size=32, detect_batch=16)


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    """One MTCNN for the whole session (loading it takes seconds)."""
    return FaceDetector(max_side=SMALL_CONFIG.detect_max_side)


@pytest.fixture(scope="session")
def utk_folder(tmp_path_factory) -> Path:
    """40 drawn-face chips with UTKFace names, ages 0-95."""
    folder = tmp_path_factory.mktemp("utk") / "UTKFace"
    write_utkface_folder(folder, n=40)
    return folder


@pytest.fixture(scope="session")
def prepared(tmp_path_factory, utk_folder, detector) -> tuple[Path, dict]:
    """`utk_folder` prepared once: (output folder, report)."""
    out = tmp_path_factory.mktemp("prepared")
    return out, prepare(utk_folder, out, SMALL_CONFIG, detector)


@pytest.fixture(scope="session")
def smoke_weights(prepared, tmp_path_factory) -> Path:
    """Tiny age and gender models for both variants, one epoch on the synthetic prepared set,
    trained through the CLI (a weights folder laid out like model/weights)."""
    from model.train import main as train_main

    out = tmp_path_factory.mktemp("weights")
    for variant in ("full", "cropped"):
        for task in ("age", "gender"):
            arguments = ["--task", task, "--variant", variant, "--data", str(prepared[0]),
                         "--out", str(out), "--epochs", "1", "--batch-size", "8",
                         "--stem-width", "8", "--widths", "8", "16"]  # fmt: skip
            assert train_main(arguments) == 0
    return out
