"""The one object that says how a data set is prepared; every field is a CLI flag."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field, fields


@dataclass(frozen=True)
class PrepareConfig:
    size: int = field(default=64, metadata={"help": "side in pixels of the square arrays"})
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


def add_config_arguments(parser: argparse.ArgumentParser, config_class: type) -> None:
    """One ``--kebab-name`` flag per field of a config dataclass, typed and documented.

    Each field needs ``metadata={"help": ...}``; its default is the flag's default.
    """
    for option in fields(config_class):
        default = option.default
        kind = type(default)
        flag = f"--{option.name.replace('_', '-')}"
        if kind is bool:
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=option.metadata["help"],
            )
        elif isinstance(default, tuple):
            parser.add_argument(
                flag,
                type=type(default[0]),
                nargs="+",
                default=default,
                help=f"{option.metadata['help']} (default: {default})",
            )
        else:
            parser.add_argument(
                flag,
                type=kind,
                default=default,
                help=f"{option.metadata['help']} (default: {default:g})"
                if kind in (int, float)
                else option.metadata["help"],
            )


def config_from_args(config_class: type, args: argparse.Namespace | dict):
    """Build `config_class` from parsed arguments (as added by `add_config_arguments`)."""
    values = args if isinstance(args, dict) else vars(args)
    return config_class(
        **{
            option.name: tuple(values[option.name])
            if isinstance(option.default, tuple)
            else values[option.name]
            for option in fields(config_class)
        }
    )
