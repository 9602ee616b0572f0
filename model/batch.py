"""Many photos at once: a folder (recursive), a zip or a list of files to one CSV row per face.

    python -m model.batch photos/ --variant cropped --out results.csv
    python -m model.batch photos.zip --variant full --out results.csv

In Python (what the demo's "Many photos" tab calls):

    with open_photos(["photos.zip"]) as (photos, skipped):
        result = predict_photos(photos, Predictor("cropped"), skipped)
    write_csv(result.rows, "results.csv")

Every face is a row (`COLUMNS`); a photo without a face gets one row saying so, a file that
cannot be read one row with the reason, and nothing stops the run. JPEG, PNG and WebP files
are read (by their content, whatever their name); other files get a "skipped" row.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from data_prep.source import is_hidden
from faces import ImageError
from model.predictor import FRAMING_GUESS, FRAMING_WHOLE, VARIANT_NAMES, Predictor

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
COLUMNS = ("file", "face", "x", "y", "width", "height", "age", "age_80_low", "age_80_high",
           "age_group", "gender", "gender_probability", "status", "reason")  # fmt: skip
"""CSV columns. ``face`` counts from 1 (largest first); the box (x, y, width, height) is in the
photo's own pixels; ``status`` is "face", "no face", "best guess" or "whole picture" (no face
found, and the full-image model judged the most face-like part of the photo, or the whole
photo), "unreadable" or "skipped"."""
NO_FACE = "no face found"
BEST_GUESS = (
    "no clear face found; the full-image model judged the most face-like part of the photo "
    "(a rough answer)"
)
WHOLE_PICTURE = "no face found; the full-image model judged the whole picture (a rough answer)"
SKIPPED = "not a JPEG, PNG or WebP file"


@dataclass(frozen=True)
class Photo:
    """One file to predict: its name in the CSV, its (uncompressed) size and how to read it."""

    name: str
    size: int
    reader: Callable[[], bytes] = field(repr=False)

    def read(self) -> bytes:
        return self.reader()

    def pixels(self) -> int:
        """Width x height from the file's header (no decoding); 0 if it cannot be read."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(self.read())) as image:
                    return image.width * image.height
        except Exception:  # noqa: BLE001 - an unreadable file is reported when it is predicted
            return 0


def _row(name: str, status: str, reason: str = "", **values) -> dict:
    return {column: "" for column in COLUMNS} | {"file": name, "status": status,
                                                   "reason": reason} | values  # fmt: skip


def _archive_photos(path: Path, label: str, stack: ExitStack) -> tuple[list[Photo], list[dict]]:
    """The photos of a zip, read lazily member by member and named ``label/member``, and rows
    for its other files."""
    try:
        archive = stack.enter_context(zipfile.ZipFile(path))
    except (zipfile.BadZipFile, OSError) as error:
        return [], [_row(label, "unreadable", f"not a readable zip archive ({error})")]
    photos, skipped = [], []
    for info in sorted(archive.infolist(), key=lambda info: info.filename):
        if info.is_dir() or is_hidden(info.filename):
            continue
        name = f"{label}/{info.filename}"
        if Path(info.filename).suffix.lower() in PHOTO_SUFFIXES:
            photos.append(Photo(name, info.file_size, lambda info=info: archive.read(info)))
        else:
            skipped.append(_row(name, "skipped", SKIPPED))
    return photos, skipped


@contextmanager
def open_photos(paths: Sequence[str | Path]) -> Iterator[tuple[list[Photo], list[dict]]]:
    """(photos, rows of skipped or unreadable inputs) for folders (recursive, names relative
    to the folder), zips (``archive.zip/inner/name.jpg``) and single files; zips stay open
    until the block ends."""
    with ExitStack() as stack:
        photos: list[Photo] = []
        rows: list[dict] = []

        def add(path: Path, name: str) -> None:
            suffix = path.suffix.lower()
            if suffix == ".zip":
                found, other = _archive_photos(path, name, stack)
                photos.extend(found)
                rows.extend(other)
            elif suffix in PHOTO_SUFFIXES:
                photos.append(Photo(name, path.stat().st_size, path.read_bytes))
            else:
                rows.append(_row(name, "skipped", SKIPPED))

        for item in map(Path, paths):
            if item.is_dir():
                for path in sorted(p for p in item.rglob("*") if p.is_file()):
                    relative = path.relative_to(item).as_posix()
                    if not is_hidden(relative):
                        add(path, relative)
            elif item.is_file():
                add(item, item.name)
            else:
                rows.append(_row(str(item), "unreadable", "no such file or folder"))
        yield photos, rows


@dataclass
class BatchResult:
    """Every row, and the counts: photos tried, read (decoded), with no face, unreadable;
    faces found; other files skipped; wall time in seconds."""

    rows: list[dict]
    photos: int = 0
    read: int = 0
    no_face: int = 0
    unreadable: int = 0
    faces: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def photos_per_second(self) -> float:
        return self.photos / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict:
        """The counts as JSON-ready numbers."""
        return {
            "photos": self.photos,
            "read": self.read,
            "with_faces": self.read - self.no_face,
            "no_face": self.no_face,
            "unreadable": self.unreadable,
            "skipped": self.skipped,
            "faces": self.faces,
            "seconds": round(self.seconds, 2),
            "photos_per_second": round(self.photos_per_second, 2),
        }


def photo_rows(photo: Photo, predictor: Predictor) -> list[dict]:
    """The rows of one photo: one per face, or one saying there is none or why it is
    unreadable. Never raises for a bad file."""
    try:
        result = predictor.predict(photo.read())
    except ImageError as error:
        return [_row(photo.name, "unreadable", str(error))]
    except Exception as error:  # noqa: BLE001 - a damaged or encrypted zip member, a lost file
        return [_row(photo.name, "unreadable", f"cannot be read ({error})")]
    if not result.faces:
        return [_row(photo.name, "no face", NO_FACE)]
    status, reason = {
        FRAMING_GUESS: ("best guess", BEST_GUESS),
        FRAMING_WHOLE: ("whole picture", WHOLE_PICTURE),
    }.get(result.faces[0].framing, ("face", ""))
    return [
        _row(
            photo.name,
            status,
            reason,
            face=number,
            x=face.box[0],
            y=face.box[1],
            width=face.box[2],
            height=face.box[3],
            age=round(face.age, 1),
            age_80_low=round(face.interval_80[0], 1),
            age_80_high=round(face.interval_80[1], 1),
            age_group=face.age_group,
            gender=face.gender,
            gender_probability=round(face.gender_probability, 3),
        )
        for number, face in enumerate(result.faces, start=1)
    ]


def predict_photos(
    photos: Sequence[Photo],
    predictor: Predictor,
    skipped: Sequence[dict] = (),
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Predict every photo in order; `progress(done, total)` is called after each one.
    `skipped`: rows of inputs that are not photos, kept at the end of the rows."""
    started = time.perf_counter()
    result = BatchResult(rows=[], photos=len(photos))
    for done, photo in enumerate(photos, start=1):
        rows = photo_rows(photo, predictor)
        result.rows += rows
        status = rows[0]["status"]
        result.unreadable += status == "unreadable"
        result.no_face += status in ("no face", "best guess", "whole picture")
        result.faces += len(rows) if status == "face" else 0
        if progress is not None:
            progress(done, len(photos))
    result.read = result.photos - result.unreadable
    result.rows += skipped
    result.unreadable += sum(row["status"] == "unreadable" for row in skipped)
    result.skipped = sum(row["status"] == "skipped" for row in skipped)
    result.seconds = time.perf_counter() - started
    return result


def write_csv(rows: Sequence[dict], out: str | Path | io.TextIOBase) -> None:
    """The rows as CSV with a header (`COLUMNS`) to a path or an open text file."""
    if isinstance(out, str | Path):
        with open(out, "w", newline="", encoding="utf-8") as file:
            write_csv(rows, file)
        return
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.batch",
        description="Age and gender of every face in many photos, to a CSV (one row per face).",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="a folder (searched recursively), a .zip, or photo files")  # fmt: skip
    parser.add_argument("--variant", choices=list(VARIANT_NAMES), default="cropped",
                        help="cropped-face or full-image models (default: cropped)")  # fmt: skip
    parser.add_argument("--out", default="results.csv", help="CSV to write (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    with open_photos(args.paths) as (photos, skipped):
        predictor = Predictor(args.variant)
        with tqdm(total=len(photos), unit="photo", disable=args.quiet, file=sys.stderr) as bar:
            result = predict_photos(photos, predictor, skipped, lambda done, total: bar.update())
    write_csv(result.rows, args.out)
    counts = result.summary()
    print(
        f"{counts['photos']} photos in {counts['seconds']} s ({counts['photos_per_second']} "
        f"photos/s): {counts['faces']} faces in {counts['with_faces']} photos, "
        f"{counts['no_face']} without a face, {counts['unreadable']} unreadable, "
        f"{counts['skipped']} other files skipped. Wrote {args.out}"
    )
    if result.read == 0:
        print("Nothing could be read: no JPEG, PNG or WebP photo was decoded.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
