"""The saliency methods' sanity check on the shipped models, stored beside the weights.

``python -m model.average_maps`` runs it (with the average maps) and writes
``<weights>/<variant>/sanity.json``; the demo, the dashboard and the slide read it to say, in
plain words, which methods pass and to mark those that fail.

The check is the model-parameter randomisation test of Adebayo et al. (2018),
`model.explain.randomisation_check`: a method passes when its maps of the trained model and of
the same network with random weights are unrelated (mean Spearman rank correlation below
`PASS_BELOW`) for both the age and the gender model. A method that fails draws much the same
map whatever the model learnt: part of what it shows is the photo itself (edges, bright
areas). Failing methods stay available for teaching, marked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.config import SANITY_FILE, VARIANT_NAMES, WEIGHTS_DIR
from model.explain import DESCRIPTIONS, METHODS, randomisation_check
from model.networks import load_for_inference

PASS_BELOW = 0.5
"""A method passes when the rank correlation is below this for every model of the variant."""
SANITY_FACES = 32
"""Test faces the shipped check uses (the first of the test split)."""
TASKS = ("age", "gender")


def run(variant_dir: str | Path, faces: np.ndarray, methods=tuple(METHODS), seed: int = 0) -> dict:
    """The check for the age and gender models in `variant_dir` on uint8 faces (N, S, S, 3):
    the report that `write` stores (correlations per task and method, a verdict per method)."""
    correlations = {
        task: randomisation_check(load_for_inference(variant_dir, task), task, faces, methods, seed)
        for task in TASKS
    }
    return {
        "test": "model-parameter randomisation (Adebayo et al., 2018): mean Spearman rank "
        "correlation between each method's maps of the trained model and of the same network "
        "with random weights (signed maps by their magnitude)",
        "faces": len(faces),
        "seed": seed,
        "pass_below": PASS_BELOW,
        "correlations": {
            task: {method: round(value, 4) for method, value in values.items()}
            for task, values in correlations.items()
        },
        "passes": {
            method: all(correlations[task][method] < PASS_BELOW for task in TASKS)
            for method in methods
        },
    }


def write(variant_dir: str | Path, report: dict) -> Path:
    path = Path(variant_dir) / SANITY_FILE
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def refresh(variant_dir: str | Path, data: str | Path, variant: str, count: int = SANITY_FACES):
    """Run the check on the first `count` test faces of a prepared folder and store it:
    (report, path written)."""
    from data_prep import load_split

    faces = load_split(data, variant, "test").images[:count]
    report = run(variant_dir, faces)
    return report, write(variant_dir, report)


def load(variant: str, weights: str | Path = WEIGHTS_DIR) -> dict | None:
    """The stored report of a variant, or None if the check has not been run there."""
    path = Path(weights) / variant / SANITY_FILE
    return json.loads(path.read_text()) if path.is_file() else None


@dataclass(frozen=True)
class Verdict:
    """One method's result on one variant: ``passes`` is None when it was not checked."""

    method: str
    passes: bool | None
    correlations: dict[str, float]

    @property
    def label(self) -> str:
        """The method's name, marked when it fails: for menus and slide titles."""
        name = METHODS[self.method]
        return f"{name} (fails the sanity check)" if self.passes is False else name

    def words(self, models: str = "these models") -> str:
        """One or two plain sentences (Markdown) for a class."""
        name = METHODS[self.method]
        if self.passes is None:
            return (
                f"{name} has not been through the sanity check on {models} yet "
                "(`python -m model.average_maps` runs it)."
            )
        figures = ", ".join(f"{task} {value:.2f}" for task, value in self.correlations.items())
        if self.passes:
            return (
                f"✓ **{name} passes the sanity check.** With random weights instead of the "
                f"learnt ones, its maps change completely (rank correlation {figures}; "
                f"below {PASS_BELOW} passes), so they show what {models} learnt."
            )
        return (
            f"⚠ **{name} fails the sanity check**, shown for teaching. With random weights "
            f"instead of the learnt ones, its maps stay much the same (rank correlation "
            f"{figures}; {PASS_BELOW} or more fails): part of what it shows is the photo itself "
            f"(edges, bright areas), not what {models} learnt. Compare it with a method that "
            "passes."
        )


def verdict(report: dict | None, method: str) -> Verdict:
    """The verdict on `method` in a stored report (`load`), or an unchecked one."""
    if not report or method not in report.get("passes", {}):
        return Verdict(method, None, {})
    correlations = {task: values[method] for task, values in report["correlations"].items()}
    return Verdict(method, bool(report["passes"][method]), correlations)


def menu(variant: str, weights: str | Path = WEIGHTS_DIR) -> list[tuple[str, str]]:
    """A variant's method menu, (label, method) for every method, those that fail its sanity
    check marked: what every front end offers."""
    report = load(variant, weights)
    return [(verdict(report, method).label, method) for method in METHODS]


def note(method: str, variant: str, weights: str | Path = WEIGHTS_DIR) -> str:
    """Beside the method picker (Markdown): the method's verdict on a variant in words, and
    how to read its maps."""
    words = verdict(load(variant, weights), method).words(f"the {VARIANT_NAMES[variant]} models")
    return f"{words}\n\n*How to read it:* {DESCRIPTIONS[method]}"


def summary(reports: dict[str, dict | None]) -> str:
    """The verdicts of every method on the given variants' reports (``{variant: load(...)}``),
    in one or two sentences: which pass everywhere, which fail everywhere, which only on some."""
    passing, failing, mixed = [], [], []
    for method, name in METHODS.items():
        verdicts = {variant: verdict(report, method).passes for variant, report in reports.items()}
        if all(verdicts.values()):
            passing.append(name)
        elif not any(verdicts.values()):
            failing.append(name)
        else:
            where = [variant for variant, passes in verdicts.items() if passes]
            mixed.append(f"{name} passes on the {' and '.join(where)} models only")
    sentences = [
        f"{_listed(group)} {verb if len(group) > 1 else verb + 's'}."
        for group, verb in ((passing, "pass"), (failing, "fail"))
        if group
    ]
    if mixed:
        sentences.append(_listed(mixed) + ".")
    return " ".join(sentences)


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
