"""The one object that says how a data set is prepared; every field is a CLI flag."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class PrepareConfig:
    size: int = field(default=96, metadata={"help": "side in pixels of the square arrays"})
    max_age: int = field(default=80, metadata={"help": "ages above this are removed"})
    toddler_max_age: int = field(
        default=4, metadata={"help": "ages 0..this count as toddlers and are downsampled"}
    )
    toddler_keep: float = field(
        default=1 / 3, metadata={"help": "share of toddler images kept (0..1)"}
    )
    val_fraction: float = field(default=0.15, metadata={"help": "share of images in val"})
    test_fraction: float = field(default=0.15, metadata={"help": "share of images in test"})
    seed: int = field(default=42, metadata={"help": "seed of the toddler sample and the split"})
    detect_max_side: int = field(
        default=128,
        metadata={"help": "chips are shrunk to this side for face detection (speed)"},
    )
    detect_batch: int = field(
        default=40, metadata={"help": "images per face-detector call (batched is faster)"}
    )

    @property
    def split_fractions(self) -> tuple[float, float, float]:
        return (1.0 - self.val_fraction - self.test_fraction, self.val_fraction, self.test_fraction)

    def to_dict(self) -> dict:
        return asdict(self)
