"""The browser edition's speed beside Python's: ``python benchmarks/bench_browser.py``.

Builds the static page (``python -m webapp.static``), serves it on loopback and opens it in
headless Chromium (WebAssembly, one thread: a Space is not cross-origin isolated). Measures,
in one run and on the same 1280x960 photo with one face:

* a cold page: the bytes it downloads and the seconds from opening it to the models being
  ready and to the first prediction;
* the median milliseconds per photo in the page (decoding, detection and both variants'
  models: ``window.ageGender.analyse``), and for one face's maps (CAM and occlusion, both
  models);
* the median milliseconds of ``Predictor.predict`` in Python for each variant (detection and
  the two models of that variant).

Prints the results and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIMED_ANALYSE = """
const started = performance.now();
const analysis = await window.ageGender.analyse(args[0]);
window.lastAnalysis = analysis;
return [performance.now() - started, analysis.variants.cropped.result.faces.length];
"""
TIMED_MAPS = """
const started = performance.now();
await window.ageGender.explain(window.lastAnalysis, "cropped", 0, args[0]);
return performance.now() - started;
"""
COLD = """
const opened = performance.timeOrigin;
while (!window.ageGender) await new Promise((resolve) => setTimeout(resolve, 10));
await window.ageGender.ready;
const ready = Date.now() - opened;
await window.ageGender.analyse(args[0]);
return [ready, Date.now() - opened];
"""


def _served_bytes(log: Path, site: Path, photo: str) -> int:
    """Bytes of the files the server sent whole (status 200), from its request log, but for
    the `photo`: all that a cold page downloads, the WebAssembly worker's requests included."""
    total = 0
    for line in log.read_text().splitlines():
        match = re.search(r'"GET (\S+) HTTP/[\d.]+" 200 ', line)
        if match and not match.group(1).endswith(photo):
            path = site / unquote(match.group(1).split("?")[0]).lstrip("/")
            total += (path / "index.html" if path.is_dir() else path).stat().st_size
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per measurement")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "browser.json"))
    args = parser.parse_args(argv)

    from model.predictor import Predictor
    from testkit.hostile import face_photo
    from testkit.serving import chromium, report, run_in_page, static_server
    from webapp.static import build

    with tempfile.TemporaryDirectory() as folder:
        site = build(Path(folder) / "site")
        photo_path = site / "photo_1280x960.png"
        face_photo(1280, 960).save(photo_path)
        log = Path(folder) / "requests.log"
        with open(log, "w") as requests, static_server(site, log=requests) as url:
            browser = chromium()
            try:
                browser.set_script_timeout(600)
                browser.get(url)
                ready_ms, first_ms = run_in_page(browser, COLD, f"{url}{photo_path.name}")
                requests.flush()
                results = {
                    "cold_page_bytes": _served_bytes(log, site, photo_path.name),
                    "cold_page_ready_s": round(ready_ms / 1000, 2),
                    "cold_page_first_prediction_s": round(first_ms / 1000, 2),
                }
                timings = [run_in_page(browser, TIMED_ANALYSE, f"{url}{photo_path.name}")
                           for _ in range(args.repeats + 1)][1:]  # fmt: skip
                results["faces_found"] = timings[0][1]
                results["browser_photo_both_variants_p50_ms"] = round(
                    statistics.median(ms for ms, _ in timings), 1
                )
                for method in ("cam", "occlusion"):
                    times = [run_in_page(browser, TIMED_MAPS, method) for _ in range(3)]
                    results[f"browser_{method}_both_models_p50_ms"] = round(
                        statistics.median(times), 1
                    )
                results["browser"] = browser.capabilities.get("browserVersion")
            finally:
                browser.quit()

        for variant in ("cropped", "full"):
            predictor = Predictor(variant)
            predictor.predict(photo_path)
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                predictor.predict(photo_path)
                times.append((time.perf_counter() - started) * 1000)
            results[f"python_predict_{variant}_p50_ms"] = round(statistics.median(times), 1)
    report(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
