"""Frame rate of the demo's "Live camera" tab at 640x480: ``python benchmarks/bench_live.py``.

1. Handler: `webapp.live.label_frame` fed 640x480 camera frames back to back for `--seconds`,
   per variant: frames labelled per second, and label refreshes (finished face searches) per
   second, the rate at which boxes follow a moving face.
2. Browser: ``python app.py`` in a subprocess and headless Chromium whose fake camera plays a
   640x480 video of a drawn face; per variant, press Record and count the distinct labelled
   frames the page shows during `--seconds`.
Needs Debian's chromium and chromium-driver for part 2. Prints and writes JSON (``--out``).
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

COUNT_FRAMES = """
window.liveFrames = 0;
let last = null;
window.liveCounter = setInterval(() => {
  const img = document.querySelector("#%s img");
  if (img && img.src.startsWith("data:") && img.src !== last) {
    last = img.src;
    window.liveFrames++;
  }
}, 5);
"""


def handler_rates(seconds: float) -> dict:
    """Frames offered at the stream's pace (one per `STREAM_EVERY`), as the browser does."""
    import statistics

    import numpy as np

    from testkit.serving import camera_frames
    from webapp import live

    frames = [np.asarray(frame) for frame in camera_frames(30)]
    results = {}
    for variant in ("cropped", "full"):
        searches = []
        for frame in frames[:10]:
            started = time.perf_counter()
            live.find_faces(frame, variant)
            searches.append(time.perf_counter() - started)
        results[f"search_{variant}_p50_ms"] = round(statistics.median(searches) * 1000, 1)
        faces = live.label_frame(frames[0], variant)[1]
        labels, latencies, started = {}, [], time.perf_counter()
        while (now := time.perf_counter()) - started < seconds:
            _, faces = live.label_frame(frames[len(latencies) % len(frames)], variant, faces)
            labels[id(faces.labels)] = faces.labels  # held, so no id is reused
            latencies.append(time.perf_counter() - now)
            time.sleep(max(0.0, live.STREAM_EVERY - latencies[-1]))
        elapsed = time.perf_counter() - started
        results[f"handler_{variant}_p50_ms"] = round(statistics.median(latencies) * 1000, 1)
        results[f"handler_{variant}_fps"] = round(len(latencies) / elapsed, 1)
        results[f"handler_{variant}_label_refreshes_per_s"] = round(len(labels) / elapsed, 1)
    return results


def browser_rates(seconds: float) -> dict:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    from testkit.serving import (
        camera_frames,
        chromium,
        demo_process,
        fake_camera_flags,
        save_screenshot,
        write_y4m,
    )
    from webapp import live

    folder = Path(tempfile.mkdtemp(prefix="bench_live_"))
    video = write_y4m(folder / "camera.y4m", camera_frames(30))
    results = {}
    with demo_process(folder / "cache", cache_seconds=120) as url:
        for variant, label in (("cropped", "cropped-face"), ("full", "full-image")):
            browser = chromium(*fake_camera_flags(video))
            try:
                browser.get(url)
                wait = WebDriverWait(browser, 120)

                def click(xpath: str, wait=wait):
                    wait.until(ready.element_to_be_clickable((By.XPATH, xpath))).click()

                click("//button[@role='tab' and contains(., 'Live camera')]")
                click(f"//*[@id='{live.TAB_ID}']//label[contains(., '{label} model')]")
                click(f"//*[@id='{live.CAMERA_ID}']//button[contains(., 'Access Webcam')]")
                click(f"//*[@id='{live.CAMERA_ID}']//button[contains(., 'Record')]")
                wait.until(lambda b: b.execute_script(
                    f"const i = document.querySelector('#{live.FRAMES_ID} img');"
                    "return i && i.src.startsWith('data:');"))  # fmt: skip
                browser.execute_script(COUNT_FRAMES % live.FRAMES_ID)
                time.sleep(seconds)
                frames = browser.execute_script("return window.liveFrames;")
                results[f"browser_{variant}_fps"] = round(frames / seconds, 1)
                if variant == "cropped":
                    save_screenshot(browser, "live.png")
            finally:
                browser.quit()
    video.unlink()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--no-browser", action="store_true", help="only the handler")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "live.json"))
    args = parser.parse_args(argv)

    from testkit.serving import report

    results = {"frame": "640x480", "cpus": os.cpu_count(),
               "load_average_before": round(os.getloadavg()[0], 2)}  # fmt: skip
    results |= handler_rates(args.seconds / 2)
    if not args.no_browser:
        results |= browser_rates(args.seconds)
    results["load_average_after"] = round(os.getloadavg()[0], 2)
    report(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
