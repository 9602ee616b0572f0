"""Helpers for tests and benchmarks that serve the apps on loopback and drive headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--window-size=1400,1600")  # fmt: skip


SCREENSHOTS_DIR = "SCREENSHOTS_DIR"
"""Environment variable: the folder the browser tests save their screenshots in (the README's
pictures: `python benchmarks/screenshots.py` sets it to benchmarks/screenshots); unset, they
go to a temporary folder, so tests leave the repository as it was."""


def save_screenshot(browser, name: str, colours: int | None = None) -> Path:
    """The browser's window as a PNG named `name` in the screenshot folder; with `colours`,
    reduced to that many colours (a tall page stays a few hundred kB)."""
    folder = Path(os.environ.get(SCREENSHOTS_DIR) or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    browser.save_screenshot(str(path))
    if colours:
        picture = Image.open(path).convert("RGB")
        picture.quantize(colours, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


def report(results: dict, out: str | Path) -> Path:
    """Print a benchmark's results and write them as JSON to `out` (folders made as needed)."""
    text = json.dumps(results, indent=2)
    print(text)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"Wrote {out}")
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_url(url: str, seconds: float = 180, server=None) -> None:
    """Poll `url` until it answers; fail early if the `server` process has exited."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if server is not None and server.poll() is not None:
                raise RuntimeError(f"the server for {url} exited during start-up") from None
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


@contextmanager
def _serving(
    command: list[str], port: int, cwd: Path, env: dict | None = None, log=None
) -> Iterator[str]:
    """`command` run in `cwd` as a server on loopback `port` until the block ends; yields its
    URL once it answers. `log`: an open file for its standard error."""
    server = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_url(url, server=server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def demo_process(cache: Path, cache_seconds: int):
    """``python app.py`` in a subprocess on a free loopback port, with its Gradio cache in the
    folder `cache` (emptied of old files every `cache_seconds`); yields its URL."""
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_TEMP_DIR=str(cache),
               DEMO_CACHE_SECONDS=str(cache_seconds))  # fmt: skip
    return _serving([sys.executable, "app.py"], port, ROOT, env)


def static_server(folder: Path, log=None):
    """``python -m http.server`` serving `folder` on a free loopback port; yields its URL.
    `log`: an open file that receives its request log."""
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    return _serving(command, port, folder, log=log)


def run_in_page(browser, body: str, *args):
    """Runs the body of an async JavaScript function in the page, with `args` as ``args``;
    returns its JSON-able result, or raises with the page's error."""
    script = (
        "const done = arguments[arguments.length - 1];"
        "const args = Array.from(arguments).slice(0, -1);"
        f"(async () => {{ {body} }})()"
        ".then((r) => done({ok: r}), (e) => done({error: String(e && e.stack || e)}));"
    )
    answer = browser.execute_async_script(script, *args)
    if "error" in answer:
        raise RuntimeError(f"in the page: {answer['error']}")
    return answer["ok"]


def camera_frames(count: int = 10, width: int = 640, height: int = 480) -> list[Image.Image]:
    """Frames of a photo with one drawn face (`testkit.hostile.face_photo`), the face drifting a
    few pixels sideways from frame to frame: what a fake camera plays."""
    from testkit.hostile import face_photo

    photo = np.asarray(face_photo(width, height, seed=3))
    return [Image.fromarray(np.roll(photo, 4 * (i - count // 2), axis=1)) for i in range(count)]


def write_y4m(path: Path, frames: list[Image.Image], fps: int = 30) -> Path:
    """A raw YUV 4:2:0 video (even width and height) that Chromium plays as a fake camera."""
    width, height = frames[0].size
    with open(path, "wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            luma, blue, red = frame.convert("YCbCr").split()
            video.write(b"FRAME\n" + luma.tobytes())
            for chroma in (blue, red):
                video.write(
                    chroma.resize((width // 2, height // 2), Image.Resampling.BOX).tobytes()
                )
    return path


def fake_camera_flags(video: Path) -> tuple[str, ...]:
    """Chromium flags that grant camera access without asking and play `video` as the camera."""
    return ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}")  # fmt: skip


def chromium(*flags: str, log_requests: bool = False):
    """Headless Debian Chromium through selenium and chromedriver, with extra `flags`; with
    `log_requests`, every network request goes to ``browser.get_log("performance")``."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS + flags:
        options.add_argument(flag)
    if log_requests:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    options.binary_location = shutil.which("chromium") or ""
    return webdriver.Chrome(
        service=webdriver.ChromeService(shutil.which("chromedriver")), options=options
    )
