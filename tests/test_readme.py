"""The figures the Markdown files quote are those of the shipped results files, and their
relative links lead somewhere.

The README's figures table is checked against ``model/weights/<variant>/metrics.json`` (the
test split) and ``metrics_wild.json`` (the wild set), the sanity table of docs/explanations.md
against ``sanity.json``, each number rounded as the table shows it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MAX_LINES = 250
EXPLANATIONS = ROOT / "docs" / "explanations.md"
WEIGHTS = ROOT / "model" / "weights"
VARIANTS = ("cropped", "full")
METRICS_FILES = {"test split": "metrics.json", "wild set": "metrics_wild.json"}
FIGURES_HEADER = (
    "| variant | set | faces | age MAE (years) | gender accuracy "
    "| true age inside the 80% margin | inside the 90% margin |"
)
SANITY_HEADER = "| method | cropped: age | gender | verdict | full: age | gender | verdict |"
MARKDOWN_FILES = [README, ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
METHOD_NAME = re.compile(r"\(`(.+)`\)")


def table_rows(markdown: Path, header: str) -> list[list[str]]:
    """The cells of each row of the table under `header`."""
    lines = markdown.read_text().splitlines()
    assert header in lines, f"{markdown.name} has no table headed {header!r}"
    rows = []
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def read_json(variant: str, name: str) -> dict:
    return json.loads((WEIGHTS / variant / name).read_text())


def figures_row(variant: str, set_name: str) -> list[str]:
    """The README's row for a variant and set, written from its metrics file."""
    metrics = read_json(variant, METRICS_FILES[set_name])
    coverage = metrics["age_interval_coverage"]
    return [
        variant,
        set_name,
        f"{metrics['n']:,}",
        f"{metrics['age']['mae']:.2f}",
        f"{metrics['gender']['accuracy']:.3f}",
        f"{coverage['0.8']['coverage']:.1%}",
        f"{coverage['0.9']['coverage']:.1%}",
    ]


def sanity_row(method_cell: str) -> list[str]:
    """The sanity table's row for a method ("Grad-CAM (`gradcam`)"), from both variants' files."""
    method = METHOD_NAME.search(method_cell).group(1)
    row = [method_cell]
    for variant in VARIANTS:
        report = read_json(variant, "sanity.json")
        row += [f"{report['correlations'][task][method]:.2f}" for task in ("age", "gender")]
        row.append("passes" if report["passes"][method] else "fails")
    return row


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readme_fits_on_a_few_screens():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, (
        "the history goes to docs/, benchmark tables to benchmarks/"
    )


def test_readme_figures_are_those_of_the_metrics_files():
    rows = table_rows(README, FIGURES_HEADER)
    assert [row[:2] for row in rows] == [[v, s] for v in VARIANTS for s in METRICS_FILES]
    for row in rows:
        variant, set_name = row[:2]
        source = f"model/weights/{variant}/{METRICS_FILES[set_name]}"
        assert row == figures_row(variant, set_name), f"README's {variant}, {set_name} vs {source}"


def test_sanity_table_is_that_of_the_sanity_files():
    rows = table_rows(EXPLANATIONS, SANITY_HEADER)
    methods = [METHOD_NAME.search(row[0]).group(1) for row in rows]
    for variant in VARIANTS:
        assert sorted(methods) == sorted(read_json(variant, "sanity.json")["passes"])
    for row in rows:
        assert row == sanity_row(row[0]), f"{row[0]} vs model/weights/*/sanity.json"


@pytest.mark.parametrize("markdown", MARKDOWN_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_lead_to_files_and_headings_that_exist(markdown):
    broken = []
    for target in LINK.findall(CODE_BLOCK.sub("", markdown.read_text())):
        if "://" in target:
            continue
        path, _, fragment = target.partition("#")
        linked = (markdown.parent / path).resolve() if path else markdown
        if not linked.exists():
            broken.append(target)
        elif fragment and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", CODE_BLOCK.sub("", linked.read_text()), re.M)
            if fragment not in {anchor(heading) for heading in headings}:
                broken.append(target)
    assert not broken, f"{markdown.name}: links to nothing: {broken}"
