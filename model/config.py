"""One config object per training run; every field is a ``python -m model.train`` flag."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from data_prep.dataset import VARIANTS  # noqa: F401  (the layout names a folder per variant)

VARIANT_NAMES = {"full": "full-image", "cropped": "cropped-face"}
"""How the variants are called in words."""

WEIGHTS_DIR = Path(
    os.environ.get("AGE_GENDER_WEIGHTS", Path(__file__).resolve().parent / "weights")
)
"""The shipped models; the environment variable AGE_GENDER_WEIGHTS points elsewhere."""


@dataclass(frozen=True)
class TrainConfig:
    task: str = field(default="age", metadata={"help": "age or gender"})
    variant: str = field(default="cropped", metadata={"help": "full or cropped"})
    data: str = field(default="data/prepared", metadata={"help": "prepared data folder"})
    out: str = field(default=str(WEIGHTS_DIR), metadata={"help": "weights folder"})
    epochs: int = field(default=30, metadata={"help": "total epochs of the schedule"})
    batch_size: int = field(default=64, metadata={"help": "images per step"})
    learning_rate: float = field(default=2e-3, metadata={"help": "peak learning rate (AdamW)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    warmup_epochs: int = field(default=1, metadata={"help": "linear warm-up before cosine decay"})
    start: str = field(
        default="scratch",
        metadata={
            "help": "scratch: the compact ResNet below (--stem-width, --widths, "
            "--blocks-per-stage), trained from random weights; cydral: Cydral Technology's CC0 "
            "age or gender network (model.pretrained; needs requirements-bench.txt), with this "
            "project's head, fine-tuned"
        },
    )
    stem_width: int = field(default=32, metadata={"help": "channels of the stride-2 stem"})
    widths: tuple[int, ...] = field(
        default=(64, 128, 256), metadata={"help": "channels of each stride-2 stage"}
    )
    blocks_per_stage: int = field(default=1, metadata={"help": "residual blocks per stage"})
    contrast: bool = field(
        default=False,
        metadata={
            "help": "normalise each face's brightness and contrast in the model's first layer "
            "(model.blocks.ContrastNormalization), so faded and dark photos look like clean ones"
        },
    )
    contrast_below: float = field(
        default=0.0,
        metadata={
            "help": "with --contrast: normalise only faces whose luminance std is below this "
            "(softly; a clean chip's is about 52), leaving clean faces as they are; 0: every face"
        },
    )
    dropout: float = field(default=0.3, metadata={"help": "dropout before the output unit"})
    ema: float = field(
        default=0.0,
        metadata={
            "help": "keep an exponential moving average of the weights with this momentum "
            "per step (e.g. 0.999); validation and the saved models use the average; 0: off"
        },
    )
    augment: bool = field(default=True, metadata={"help": "flip/shift/rotate/zoom/colour"})
    photo_damage: float = field(
        default=1.0,
        metadata={
            "help": "how often photo damage (grey, fading, casts, blur, JPEG, noise, cutout) "
            "is applied: scales every share of model.augment.PhotoDamage; 0: never"
        },
    )
    aged_prints: float = field(
        default=0.0,
        metadata={
            "help": "share of training faces first made into scanned old prints (faded dyes, "
            "soft optics, flash and shadow, paper or halftone: data_prep.wild.aged_print), "
            "before the photo damage; 0: none"
        },
    )
    damaged_from_pretrained: bool = field(
        default=False,
        metadata={
            "help": "with --start cydral: a damaged face (--photo-damage, --aged-prints) learns "
            "what the pretrained network, as published, answers for it, not its label; so "
            "fine-tuning changes the answers for clean faces, while unfamiliar pictures keep the "
            "pretrained network's answers instead of being pulled towards UTKFace's mean"
        },
    )
    age_balance: float = field(
        default=0.5,
        metadata={
            "help": "age only: weight rows by their 5-year band's count to this power, "
            "negated (0: equal weights, 1: every band weighs the same)"
        },
    )
    relative_to_age: float = field(
        default=0.0,
        metadata={
            "help": "age only: also weight rows by (age + this many years) to the power -2, "
            "so an error counts relative to the age and children's ages are learnt more "
            "finely (10: a 5-year-old's error weighs 7 times a 30-year-old's); 0: off"
        },
    )
    label_smoothing: float = field(
        default=0.0,
        metadata={
            "help": "gender only: binary cross-entropy towards s/2 and 1-s/2 instead of 0 and 1, "
            "so the model cannot grow over-confident on the training faces; 0: off"
        },
    )
    keep: str = field(
        default="best",
        metadata={
            "help": "which epoch ships: best (best validation metric; when resuming from the "
            "shipped model, it must beat that model) or last (the end of the schedule, for a "
            "changed training goal the clean validation metric does not measure)"
        },
    )
    patience: int = field(default=8, metadata={"help": "early-stopping patience in epochs"})
    max_minutes: float = field(
        default=60.0, metadata={"help": "stop before an epoch that would end past this"}
    )
    limit: int = field(default=0, metadata={"help": "use only the first N images (0: all)"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    resume: bool = field(
        default=False,
        metadata={
            "help": "continue from the last checkpoint and its optimizer; without one, with "
            "another --ema or --label-smoothing, or with more --blocks-per-stage or a larger "
            "input size (the data's) than the saved model, from the saved model (grown: "
            "model.networks.grow) with a fresh optimizer and a new schedule of --epochs"
        },
    )

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def variant_dir(self) -> Path:
        return Path(self.out) / self.variant


@dataclass(frozen=True)
class ModelFiles:
    """Where one task's artefacts live in a variant's weights folder."""

    variant_dir: Path
    task: str

    @property
    def model(self) -> Path:
        """The shipped inference model (no optimizer state)."""
        return self.variant_dir / f"{self.task}.keras"

    @property
    def history(self) -> Path:
        """Per-epoch losses and metrics, train and val, across resumes (CSV)."""
        return self.variant_dir / f"{self.task}_history.csv"

    @property
    def run_info(self) -> Path:
        """What produced the model: data counts, config, epochs, wall time, versions (JSON)."""
        return self.variant_dir / f"{self.task}_run.json"

    @property
    def resume(self) -> Path:
        """The last epoch's model with its optimizer state, for ``--resume``."""
        return self.variant_dir / f"{self.task}.resume.keras"


# The weights folder's layout: a folder per variant (VARIANTS) with its models (ModelFiles) and
# the files below, which commands write there and the front ends read.
CALIBRATION_FILE = "calibration.json"
METRICS_FILE = "metrics.json"
SANITY_FILE = "sanity.json"
"""The methods' sanity check (model.sanity)."""
AVERAGE_MAPS_DIR = "average_maps"
"""The average Grad-CAM pictures (model.average_maps), with their index file."""
AVERAGE_MAPS_INDEX = "index.json"


def metrics_file(split: str) -> str:
    """The name of a variant's evaluation on `split`: ``metrics.json`` for the test split,
    ``metrics_<split>.json`` for train, val and the wild set (``"wild"``)."""
    return METRICS_FILE if split == "test" else METRICS_FILE.replace(".json", f"_{split}.json")


EXPORT_DIR = "onnx"
"""Folder in the weights folder of the ONNX export of every shipped model (``model.export``)."""
EXPORT_MANIFEST = "manifest.json"
"""What a runtime needs besides the networks, in the export folder."""

DATA_REPORT_FILE = "data_report.json"
"""A copy of data_prep's report.json of the training data, in the weights folder."""
