"""Load and memory benchmark of the Gradio demo, on loopback: ``python benchmarks/bench_load.py``.

1. Starts ``python app.py`` on a free port and warms it.
2. Load: `--clients` gradio_client clients call ``/predict`` for `--seconds`, alternating the
   full and cropped models; reports throughput, p50/p95/p99 latency and errors per variant.
3. Queue bound: submits more requests at once than the queue holds and counts the polite
   rejections; then checks that a normal request is answered.
4. Memory: `--memory-calls` sequential predictions, each followed by its saliency maps (the
   UI's own events), and the server's resident memory after the first 50 and after all.
Prints a table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testkit.serving import free_port, wait_for_url  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 3)


def start_app(port: int, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port))
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                              stdout=log_path.open("w"), stderr=subprocess.STDOUT)  # fmt: skip
    wait_for_url(f"http://127.0.0.1:{port}/", server=server)
    return server


def load_phase(url: str, photo: str, clients: int, seconds: float) -> dict:
    from gradio_client import Client, handle_file

    records: list[tuple[str, float, str | None]] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(number: int) -> None:
        client = Client(url, verbose=False)
        call = number
        while time.perf_counter() < deadline:
            variant = ("full", "cropped")[call % 2]
            call += 1
            started = time.perf_counter()
            try:
                client.predict(handle_file(photo), variant, api_name="/predict")
                error = None
            except Exception as exception:  # noqa: BLE001 - every failure is counted
                error = f"{type(exception).__name__}: {exception}"
            with lock:
                records.append((variant, time.perf_counter() - started, error))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    result = {"clients": clients, "seconds": round(wall, 1), "requests": len(records),
              "throughput_per_s": round(len(records) / wall, 2),
              "errors": sum(error is not None for _, _, error in records),
              "error_examples": sorted({e for _, _, e in records if e})[:3]}  # fmt: skip
    for variant in ("full", "cropped"):
        times = [t for v, t, e in records if v == variant and e is None]
        result[variant] = {"n": len(times)} | {
            f"p{q}_s": percentile(times, q) for q in (50, 95, 99)
        }
    return result


def queue_phase(url: str, photo: str, burst: int) -> dict:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    jobs = [client.submit(handle_file(photo), "cropped", api_name="/predict") for _ in range(burst)]
    answered, rejected, messages = 0, 0, set()
    for job in jobs:
        try:
            job.result(timeout=120)
            answered += 1
        except Exception as exception:  # noqa: BLE001 - a rejection arrives as an exception
            rejected += 1
            messages.add(str(exception)[:160])
    after = client.predict(handle_file(photo), "full", api_name="/predict")
    return {"burst": burst, "answered": answered, "rejected": rejected,
            "rejection_messages": sorted(messages)[:3],
            "answers_after": len(after["faces"]) == 1}  # fmt: skip


def memory_phase(url: str, photo: str, pid: int, calls: int) -> dict:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    methods = ("gradcam", "saliency", "gradcam++", "smoothgrad")
    rss = {}
    for call in range(1, calls + 1):
        variant = ("cropped", "full")[call % 2]
        client.predict(handle_file(photo), variant, api_name="/analyse")
        client.predict(0, methods[call % len(methods)], 0.5, api_name="/face_maps")
        if call in (50, calls):
            rss[call] = rss_mb(pid)
    return {"calls": calls, "rss_after_50_mb": rss.get(50), f"rss_after_{calls}_mb": rss[calls],
            "growth_mb": round(rss[calls] - rss.get(50, rss[calls]), 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--burst", type=int, default=40, help="requests submitted at once")
    parser.add_argument("--memory-calls", type=int, default=500, help="0 skips the memory phase")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "load.json"))
    args = parser.parse_args(argv)

    from testkit.hostile import face_photo

    work = Path(tempfile.mkdtemp(prefix="bench_load_"))
    photo = str(work / "face.jpg")
    face_photo(1280, 960, seed=7).save(photo, quality=90)
    port = free_port()
    started = time.perf_counter()
    server = start_app(port, work / "app.log")
    url = f"http://127.0.0.1:{port}/"
    results = {"ready_s": round(time.perf_counter() - started, 1)}
    try:
        from gradio_client import Client, handle_file

        warm = Client(url, verbose=False)
        for variant in ("full", "cropped"):
            warm.predict(handle_file(photo), variant, api_name="/predict")
        for variant in ("full", "cropped"):
            started = time.perf_counter()
            warm.predict(handle_file(photo), variant, api_name="/predict")
            results[f"one_predict_{variant}_s"] = round(time.perf_counter() - started, 3)
        results["load"] = load_phase(url, photo, args.clients, args.seconds)
        results["queue"] = queue_phase(url, photo, args.burst)
        if args.memory_calls:
            results["memory"] = memory_phase(url, photo, server.pid, args.memory_calls)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(results, indent=2))
    load = results["load"]
    print(
        f"\nthroughput {load['throughput_per_s']}/s, errors {load['errors']}, full p95 "
        f"{load['full']['p95_s']} s (target < 3), cropped p95 {load['cropped']['p95_s']} s; "
        f"queue: {results['queue']['rejected']} of {args.burst} politely rejected; "
        f"memory growth {results.get('memory', {}).get('growth_mb')} MB (target <= 100)"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
