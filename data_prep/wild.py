"""A "wild" test set: photo-like pictures made from the test split's chips, with no hand work.

Users upload photos, not chips. Each test chip is placed into a larger scene at a random
scale, position and rotation (up to 25 degrees), and the scene is then damaged as real photos
are: low resolution, blur, grayscale or faded colour, colour casts and gamma, sensor noise,
JPEG. Every picture is drawn from its own seeded generator, so the set is reproducible.

    python -m data_prep wild --source UTKFace.tar.gz --prepared data/prepared --out data/wild

writes ``<out>/images/*.jpg``, ``<out>/labels.csv`` (``filename``, ``age``, ``gender`` as
male/female, the source chip and what was done to it) and ``<out>/wild_report.json``. It
stands in for real photos in ``python -m model.evaluate --photos``; never commit it.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageEnhance, ImageFilter
from tqdm import tqdm

from data_prep.dataset import MANIFEST
from data_prep.names import GENDERS
from data_prep.source import iter_source
from faces.images import load_image

LABELS = "labels.csv"
DAMAGES = ("low_resolution", "blur", "grayscale", "faded", "colour_cast", "gamma", "noise")
PRINT_DAMAGES = ("dyes", "softness", "flash", "shadow", "paper", "halftone", "border")
STYLES = ("photo", "print")
DYES = {
    "magenta": (1.10, 0.88, 1.02),  # the cyan dye faded first: reds and magentas remain
    "sepia": None,  # a toned black-and-white print
    "yellowed": (1.04, 1.0, 0.80),  # yellowed paper and varnish
    "washed": (1.0, 1.0, 1.0),  # all dyes faded alike: low contrast only
}
"""How an old print's colour has aged: each channel's gain, or None for a sepia toning."""
IMAGES = "images"


@dataclass(frozen=True)
class WildConfig:
    seed: int = field(default=0, metadata={"help": "seed of every random choice"})
    style: str = field(
        default="photo",
        metadata={
            "help": "photo: damaged as digital photos are (the p_* shares below); print: as a "
            "scanned old print (faded dyes, soft optics, flash and hard shadows, paper, "
            "halftone, border)"
        },
    )
    split: str = field(default="test", metadata={"help": "split of the prepared folder to use"})
    limit: int = field(
        default=0, metadata={"help": "use N random chips of the split, drawn with --seed (0: all)"}
    )
    scene_side: tuple[int, ...] = field(
        default=(320, 720), metadata={"help": "range of the scene's longer side, pixels"}
    )
    face_fraction: tuple[float, ...] = field(
        default=(0.3, 0.75), metadata={"help": "range of chip side / scene's shorter side"}
    )
    max_rotation: float = field(default=25.0, metadata={"help": "largest tilt, degrees"})
    min_face_side: int = field(
        default=64, metadata={"help": "smallest chip side after down-sampling, pixels"}
    )
    p_low_resolution: float = field(default=0.3, metadata={"help": "share down-sampled"})
    p_blur: float = field(default=0.3, metadata={"help": "share blurred"})
    p_grayscale: float = field(default=0.3, metadata={"help": "share made grayscale"})
    p_faded: float = field(default=0.2, metadata={"help": "share with faded colour"})
    p_colour_cast: float = field(default=0.3, metadata={"help": "share with a colour cast"})
    p_gamma: float = field(default=0.3, metadata={"help": "share with a gamma change"})
    p_noise: float = field(default=0.3, metadata={"help": "share with sensor noise"})
    jpeg_quality: tuple[int, ...] = field(
        default=(35, 92), metadata={"help": "range of the JPEG quality every picture is saved at"}
    )


def _background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A smooth, muted random scene (walls, furniture, sky): a coarse field of greys with a
    little colour, and some finer texture on top."""
    cells = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
    grey = rng.uniform(40, 220) + rng.normal(0, 35, cells + (1,))
    coarse = np.clip(grey + rng.normal(0, 15, cells + (3,)), 0, 255).astype(np.uint8)
    smooth = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    fine = rng.normal(0, rng.uniform(2, 10), (size[1] // 8 + 1, size[0] // 8 + 1))
    texture = np.asarray(Image.fromarray(fine.astype(np.float32)).resize(size))
    pixels = np.asarray(smooth, np.float32) + texture[..., np.newaxis]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _place(chip: Image.Image, rng: np.random.Generator, config: WildConfig):
    """The chip tilted and pasted with soft edges into a new scene; (scene, what was done)."""
    longer = int(rng.integers(config.scene_side[0], config.scene_side[1] + 1))
    aspect = rng.choice([1.0, 0.75, 4 / 3])
    size = (longer, round(longer * aspect)) if aspect < 1 else (round(longer / aspect), longer)
    scene = _background(rng, size)
    side = max(32, round(rng.uniform(*config.face_fraction) * min(size)))
    angle = float(rng.uniform(-config.max_rotation, config.max_rotation))
    face = chip.resize((side, side), Image.Resampling.BILINEAR).rotate(
        angle, Image.Resampling.BILINEAR, expand=True
    )
    mask = Image.new("L", (side, side), 255).rotate(angle, expand=True)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1.0, side / 40)))
    x = int(rng.integers(0, max(1, size[0] - face.width + 1)))
    y = int(rng.integers(0, max(1, size[1] - face.height + 1)))
    scene.paste(face, (x, y), mask)
    return scene, {"scene_w": size[0], "scene_h": size[1], "face_side": side,
                   "rotation": round(angle, 1)}  # fmt: skip


def _damage(scene: Image.Image, rng: np.random.Generator, config: WildConfig, face_side: int):
    """What real photos do to a picture, each with its probability; (picture, record)."""
    done = {}
    most_shrink = face_side / config.min_face_side
    if rng.random() < config.p_low_resolution and most_shrink > 1.3:
        factor = float(rng.uniform(1.3, min(3.0, most_shrink)))
        small = (max(1, round(scene.width / factor)), max(1, round(scene.height / factor)))
        scene = scene.resize(small, Image.Resampling.BILINEAR)
        if rng.random() < 0.5:  # an enlarged small photo, or the small photo itself
            scene = scene.resize((round(small[0] * factor), round(small[1] * factor)))
        done["low_resolution"] = round(factor, 2)
    if rng.random() < config.p_blur:
        done["blur"] = round(float(rng.uniform(0.6, 2.0)), 2)
        scene = scene.filter(ImageFilter.GaussianBlur(done["blur"]))
    if rng.random() < config.p_grayscale:
        scene, done["grayscale"] = scene.convert("L").convert("RGB"), True
    elif rng.random() < config.p_faded:
        done["faded"] = round(float(rng.uniform(0.3, 0.7)), 2)
        scene = ImageEnhance.Color(scene).enhance(done["faded"])
    pixels = np.asarray(scene, np.float32)
    if rng.random() < config.p_colour_cast:
        gains = rng.uniform(0.85, 1.15, 3)
        pixels = pixels * gains
        done["colour_cast"] = [round(float(g), 2) for g in gains]
    if rng.random() < config.p_gamma:
        done["gamma"] = round(float(rng.uniform(0.7, 1.5)), 2)
        pixels = 255 * (np.clip(pixels, 0, 255) / 255) ** done["gamma"]
    if rng.random() < config.p_noise:
        done["noise"] = round(float(rng.uniform(3, 12)), 1)
        pixels = pixels + rng.normal(0, done["noise"], pixels.shape[:2] + (1,))
    picture = Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))
    done["jpeg_quality"] = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
    return picture, done


def _radial(size: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    """1 at `centre`, falling off smoothly to 0 at `radius` pixels: (H, W) float32."""
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    distance = np.hypot(xs - centre[0], ys - centre[1]) / radius
    return np.clip(1 - distance**2, 0, 1)


def aged_print(picture: Image.Image, rng: np.random.Generator, face_side: float):
    """What decades in an album and a flat-bed scanner do to a photo's pixels: the lens and
    print were soft, a flash lit the face and cast a hard shadow, the dyes faded (towards
    magenta, sepia or yellow) and lost contrast, the paper shows texture or a halftone screen;
    (float pixels (H, W, 3), unclipped, and what was done). `face_side` (pixels) sets the
    softness. Used for the scanned-print sets and, on aligned faces, in training."""
    done: dict = {}
    done["softness"] = round(float(rng.uniform(0.006, 0.02) * face_side), 2)
    picture = picture.filter(ImageFilter.GaussianBlur(done["softness"]))
    pixels = np.asarray(picture, np.float32)
    height, width = pixels.shape[:2]
    if rng.random() < 0.4:  # on-camera flash: a bright, flat centre that falls off
        centre = (rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height)
        done["flash"] = round(float(rng.uniform(0.25, 0.6)), 2)
        glare = _radial((width, height), centre, rng.uniform(0.4, 0.8) * max(width, height))
        pixels = (
            pixels * (1 + done["flash"] * glare[..., None]) + 40 * done["flash"] * glare[..., None]
        )
    if rng.random() < 0.3:  # a hard shadow: one side of a straight edge darker
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        offset = rng.uniform(-0.25, 0.25) * min(width, height)
        side = (xs - width / 2) * np.cos(angle) + (ys - height / 2) * np.sin(angle) > offset
        done["shadow"] = round(float(rng.uniform(0.45, 0.8)), 2)
        pixels = np.where(side[..., None], pixels * done["shadow"], pixels)
    pixels = np.clip(pixels, 0, 255)
    done["dyes"] = str(rng.choice(list(DYES)))
    contrast = rng.uniform(0.5, 0.85)
    if DYES[done["dyes"]] is None:
        grey = pixels @ np.float32([0.299, 0.587, 0.114])
        pixels = grey[..., None] * np.float32([1.07, 0.92, 0.72])
    else:
        pixels = pixels * np.float32(DYES[done["dyes"]]) * rng.uniform(0.95, 1.05, 3)
    pixels = pixels.mean() + (pixels - pixels.mean()) * contrast + rng.uniform(5, 35)
    done["contrast"] = round(float(contrast), 2)
    if rng.random() < 0.3:  # a printed reproduction: a halftone dot screen
        period = float(rng.uniform(3.0, 5.0))
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        screen = np.cos(2 * np.pi * xs / period) * np.cos(2 * np.pi * ys / period)
        done["halftone"] = round(period, 2)
        pixels = pixels * (1 + rng.uniform(0.15, 0.3) * screen[..., None])
    else:  # photographic paper: grain and a faint, blotchy texture
        grain = rng.normal(0, 1, (height, width, 1))
        blotches = np.asarray(
            Image.fromarray(
                rng.normal(0, 1, (height // 24 + 1, width // 24 + 1)).astype(np.float32)
            ).resize((width, height), Image.Resampling.BICUBIC)
        )[..., None]
        done["paper"] = round(float(rng.uniform(3, 9)), 1)
        pixels = pixels + done["paper"] * (grain + 0.6 * blotches)
    return pixels, done


def _print_damage(scene: Image.Image, rng: np.random.Generator, face_side: int):
    """A scanned old print of `scene` (`aged_print`), framed by a light paper border half the
    time; (picture, record)."""
    pixels, done = aged_print(scene, rng, face_side)
    picture = Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))
    if rng.random() < 0.5:
        width, height = picture.size
        done["border"] = int(max(4, rng.uniform(0.03, 0.08) * min(width, height)))
        paper = (int(rng.uniform(225, 250)),) * 2 + (int(rng.uniform(205, 240)),)
        framed = Image.new("RGB", (width + 2 * done["border"], height + 2 * done["border"]), paper)
        framed.paste(picture, (done["border"], done["border"]))
        picture = framed
    done["jpeg_quality"] = int(rng.integers(70, 96))
    return picture, done


def wild_photo(chip: Image.Image, seed: int, index: int, config: WildConfig) -> tuple[bytes, dict]:
    """The JPEG bytes of one wild picture made from `chip`, and what was done to it; the same
    (seed, index) always gives the same picture."""
    rng = np.random.default_rng([seed, index])
    scene, placed = _place(chip, rng, config)
    if config.style == "print":
        picture, damage = _print_damage(scene, rng, placed["face_side"])
    else:
        picture, damage = _damage(scene, rng, config, placed["face_side"])
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=damage["jpeg_quality"])
    return buffer.getvalue(), {**placed, **damage}


def build_wild_set(
    source: str | Path, prepared: str | Path, out: str | Path, config: WildConfig | None = None
) -> dict:
    """Write the wild set of `config.split` of a prepared folder (chips read from `source`,
    the UTKFace folder or archive it was prepared from); returns the report."""
    config = config or WildConfig()
    if config.style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, not {config.style!r}")
    out = Path(out)
    (out / IMAGES).mkdir(parents=True, exist_ok=True)
    manifest = pd.read_csv(Path(prepared) / MANIFEST)
    chosen = manifest[manifest["split"] == config.split]
    if config.limit:
        chosen = chosen.sample(min(config.limit, len(chosen)), random_state=config.seed)
        chosen = chosen.sort_index()
    wanted = dict(zip(chosen["file"], range(len(chosen)), strict=True))
    rows = []
    with tqdm(total=len(wanted), desc="Making wild photos") as progress:
        for name, data in iter_source(source):
            if name not in wanted:
                continue
            index = wanted[name]
            record = chosen.iloc[index]
            photo, done = wild_photo(load_image(data), config.seed, index, config)
            filename = f"{index:05d}.jpg"
            (out / IMAGES / filename).write_bytes(photo)
            gender = GENDERS.get(int(record["gender"]), "")
            done = {k: json.dumps(v) if isinstance(v, list) else v for k, v in done.items()}
            rows.append({"filename": filename, "age": int(record["age"]), "gender": gender,
                         "source": name, **done})  # fmt: skip
            progress.update()
    labels = pd.DataFrame(rows).sort_values("filename")
    labels.to_csv(out / LABELS, index=False)
    report = {"config": asdict(config), "prepared": str(prepared), "photos": len(rows),
              "damage_shares": {column: round(float(labels[column].notna().mean()), 3)
                                for column in (*DAMAGES, *PRINT_DAMAGES)
                                if column in labels}}  # fmt: skip
    (out / "wild_report.json").write_text(json.dumps(report, indent=2))
    return report
