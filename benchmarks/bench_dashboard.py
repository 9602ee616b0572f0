"""Dashboard timings in headless Chromium: ``python benchmarks/bench_dashboard.py``.

Starts ``python -m webapp.dashboard`` on a free port, measures the time until it answers, then
for each variant uploads a photo with one face and measures the time until the prediction card
appears and until the saliency maps appear. Needs Debian's chromium and chromium-driver.
Prints the figures and writes JSON (``--out``) and a screenshot beside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dashboard.json"))
    args = parser.parse_args(argv)

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    from testkit.hostile import face_photo
    from testkit.serving import chromium, wait_for_url

    photo = Path(tempfile.mkdtemp()) / "face.jpg"
    face_photo(1280, 960, seed=7).save(photo)
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "webapp.dashboard", "--port", str(args.port)], cwd=ROOT
    )
    url = f"http://127.0.0.1:{args.port}/"
    wait_for_url(url, server=server)
    results = {"startup_s": round(time.perf_counter() - started, 2)}
    browser = chromium()
    try:
        for variant in ("full", "cropped"):
            browser.get(url)
            wait = WebDriverWait(browser, 120)
            wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#upload input")))
            label = {"full": "full-image model", "cropped": "cropped-face model"}[variant]
            choice = f"//*[@id='predict-variant']//label[contains(., '{label}')]"
            browser.find_element(By.XPATH, choice).click()
            upload = browser.find_element(By.CSS_SELECTOR, "#upload input")
            started = time.perf_counter()
            upload.send_keys(str(photo))
            wait.until(ready.presence_of_element_located((By.CLASS_NAME, "prediction-card")))
            results[f"upload_to_cards_{variant}_s"] = round(time.perf_counter() - started, 2)
            wait.until(ready.text_to_be_present_in_element((By.ID, "maps"), "Gender model"))
            results[f"upload_to_maps_{variant}_s"] = round(time.perf_counter() - started, 2)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(out.with_suffix(".png")))
    finally:
        browser.quit()
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(results, indent=2))
    out.write_text(json.dumps(results, indent=2))
    print(f"Wrote {out} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
