"""Throughput of the batch command (``python -m model.batch``), both variants:
``python benchmarks/bench_batch.py``.

Writes `--photos` JPEG photos of `--width` x `--height` pixels with one drawn face each into a
temporary folder, then for each variant loads the predictor and runs `model.batch` over the
folder, timing the run itself (decoding, detection, prediction; the one-off model load is
reported apart). Prints photos per second and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=960)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "batch.json"))
    args = parser.parse_args(argv)

    from model.batch import open_photos, predict_photos
    from model.predictor import Predictor
    from testkit.hostile import face_photo
    from testkit.serving import report

    folder = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    for index in range(args.photos):
        face_photo(args.width, args.height, seed=index).save(folder / f"{index:03}.jpg", quality=90)
    results = {"photos": args.photos, "size": f"{args.width}x{args.height}", "cpus": os.cpu_count(),
               "load_average_before": round(os.getloadavg()[0], 2)}  # fmt: skip
    for variant in ("cropped", "full"):
        started = time.perf_counter()
        predictor = Predictor(variant)
        results[f"{variant}_load_s"] = round(time.perf_counter() - started, 2)
        with open_photos([folder]) as (photos, skipped):
            result = predict_photos(photos, predictor, skipped)
        assert result.read == args.photos, result.summary()
        results[f"{variant}_photos_per_s"] = round(result.photos_per_second, 2)
        results[f"{variant}_faces"] = result.faces
    results["load_average_after"] = round(os.getloadavg()[0], 2)
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    report(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
