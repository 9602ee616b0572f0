"""Inference benchmark on the shipped models: ``python benchmarks/bench_inference.py``.

Measures the cold start (a fresh interpreter importing the package and loading one variant),
the median latency of a prediction per variant on a 1280x960 photo with one face (decoding,
detection and alignment included) and of its two models alone on the aligned face (age and
gender, each averaged with the mirrored face), the median latency of each explanation method
for one face and one model (for occlusion and integrated gradients also for both models, as
the demo shows them), and the peak resident memory. Prints a table and writes JSON (``--out``) with
the oneDNN setting it ran under (``TF_ENABLE_ONEDNN_OPTS=1 python benchmarks/bench_inference.py
--methods`` times the predictions with oneDNN on: the maps crash it on AVX-512 CPUs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {
    "cold_start_s": 15,
    "predict_full_p50_ms": 80,
    "predict_cropped_p50_ms": 80,
    "models_full_p50_ms": 40,
    "models_cropped_p50_ms": 40,
    "explain_gradcam_p50_ms": 200,
    "explain_gradcam++_p50_ms": 200,
    "explain_smoothgrad_p50_ms": 1500,
    "explain_scorecam_p50_ms": 3000,
    "explain_occlusion_p50_ms": 750,
    "explain_integrated_gradients_p50_ms": 1000,
    "explain_occlusion_both_models_p50_ms": 1500,
    "explain_integrated_gradients_both_models_p50_ms": 2000,
    "peak_rss_mb": 2048,
}
COLD_START = "from model.predictor import Predictor; Predictor('{variant}')"


def p50_ms(function, arguments: tuple, repeats: int) -> float:
    """Median milliseconds of ``function(*arguments)`` after one untimed warm-up call."""
    function(*arguments)  # the first call builds and traces: not what a user waits for later
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(*arguments)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per measurement")
    parser.add_argument("--photo", help="photo with one face (default: a drawn face, 1280x960)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "inference.json"))
    parser.add_argument(
        "--methods", nargs="*", help="map methods to time (default: all; none: predictions only)"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", COLD_START.format(variant="cropped")], cwd=ROOT,
                   check=True, capture_output=True)  # fmt: skip
    results = {"cold_start_s": round(time.perf_counter() - started, 2)}

    import numpy as np

    from faces import load_image
    from model.explain import METHODS
    from model.predictor import Predictor
    from testkit.hostile import face_photo

    photo = np.asarray(load_image(args.photo) if args.photo else face_photo(1280, 960))
    predictors = {variant: Predictor(variant) for variant in ("full", "cropped")}
    faces = {}
    for variant, predictor in predictors.items():
        results[f"predict_{variant}_p50_ms"] = p50_ms(predictor.predict, (photo,), args.repeats)
        [faces[variant]] = predictor.predict(photo).faces
        results[f"models_{variant}_p50_ms"] = p50_ms(
            predictor.predict_faces, (faces[variant].face[None],), args.repeats
        )
    face = faces["cropped"]
    explainer = predictors["cropped"].explainer("age")
    for method in METHODS if args.methods is None else args.methods:
        slow = method in ("smoothgrad", "scorecam", "occlusion", "integrated_gradients")
        repeats = max(3, args.repeats // 4) if slow else args.repeats
        results[f"explain_{method}_p50_ms"] = p50_ms(
            explainer.explain, (face.face, method), repeats
        )
        if method in ("occlusion", "integrated_gradients"):  # what the demo waits for: both maps
            results[f"explain_{method}_both_models_p50_ms"] = p50_ms(
                predictors["cropped"].explain, (face, method), repeats
            )
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    print(f"{'measure':48} {'value':>10} {'target':>10}  ok")
    for key, value in results.items():
        target = TARGETS.get(key)
        verdict = "" if target is None else ("yes" if value <= target else "NO")
        print(f"{key:48} {value:>10} {target if target is not None else '-':>10}  {verdict}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {"TF_ENABLE_ONEDNN_OPTS": os.environ["TF_ENABLE_ONEDNN_OPTS"]}
    out.write_text(json.dumps({"results": results, "targets": TARGETS, **settings}, indent=2))
    print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
