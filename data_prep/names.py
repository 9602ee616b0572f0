"""Parse UTKFace file names: ``[age]_[gender]_[race]_[yyyymmddHHMMSSFFF].jpg.chip.jpg``.

The real release has a few malformed names (a missing race field, a stray space, a missing
dot, an impossible gender). Parsing never raises: it keeps every label it can recover and
records each problem with its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_PLAUSIBLE_AGE = 116
GENDERS = {0: "male", 1: "female"}
RACES = {0: "White", 1: "Black", 2: "Asian", 3: "Indian", 4: "Others"}
UNKNOWN = -1

_CANONICAL_SUFFIX = ".jpg.chip.jpg"
_TIMESTAMP_DIGITS = 17
_SUFFIX = re.compile(r"\.?\s*jpg\.chip\.jpg$", re.IGNORECASE)


@dataclass
class ParsedName:
    """Labels recovered from one file name; ``UNKNOWN`` (-1) where a label is lost.

    ``usable`` is False when not even the age is recoverable; ``problems`` lists every
    irregularity found, each as a short human-readable reason.
    """

    file: str
    age: int = UNKNOWN
    gender: int = UNKNOWN
    race: int = UNKNOWN
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.age != UNKNOWN


def _as_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def parse_name(file: str) -> ParsedName:
    """Parse a UTKFace base file name (no folder) into its labels and problems."""
    parsed = ParsedName(file=file)
    problems = parsed.problems

    suffix = _SUFFIX.search(file)
    if suffix is None:
        problems.append(f"does not end in '{_CANONICAL_SUFFIX}'")
        stem = file.split(".", 1)[0]
    else:
        stem = file[: suffix.start()]
        tail = suffix.group(0)
        if tail.lower() != _CANONICAL_SUFFIX:
            if re.search(r"\s", tail):
                problems.append("stray whitespace before the extension")
            if not tail.startswith("."):
                problems.append("missing dot before 'jpg.chip.jpg'")
    if stem != stem.strip():
        problems.append("stray whitespace in the name")

    fields = stem.strip().split("_")
    if len(fields) == 3:
        problems.append("missing field: race (three fields instead of four)")
        fields = [fields[0], fields[1], "", fields[2]]
    elif len(fields) != 4:
        problems.append(f"expected 4 fields separated by '_', found {len(fields)}")
        fields = (fields + ["", "", "", ""])[:4]
    age_text, gender_text, race_text, stamp = fields

    age = _as_int(age_text)
    if age is None or age > MAX_PLAUSIBLE_AGE:
        problems.append(f"age {age_text!r} is not a number from 0 to {MAX_PLAUSIBLE_AGE}")
    else:
        parsed.age = age

    gender = _as_int(gender_text)
    if gender in GENDERS:
        parsed.gender = gender
    else:
        problems.append(f"gender {gender_text!r} is neither 0 (male) nor 1 (female)")

    race = _as_int(race_text)
    if race in RACES:
        parsed.race = race
    elif race_text:
        problems.append(f"race {race_text!r} is not one of 0-4")

    stamp = stamp.strip()
    if not stamp.isdigit():
        problems.append(f"timestamp {stamp!r} is not a number")
    elif len(stamp) != _TIMESTAMP_DIGITS:
        problems.append(f"timestamp has {len(stamp)} digits instead of {_TIMESTAMP_DIGITS}")
    return parsed


def describe_action(parsed: ParsedName) -> str:
    """What the pipeline does with a malformed name, in words for the report."""
    if not parsed.usable:
        return "skipped: no age could be recovered"
    lost = [name for name in ("gender", "race") if getattr(parsed, name) == UNKNOWN]
    if lost:
        return f"kept with unknown {' and '.join(lost)}"
    return "kept: all labels recovered"
