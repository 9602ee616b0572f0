"""Face detection at each detection side: ``python benchmarks/bench_detection.py --wild data/wild
--source UTKFace.tar.gz --prepared data/prepared``.

The `FaceDetector` shrinks a photo to a longer side of at most `DETECT_MAX_SIDE` before MTCNN
looks at it; a smaller side is faster and misses more small faces. For each side of `--sides`:

1. the wild set: the photos in which a face is found (as ``metrics_wild.json`` counts them);
2. a group photo: 40 test chips of 40 to 100 pixels in a 1600x1000 scene, as a class photo
   has them: the placed faces found (a box centred inside one);
3. the median milliseconds of detection on the 1280x960 photo of ``bench_inference.py``.

Prints a table and writes JSON (``--out``) naming the fastest side that finds as many faces as
640 pixels on both sets.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

from data_prep import read_manifest  # noqa: E402
from data_prep.source import iter_source  # noqa: E402
from data_prep.wild import IMAGES, LABELS  # noqa: E402
from faces import FaceDetector, load_image  # noqa: E402
from testkit.hostile import face_photo  # noqa: E402
from testkit.serving import report  # noqa: E402

REFERENCE_SIDE = 640
GROUP_SIZE = (1600, 1000)
GROUP_GRID = (8, 5)
GROUP_CHIP_SIDES = (40, 50, 60, 70, 85, 100)


def group_photo(chips: list[Image.Image]) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """The chips in a grid over a soft background, each at one of `GROUP_CHIP_SIDES`, with
    the square each one covers (left, top, right, bottom)."""
    width, height = GROUP_SIZE
    columns, rows = GROUP_GRID
    ramp = np.linspace(70, 190, width, dtype=np.float32)
    scene = np.stack([np.tile(ramp, (height, 1)) * share for share in (0.9, 1.0, 0.8)], axis=-1)
    photo = Image.fromarray(scene.astype(np.uint8))
    cell_width, cell_height = width // columns, height // rows
    placed = []
    for index, chip in enumerate(chips[: columns * rows]):
        side = GROUP_CHIP_SIDES[index % len(GROUP_CHIP_SIDES)]
        left = (index % columns) * cell_width + (cell_width - side) // 2
        top = (index // columns) * cell_height + (cell_height - side) // 2
        photo.paste(chip.resize((side, side), Image.Resampling.LANCZOS), (left, top))
        placed.append((left, top, left + side, top + side))
    return photo, placed


def found_in_group(detector: FaceDetector, photo: Image.Image, placed: list) -> int:
    """How many placed chips hold the centre of a face the detector finds."""
    faces = detector.detect([photo])[0]
    centres = [(face.x + face.width / 2, face.y + face.height / 2) for face in faces]
    return sum(
        any(left <= x < right and top <= y < bottom for x, y in centres)
        for left, top, right, bottom in placed
    )


def test_split_chips(source: str, prepared: str, count: int) -> list[Image.Image]:
    manifest = read_manifest(prepared)
    names = set(manifest.loc[manifest["split"] == "test", "file"].head(count))
    return [load_image(data) for name, data in iter_source(source) if name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wild", required=True, help="a wild set (data_prep wild)")
    parser.add_argument("--source", required=True, help="the UTKFace folder or archive")
    parser.add_argument("--prepared", required=True, help="the prepared folder of the wild set")
    parser.add_argument("--sides", type=int, nargs="+", default=[640, 560, 480, 400, 320])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "detection.json"))
    args = parser.parse_args(argv)

    labels = pd.read_csv(Path(args.wild) / LABELS)
    wild = [load_image(Path(args.wild) / IMAGES / name) for name in labels["filename"]]
    group, placed = group_photo(
        test_split_chips(args.source, args.prepared, GROUP_GRID[0] * GROUP_GRID[1])
    )
    timed = face_photo(1280, 960)
    sides = {}
    for side in args.sides:
        detector = FaceDetector(max_side=side)
        found = sum(
            bool(faces)
            for photo in tqdm(wild, desc=f"Wild set at {side} px")
            for faces in detector.detect([photo])
        )
        times = []
        for _ in range(args.repeats + 1):
            started = time.perf_counter()
            detector.detect([timed])
            times.append((time.perf_counter() - started) * 1000)
        sides[side] = {
            "wild_found": found,
            "group_found": found_in_group(detector, group, placed),
            "detect_1280x960_p50_ms": round(statistics.median(times[1:]), 1),
        }
    reference = sides[REFERENCE_SIDE]
    enough = [
        side
        for side, result in sides.items()
        if result["wild_found"] >= reference["wild_found"]
        and result["group_found"] >= reference["group_found"]
    ]
    fastest = min(enough, key=lambda side: sides[side]["detect_1280x960_p50_ms"])
    report(
        {
            "wild_photos": len(wild),
            "group_faces": len(placed),
            "sides": sides,
            "fastest_side_as_good_as_640": fastest,
        },
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
