"""No sentence or headline on a board claims a difference whose interval spans 0: boards made from
synthetic result sets (tied, separated, n = 1, n = 2, and random ones) are read back and every
claim is checked against the interval printed with it."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kdbench.leaderboard import Page, budget_section, index_page
from tests.synthetic_results import result, track

INTERVAL = r"([+-]\d+\.\d+) \[([+-]\d+\.\d+), ([+-]\d+\.\d+)\]"
WINNER = re.compile(INTERVAL + r", (?:paired|Welch) over ")
CLAIM = re.compile(r" is (higher|lower) than | it (rises|falls) over ")
CONTRASTS = [
    {"name": "eskd-vs-kd", "kind": "difference", "a": {"method": "eskd"}, "b": {"method": "kd"},
     "expected": "positive", "source": "Cho & Hariharan 2019"},
    {"name": "kd-vs-ce", "kind": "difference", "a": {"method": "kd"}, "b": {"method": "ce"}},
    {"name": "size-trend", "kind": "trend", "method": "kd", "over": "teacher_params",
     "expected": "negative", "source": "Cho & Hariharan 2019"},
]
TEACHERS = ("t-small", "t-mid", "t-big")


def results_of(effects: dict[str, float], noise: list[dict[str, float]],
               teacher_seeds: bool = False) -> list:
    """Runs of ce and of kd and eskd under each teacher: accuracy 90 + the cell's effect + the
    seed's noise, one seed per entry of ``noise``."""
    runs = []
    for seed, jitter in enumerate(noise):
        runs.append(result("ce", seed, 90 + effects.get("ce", 0) + jitter.get("ce", 0)))
        for method in ("kd", "eskd"):
            for teacher in TEACHERS:
                cell = f"{method}:{teacher}"
                acc = 90 + effects.get(cell, 0) + jitter.get(cell, 0)
                runs.append(result(method, seed, acc, teacher, agreement=acc,
                                   teacher_seed=seed if teacher_seeds else 0))
    return runs


def boards(runs: list) -> tuple[str, str]:
    """The budget section (with the declared contrasts) and the index of ``runs``."""
    spec = track(contrasts=CONTRASTS)
    section = budget_section(runs, spec, "full")
    index = index_page({"synthetic": Page("synthetic", spec, runs)}, published=False)
    return section, index


def shown_claims(section: str) -> list[str]:
    """Every claim clause of the "what this track shows" paragraph, checked against its interval
    and Holm-adjusted p; the interval must be the one in the contrast tables."""
    paragraph = section.split("### What this track shows", 1)[1]
    tables = section.split("### What this track shows", 1)[0]
    claims = [clause for clause in re.split(r"; |\. ", paragraph) if CLAIM.search(clause)]
    for clause in claims:
        found = re.search(INTERVAL, clause)
        assert found, clause
        value, low, high = found.groups()
        direction = CLAIM.search(clause).group(1) or CLAIM.search(clause).group(2)
        sign = "+" if direction in ("higher", "rises") else "-"
        assert value[0] == low[0] == high[0] == sign, f"claim with an interval spanning 0: {clause}"
        p = re.search(r"Holm p (<0\.001|\d\.\d+)", clause).group(1)
        assert p == "<0.001" or float(p) < 0.05, clause
        assert found.group(0) in tables, clause
    for sentence in paragraph.split("**")[2::2]:
        agreed = re.search(r"agrees in (\d+), .* contradicts it in (\d+)", sentence)
        if agreed:
            assert int(agreed.group(1)) + int(agreed.group(2)) <= len(CLAIM.findall(sentence)), sentence
    return claims


def winners(index: str) -> list[str]:
    """Every headline that names a winner, checked: its interval over the runner-up excludes 0."""
    row = next(line for line in index.splitlines() if "[synthetic](synthetic.md)" in line)
    named = WINNER.findall(row)
    assert len(named) == row.count(" over "), row
    for value, low, high in named:
        assert value[0] == low[0] == high[0] == "+", row
    return named


def test_separated_results_headline_a_winner_and_claim_the_difference() -> None:
    effects = {"eskd:t-small": 4.0, "kd:t-small": 2.0, "kd:t-mid": 1.0}
    noise = [{"eskd:t-small": 0.1}, {"kd:t-small": -0.1, "ce": 0.2}, {"eskd:t-small": -0.2, "kd:t-mid": 0.1}]
    section, index = boards(results_of(effects, noise))
    assert len(winners(index)) >= 1 and "eskd: t-small → s (93.97 ± 0.15; +2.00 [" in index
    claims = shown_claims(section)
    assert any("eskd: t-small → s is higher than kd: t-small → s" in claim for claim in claims)
    assert "kdbench agrees in 1" in section


def test_tied_results_say_tied_with_the_interval_and_claim_nothing() -> None:
    noise = [{"eskd:t-small": 1.0, "kd:t-small": 0.2}, {"eskd:t-small": -0.9, "kd:t-small": 0.6}]
    section, index = boards(results_of({"eskd:t-small": 0.5, "kd:t-small": 0.4}, noise))
    assert winners(index) == []
    assert "tied: kd: t-small → s, eskd: t-small → s (+0.25 [-14.36, +14.86], paired)" in index
    assert shown_claims(section) == [] and "does not reproduce it in" in section


def test_one_seed_never_names_a_winner_or_claims_anything() -> None:
    section, index = boards(results_of({"eskd:t-small": 5.0, "kd:t-big": -5.0}, [{}]))
    assert winners(index) == [] and "(+5.00 (no interval: n = 1), paired)" in index
    assert shown_claims(section) == [] and "Holm p" not in section


def test_two_seeds_claim_only_what_their_wide_interval_allows() -> None:
    big = results_of({"eskd:t-small": 3.0}, [{"eskd:t-small": 0.1}, {"eskd:t-small": -0.1}])
    section, index = boards(big)
    assert len(winners(index)) == 2 and len(shown_claims(section)) >= 1  # accuracy and t-small agreement
    small = results_of({"eskd:t-small": 0.3}, [{"eskd:t-small": 0.2}, {"eskd:t-small": -0.2}])
    section, index = boards(small)
    assert winners(index) == [] and shown_claims(section) == []


def test_the_board_says_which_variance_its_intervals_include() -> None:
    shared, _ = boards(results_of({}, [{"kd:t-small": 0.1}, {}]))
    assert "student seeds only: the runs of each cell share one teacher" in shared
    own, _ = boards(results_of({}, [{"kd:t-small": 0.1}, {}], teacher_seeds=True))
    assert "Intervals include teacher variance" in own


def test_the_accuracy_board_shows_nll_and_ece() -> None:
    section, _ = boards(results_of({}, [{}, {"ce": 0.1}]))
    lines = section.splitlines()
    header = next(line for line in lines if line.startswith("| student ") and "test acc" in line)
    assert "test NLL (nats)" in header and "test ECE (%)" in header
    ce_row = next(line for line in lines if line.startswith("| s ") and "| ce " in line)
    assert "| 0.300 ± 0.000 " in ce_row and "| 2.00 ± 0.00 " in ce_row


def test_most_faithful_is_picked_per_teacher() -> None:
    # kd under t-big agrees most in absolute terms, but agreement only compares within a teacher.
    effects = {"kd:t-big": 8.0, "eskd:t-small": 3.0}
    noise = [{"eskd:t-small": 0.1, "kd:t-big": 0.2}, {"kd:t-small": 0.1}, {"eskd:t-small": -0.1}]
    _, index = boards(results_of(effects, noise))
    faithful = next(line for line in index.splitlines() if "[synthetic]" in line).split("|")[-2]
    assert faithful.count("t-small: ") == 1 and "t-big: kd: t-big → s (98.0" in faithful
    assert "t-small: eskd: t-small → s (93." in faithful and "t-mid: tied: " in faithful


cells = ["ce"] + [f"{m}:{t}" for m in ("kd", "eskd") for t in TEACHERS]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(effects=st.fixed_dictionaries({cell: st.sampled_from([0.0, 0.1, 0.5, 2.0, -2.0]) for cell in cells}),
       noise=st.lists(st.fixed_dictionaries({cell: st.floats(-1.5, 1.5).map(lambda x: round(x, 1))
                                              for cell in cells}), min_size=1, max_size=4),
       teacher_seeds=st.booleans())
def test_no_claim_on_any_board_spans_zero(effects, noise, teacher_seeds) -> None:
    section, index = boards(results_of(effects, noise, teacher_seeds))
    shown_claims(section)
    winners(index)


def test_a_lone_cell_wins_nothing_and_an_exact_tie_keeps_the_rows_order() -> None:
    from kdbench.aggregate import entries
    from kdbench.headlines import headline

    alone = entries([result("kd", seed, 95.0 + seed, "t-small") for seed in (0, 1)])
    assert headline(alone, "student_acc") == "kd: t-small → s (95.50 ± 0.71; nothing to compare with)"
    tie = entries([result(method, seed, 95.0 + seed, "t-small")
                   for method in ("eskd", "kd") for seed in (0, 1)])
    assert headline(tie, "student_acc") == ("tied: eskd: t-small → s, kd: t-small → s "
                                            "(+0.00 (no interval: zero spread), paired)")
    assert headline(tie[::-1], "student_acc").startswith("tied: kd: t-small → s, eskd: t-small → s")
