"""Command line.

python -m data_prep prepare --source PATH --out DIR [--size 96 ...]
python -m data_prep wild --source PATH --prepared DIR --out DIR [--seed 0 ...]
"""

from __future__ import annotations

import argparse
import json
import sys

from data_prep.config import PrepareConfig, add_config_arguments, config_from_args
from data_prep.prepare import prepare
from data_prep.source import SourceError
from data_prep.wild import WildConfig, build_wild_set


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_prep")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("prepare", help="prepare UTKFace for training")
    run.add_argument(
        "--source", required=True, help="UTKFace folder, or its .tar.gz / .zip archive"
    )
    run.add_argument("--out", required=True, help="folder to write the prepared data set to")
    add_config_arguments(run, PrepareConfig)
    wild = commands.add_parser("wild", help="make photo-like test pictures from chips")
    wild.add_argument("--source", required=True, help="the UTKFace folder or archive")
    wild.add_argument("--prepared", required=True, help="the folder prepared from it")
    wild.add_argument("--out", required=True, help="folder to write the pictures to")
    add_config_arguments(wild, WildConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = vars(_parser().parse_args(argv))
    if args["command"] == "wild":
        report = build_wild_set(
            args["source"], args["prepared"], args["out"], config_from_args(WildConfig, args)
        )
        print(json.dumps(report, indent=2))
        return 0
    config = config_from_args(PrepareConfig, args)
    try:
        report = prepare(args["source"], args["out"], config)
    except (SourceError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = {key: report[key] for key in ("files", "rebalance", "timings")}
    summary["detector"] = {k: v for k, v in report["detector"].items() if k != "fallback_files"}
    summary["splits"] = {s: report["distributions"][s]["count"] for s in ("train", "val", "test")}
    print(json.dumps(summary, indent=2))
    print(f"Wrote {args['out']}/manifest.csv, arrays and report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
