"""Refresh the README's screenshots in benchmarks/screenshots: ``python benchmarks/screenshots.py``.

Runs the browser tests that take them (the demo, its occlusion maps, the dashboard, the browser
edition) with their screenshot folder set to benchmarks/screenshots (`testkit.serving
.save_screenshot`); without this, tests save them in a temporary folder. ``--live`` also runs
benchmarks/bench_live.py, whose camera screenshot is live.png (a few minutes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TESTS = [
    "tests/test_demo.py::test_page_shows_the_labelled_result_in_chromium",
    "tests/test_demo.py::test_occlusion_map_and_its_verdict_in_chromium",
    "tests/test_dashboard.py::test_dashboard_shows_prediction_cards_in_chromium",
    "tests/test_static.py::test_using_the_page_sends_no_photo_anywhere",
]


def main(argv: list[str] | None = None) -> int:
    from testkit.serving import SCREENSHOTS_DIR

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--live", action="store_true", help="also the live camera's screenshot")
    args = parser.parse_args(argv)
    env = dict(os.environ, **{SCREENSHOTS_DIR: str(ROOT / "benchmarks" / "screenshots")})
    commands = [[sys.executable, "-m", "pytest", "-q", *TESTS]]
    if args.live:
        commands.append([sys.executable, "benchmarks/bench_live.py"])
    for command in commands:
        if subprocess.run(command, cwd=ROOT, env=env).returncode != 0:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
