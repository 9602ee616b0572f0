"""Helpers for tests and benchmarks that serve the apps on loopback and drive headless Chromium."""

from __future__ import annotations

import shutil
import socket
import time
import urllib.request

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--window-size=1400,1600")  # fmt: skip


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


def chromium():
    """Headless Debian Chromium through selenium and chromedriver."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or ""
    return webdriver.Chrome(
        service=webdriver.ChromeService(shutil.which("chromedriver")), options=options
    )
