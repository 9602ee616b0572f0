"""The sanity check's report: one verdict per method, in plain words, from the correlations."""

import numpy as np
import pytest

from model import sanity
from model.config import TrainConfig
from model.explain import METHODS
from model.networks import build_model
from model.tasks import TASKS
from testkit.synthetic import draw_face


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A weights folder with a tiny untrained age and gender model."""
    folder = tmp_path_factory.mktemp("weights") / "cropped"
    folder.mkdir()
    config = TrainConfig(stem_width=8, widths=(8, 16, 16))
    for task in ("age", "gender"):
        build_model(TASKS[task], config, 32, 30.0 if task == "age" else 0.0).save(
            folder / f"{task}.keras"
        )
    return folder


def test_the_report_covers_every_method_for_both_models(tiny_weights):
    faces = np.stack([np.asarray(draw_face(200, seed=s).resize((32, 32))) for s in range(2)])
    report = sanity.run(tiny_weights, faces, methods=("gradcam", "occlusion"))
    assert report["faces"] == 2
    assert set(report["correlations"]) == {"age", "gender"}
    for method in ("gradcam", "occlusion"):
        values = [report["correlations"][task][method] for task in ("age", "gender")]
        assert all(-1 <= value <= 1 for value in values)
        assert report["passes"][method] == (max(values) < sanity.PASS_BELOW)
    sanity.write(tiny_weights, report)
    assert sanity.load("cropped", tiny_weights.parent) == report
    assert sanity.load("full", tiny_weights.parent) is None


def _report(age: float, gender: float) -> dict:
    return {
        "correlations": {"age": {"saliency": age}, "gender": {"saliency": gender}},
        "passes": {"saliency": max(age, gender) < sanity.PASS_BELOW},
    }


def test_a_failing_method_is_marked_and_explained_in_plain_words():
    verdict = sanity.verdict(_report(0.76, 0.41), "saliency")
    assert verdict.passes is False
    assert verdict.label == "Vanilla saliency (fails the sanity check)"
    words = verdict.words("the cropped-face models")
    assert "fails the sanity check" in words and "for teaching" in words
    assert "age 0.76" in words and "gender 0.41" in words


def test_a_passing_method_keeps_its_name():
    verdict = sanity.verdict(_report(0.05, 0.12), "saliency")
    assert verdict.passes is True and verdict.label == METHODS["saliency"]
    assert "passes the sanity check" in verdict.words()


def test_an_unchecked_method_says_how_to_check_it():
    verdict = sanity.verdict(None, "occlusion")
    assert verdict.passes is None and verdict.label == "Occlusion"
    assert "python -m model.average_maps" in verdict.words()


@pytest.mark.parametrize("variant", ["cropped", "full"])
def test_the_shipped_check_covers_all_seven_methods_of_both_models(variant):
    report = sanity.load(variant)
    assert report is not None, "python -m model.average_maps writes it beside the weights"
    assert report["faces"] >= sanity.SANITY_FACES
    for task in ("age", "gender"):
        assert set(report["correlations"][task]) == set(METHODS)
    for method in METHODS:
        worst = max(report["correlations"][task][method] for task in ("age", "gender"))
        assert report["passes"][method] == (worst < report["pass_below"])
    # the CAM methods pass on the shipped models (tests/test_shipped_models.py checks it afresh)
    assert all(report["passes"][method] for method in ("gradcam", "gradcam++", "scorecam"))


def _report_passing(passing: set[str]) -> dict:
    return {
        "correlations": {task: dict.fromkeys(METHODS, 0.1) for task in sanity.TASKS},
        "passes": {method: method in passing for method in METHODS},
    }


def test_the_summary_names_what_passes_everywhere_nowhere_and_somewhere():
    everywhere = set(METHODS) - {"saliency", "smoothgrad"}
    reports = {
        "cropped-face": _report_passing(everywhere),
        "full-image": _report_passing(everywhere | {"saliency"}),
    }
    text = sanity.summary(reports)
    assert text.startswith(
        "Grad-CAM, Grad-CAM++, Score-CAM, CAM, Occlusion and Integrated gradients pass."
    )
    assert "SmoothGrad fails." in text
    assert "Vanilla saliency passes on the full-image models only." in text
    assert sanity.summary({"a": _report_passing(set(METHODS))}).endswith(
        "Integrated gradients pass."
    )


@pytest.mark.parametrize("variant", ["cropped", "full"])
def test_every_method_stays_in_the_menu_with_its_verdict_in_words(variant):
    report = sanity.load(variant)
    labels = {method: label for label, method in sanity.menu(variant)}
    assert set(labels) == set(METHODS)  # failing methods stay available, for teaching
    for method, passes in report["passes"].items():
        note = sanity.note(method, variant)
        assert METHODS[method] in note and "sanity check" in note and "How to read it" in note
        assert ("passes the sanity check" in note) == passes
        assert labels[method].endswith("(fails the sanity check)") == (not passes)
