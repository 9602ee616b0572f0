import pytest

from data_prep.names import UNKNOWN, describe_action, parse_name


def test_canonical_name_parses_without_problems():
    parsed = parse_name("41_0_3_20170119171541497.jpg.chip.jpg")
    assert (parsed.age, parsed.gender, parsed.race) == (41, 0, 3)
    assert parsed.problems == []
    assert parsed.usable


@pytest.mark.parametrize(
    ("name", "labels", "problem", "action"),
    [
        (
            "39_1_20170116174525125.jpg.chip.jpg",
            (39, 1, UNKNOWN),
            "missing field: race",
            "kept with unknown race",
        ),
        (
            "24_0_1_20170116220224657 .jpg.chip.jpg",
            (24, 0, 1),
            "stray whitespace",
            "kept: all labels recovered",
        ),
        (
            "55_0_0_20170116232725357jpg.chip.jpg",
            (55, 0, 0),
            "missing dot",
            "kept: all labels recovered",
        ),
        (
            "61_3_1_20170109150557335.jpg.chip.jpg",
            (61, UNKNOWN, 1),
            "gender '3'",
            "kept with unknown gender",
        ),
        (
            "30_1_7_20170109150557335.jpg.chip.jpg",
            (30, 1, UNKNOWN),
            "race '7'",
            "kept with unknown race",
        ),
        (
            "14_0_0_2017011022340900.jpg.chip.jpg",
            (14, 0, 0),
            "16 digits",
            "kept: all labels recovered",
        ),
        (
            "53__0_20170116184028385.jpg.chip.jpg",
            (53, UNKNOWN, 0),
            "gender ''",
            "kept with unknown gender",
        ),
    ],
)
def test_malformed_names_keep_recoverable_labels(name, labels, problem, action):
    parsed = parse_name(name)
    assert (parsed.age, parsed.gender, parsed.race) == labels
    assert any(problem in reason for reason in parsed.problems), parsed.problems
    assert describe_action(parsed) == action


@pytest.mark.parametrize(
    "name", ["README.txt", "x_1_0_20170116174525125.jpg.chip.jpg", "999_0_0_1.jpg.chip.jpg", ""]
)
def test_names_without_an_age_are_unusable_and_never_raise(name):
    parsed = parse_name(name)
    assert not parsed.usable
    assert parsed.problems
    assert describe_action(parsed).startswith("skipped")
