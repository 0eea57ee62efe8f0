"""Contrasts: the schema and its one-line errors, which cells a difference pairs, per-seed trends,
Holm's adjustment across a page and the generated sentences."""

from __future__ import annotations

import math

import pytest

from kdbench.aggregate import entries
from kdbench.cli import main
from kdbench.contrasts import compare, default_contrasts, shows
from kdbench.specs import Contrast
from kdbench.stats import PAIRED, WELCH
from tests.synthetic_results import TEACHER_PARAMS, result

ESKD_VS_KD = {"name": "eskd-vs-kd", "kind": "difference", "a": {"method": "eskd"}, "b": {"method": "kd"}}
SIZE_TREND = {"name": "size-trend", "kind": "trend", "over": "teacher_params", "method": "kd"}


def test_a_bad_contrast_is_one_line_naming_its_field(tiny_track, write_track, capsys) -> None:
    tiny_track["contrasts"] = [dict(ESKD_VS_KD, b={"method": "kdx"}),
                               {"name": "trend", "kind": "trend", "method": "kd",
                                "teachers": ["mlp-64", "mlp-1k"], "over": "teacher_params"}]
    assert main(["validate", str(write_track(tiny_track))]) == 2
    err = capsys.readouterr().err
    assert "contrasts.0.b.method (line " in err
    assert "no method labelled 'kdx' (the track has: ce, kd, eskd)" in err
    assert "contrasts.1.teachers.1 (line " in err and "no teacher labelled 'mlp-1k'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("contrast", "message"), [
    ({"name": "x", "kind": "difference", "a": {"method": "kd"}}, "a difference needs a and b"),
    ({"name": "x", "kind": "trend", "method": "kd"}, "a trend needs method and over"),
    (dict(SIZE_TREND, a={"method": "kd"}), "a is not a field of a trend"),
    (dict(ESKD_VS_KD, b={"method": "eskd"}), "a and b select the same cells"),
    (dict(ESKD_VS_KD, metric="test.accuracy"), "metric 'test.accuracy' is not '<split>.<metric>'"),
    (dict(ESKD_VS_KD, expected="negative"), "give expected and source together"),
    (dict(ESKD_VS_KD, expected="down", source="p"), "Input should be 'positive' or 'negative'"),
    (dict(ESKD_VS_KD, name="Eskd vs KD"), "String should match pattern"),
])
def test_contrast_schema_is_strict(tiny_track, write_track, capsys, contrast, message) -> None:
    tiny_track["contrasts"] = [contrast]
    assert main(["validate", str(write_track(tiny_track))]) == 2
    err = capsys.readouterr().err
    assert "contrasts.0" in err and message in err and len(err.strip().splitlines()) == 1


def test_a_trend_needs_two_teachers_of_its_method(tiny_track, write_track, capsys) -> None:
    tiny_track["methods"][1]["teachers"] = ["mlp-64"]
    tiny_track["contrasts"] = [SIZE_TREND]
    assert main(["validate", str(write_track(tiny_track))]) == 2
    err = capsys.readouterr().err
    assert "contrasts.0.method (line " in err and "method 'kd' has 1 of the trend's teachers" in err
    tiny_track["contrasts"] = [dict(SIZE_TREND, teachers=["mlp-64"])]
    assert main(["validate", str(write_track(tiny_track))]) == 2
    assert "contrasts.0.teachers (line " in capsys.readouterr().err  # a ladder of one is no trend


def test_two_contrasts_cannot_share_a_name(tiny_track, write_track, capsys) -> None:
    tiny_track["contrasts"] = [ESKD_VS_KD, dict(SIZE_TREND, name="eskd-vs-kd")]
    assert main(["validate", str(write_track(tiny_track))]) == 2
    assert "contrasts.1.name (line " in capsys.readouterr().err


def test_a_declared_contrast_is_a_valid_track(tiny_track, write_track) -> None:
    tiny_track["contrasts"] = [ESKD_VS_KD, dict(SIZE_TREND, expected="negative", source="Cho 2019")]
    assert main(["validate", str(write_track(tiny_track))]) == 0


def made_up() -> list:
    """Three seeds; eskd is about 1.0 above kd under every teacher; kd falls with teacher size."""
    runs = [result("ce", seed, 90.0 + seed * 0.1) for seed in range(3)]
    for seed in range(3):
        for i, teacher in enumerate(("t-small", "t-mid", "t-big")):
            kd = 92.0 - i * (1 + 0.2 * seed) + 0.3 * seed
            runs.append(result("kd", seed, kd, teacher))
            runs.append(result("eskd", seed, kd + 1.0 + 0.05 * seed * (-1) ** i, teacher))
    return runs


def test_a_difference_pairs_each_cell_with_the_one_b_makes_of_it() -> None:
    rows = entries(made_up())
    found = compare((Contrast.model_validate(ESKD_VS_KD),), rows)
    assert [(c.a, c.b) for c in found] == [(f"eskd: {t} → s", f"kd: {t} → s") for t in TEACHER_PARAMS]
    assert all(c.estimate.method == PAIRED and c.estimate.n == 3 for c in found)
    assert found[0].estimate.value == pytest.approx(1.05)
    by_teacher = compare((Contrast.model_validate({"name": "big-vs-small", "kind": "difference",
                                                   "a": {"teacher": "t-big"}, "b": {"teacher": "t-small"}}),),
                         rows)
    assert [(c.a, c.b) for c in by_teacher] == [("kd: t-big → s", "kd: t-small → s"),
                                                ("eskd: t-big → s", "eskd: t-small → s")]
    assert by_teacher[0].estimate.value == pytest.approx(-2.4)


def test_default_contrasts_are_each_method_against_ce() -> None:
    rows = entries(made_up())
    contrasts = default_contrasts(rows)
    assert [c.name for c in contrasts] == ["kd vs ce", "eskd vs ce"]
    found = compare(contrasts, rows)
    assert [(c.a, c.b) for c in found][:3] == [(f"kd: {t} → s", "ce: s") for t in TEACHER_PARAMS]
    assert default_contrasts(entries([r for r in made_up() if r.spec.method_label != "ce"])) == ()


def test_unpaired_seeds_fall_back_to_welch() -> None:
    runs = [r for r in made_up() if not (r.spec.method_label == "kd" and r.spec.seed == 2)]
    found = compare((Contrast.model_validate(ESKD_VS_KD),), entries(runs))
    assert all(c.estimate.method == WELCH and c.estimate.n == 2 for c in found)


def test_a_trend_is_the_mean_of_per_seed_slopes_over_log_parameters() -> None:
    runs = []
    for seed, step in enumerate((-1.0, -2.0, -1.5)):  # accuracy per decade of teacher parameters
        for i, teacher in enumerate(("t-small", "t-mid", "t-big")):
            runs.append(result("kd", seed, 90.0 + step * i, teacher, teacher_acc=80.0 + 2 * i + seed))
    runs.append(result("kd", 3, 50.0, "t-big"))  # a seed without a complete ladder is left out
    [trend] = compare((Contrast.model_validate(SIZE_TREND),), entries(runs))
    assert trend.a == "kd → s" and trend.b == "t-small, t-mid, t-big"
    assert trend.estimate.value == pytest.approx(-1.5) and trend.estimate.n == 3
    assert trend.estimate.high < 0 and trend.shown
    [by_accuracy] = compare((Contrast.model_validate(dict(SIZE_TREND, over="teacher_acc")),), entries(runs))
    assert by_accuracy.estimate.value == pytest.approx(-0.75)  # two accuracy points per teacher
    ladder = Contrast.model_validate(dict(SIZE_TREND, teachers=["t-small", "t-big"]))
    assert compare((ladder,), entries(runs))[0].estimate.value == pytest.approx(-1.5)


def test_holm_adjusts_across_every_comparison_of_the_page() -> None:
    rows = entries(made_up())
    contrasts = (Contrast.model_validate(ESKD_VS_KD), Contrast.model_validate(SIZE_TREND))
    found = compare(contrasts, rows)
    raw = sorted(c.estimate.p for c in found)
    smallest = min(found, key=lambda c: c.estimate.p)
    assert len(found) == 4 and smallest.p_holm == pytest.approx(min(1.0, 4 * raw[0]))
    assert all(c.p_holm >= c.estimate.p for c in found)


def test_sentences_say_whether_the_paper_is_reproduced() -> None:
    rows = entries(made_up())
    agree = Contrast.model_validate(dict(ESKD_VS_KD, expected="positive", source="Cho & Hariharan"))
    text = shows((agree,), compare((agree,), rows))
    assert "eskd: t-small → s is higher than kd: t-small → s: +1.05 [" in text
    assert "Cho & Hariharan found it positive: of 3 comparison(s), kdbench agrees in 3" in text
    contradict = Contrast.model_validate(dict(ESKD_VS_KD, expected="negative", source="a paper"))
    assert "contradicts it in 3" in shows((contradict,), compare((contradict,), rows))
    one_seed = entries([r for r in made_up() if r.spec.seed == 0])
    text = shows((agree,), compare((agree,), one_seed))
    assert "3 of 3 comparison(s) show no difference" in text and "higher" not in text
    assert "does not reproduce it in 3" in text
    nothing = Contrast.model_validate(dict(ESKD_VS_KD, a={"method": "eskd", "student": "nobody"}))
    assert "no finished runs of its cells yet" in shows((nothing,), compare((nothing,), rows))
    assert math.isnan(compare((agree,), one_seed)[0].p_holm)


def test_the_page_lists_declared_contrasts_with_what_the_paper_found() -> None:
    from kdbench.leaderboard import Page, track_files
    from tests.synthetic_results import track

    spec = track(contrasts=[dict(SIZE_TREND, expected="negative", source="Cho & Hariharan 2019")])
    page = track_files(Page("synthetic", spec, made_up()))["synthetic.md"]
    protocol = page[page.index("## Protocol"):page.index("## Budget")]
    row = next(line for line in protocol.splitlines() if line.startswith("| size-trend "))
    assert "kd over its teachers, per 10x teacher parameters" in row
    assert "negative (Cho & Hariharan 2019)" in row
    assert "Contrasts declared by the track" in page and "### What this track shows" in page
    assert "Cho & Hariharan 2019 found it negative: of 1 comparison(s), kdbench agrees in 1" in page
    assert "for kd → s it falls over t-small, t-mid, t-big: -1.20 [" in page


def test_tables_print_p_values_to_three_decimals() -> None:
    from kdbench.contrasts import Comparison, tables
    from kdbench.stats import Estimate

    row = Comparison(Contrast.model_validate(ESKD_VS_KD), "eskd: t → s", "kd: t → s",
                     Estimate(0.5, -1.0, 2.0, 0.5, 3, PAIRED), p_holm=1.0)
    line = tables([row]).splitlines()[-1]
    assert "| +0.50 [-1.00, +2.00] " in line and "| 0.500 " in line
    assert line.rstrip().endswith("| 1.000      |")  # not "1", as tabulate would parse it
