"""Per-method cost: teacher forwards counted in the engine step, the method's own parameters, and
the board's cost table (time per epoch relative to KD), which ignores tampered history entries."""

from __future__ import annotations

import math

import pytest
import torch
from synthetic_results import result
from torch import nn

from kdbench.cost import TeacherForwards, cost_board, method_costs, method_parameters
from kdbench.data.embedded import load_digits
from kdbench.data.normalization import ImageParams
from kdbench.engine.train import fit
from kdbench.leaderboard import budget_section
from kdbench.methods.ce import CE, CEParams
from kdbench.methods.eskd import ESKD, ESKDParams
from kdbench.methods.kd import KD, KDParams
from kdbench.models.mlp import MLP
from kdbench.specs import Recipe

RECIPE = Recipe(epochs=3, batch_size=256, lr=0.05)


def history_of(distiller: nn.Module) -> list[dict]:
    data = load_digits(ImageParams(), "train")
    return fit(distiller, data, RECIPE, 0, torch.device("cpu"))


def test_each_epoch_records_the_teacher_forwards_it_made():
    teacher = MLP(64, 10, (16,))
    kd = history_of(KD(MLP(64, 10, (8,)), teacher, KDParams()))
    assert [entry["teacher_images"] for entry in kd] == [entry["images"] for entry in kd] != [0, 0, 0]
    eskd = history_of(ESKD(MLP(64, 10, (8,)), teacher, ESKDParams(stop_epoch=1)))
    assert [entry["teacher_images"] for entry in eskd] == [eskd[0]["images"], 0, 0]
    assert {entry["teacher_images"] for entry in history_of(CE(MLP(64, 10, (8,)), None, CEParams()))} == {0}
    assert not teacher._forward_hooks  # the count leaves nothing behind on a shared teacher


def test_teacher_forwards_count_images_until_closed():
    teacher = nn.Linear(4, 3)
    forwards = TeacherForwards(teacher)
    teacher(torch.randn(5, 4))
    teacher(torch.randn(2, 4))
    assert forwards.take() == 7 and forwards.take() == 0
    forwards.close()
    teacher(torch.randn(5, 4))
    assert forwards.take() == 0 and TeacherForwards(None).take() == 0


def test_method_parameters_are_neither_the_students_nor_the_teachers():
    distiller = nn.Module()
    distiller.student, distiller.teacher = nn.Linear(2, 3), nn.Linear(50, 2)
    assert method_parameters(distiller) == 0
    distiller.regressor = nn.Linear(3, 4)
    assert method_parameters(distiller) == 16


def timed(method: str, seed: int, seconds: list[float], teacher: str | None = "t-mid",
          forwards: int | None = None, extra: int | None = None):
    """A synthetic result whose epochs took ``seconds``, each on 100 images."""
    run = result(method, seed, 80.0, teacher=teacher)
    history = [{"epoch": i, "images": 100, "seconds": s} for i, s in enumerate(seconds)]
    if forwards is not None:
        history = [{**entry, "teacher_images": forwards} for entry in history]
    return run.model_copy(update={"history": history, "method_params": extra})


def test_time_relative_to_kd_on_the_same_pair_and_seed():
    results = [timed("kd", 0, [9.0, 2.0, 2.0], forwards=100), timed("kd", 1, [4.0, 4.0]),
               timed("eskd", 0, [4.0, 4.0, 4.0], forwards=50, extra=0),
               timed("eskd", 1, [2.0, 2.0], extra=0),
               timed("ce", 0, [1.0], teacher=None, forwards=0)]
    costs = {cost.method: cost for cost in method_costs(results)}
    assert costs["kd"].seconds == pytest.approx(3.0) and costs["kd"].relative_to_kd == pytest.approx(1.0)
    assert costs["eskd"].relative_to_kd == pytest.approx(math.sqrt(2.0 * 0.5))  # geometric mean
    assert costs["ce"].relative_to_kd == pytest.approx(0.5)  # against KD on its student and seed
    assert costs["kd"].teacher_forwards == 1.0 and costs["eskd"].teacher_forwards == 0.5
    assert costs["ce"].teacher_forwards == 0.0 and costs["kd"].extra_parameters is None
    assert costs["eskd"].extra_parameters == (0, 0)
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in cost_board(results).splitlines()]
    assert ["eskd", "3.000", "1.00", "0", "0.50"] in rows and ["ce", "1.000", "0.50", "-", "0.00"] in rows


def test_without_kd_runs_there_is_no_ratio():
    costs = method_costs([timed("ce", 0, [1.0], teacher=None), timed("eskd", 0, [2.0], extra=1200)])
    assert [c.relative_to_kd for c in costs] == [None, None]
    assert "1,200" in cost_board([timed("eskd", 0, [2.0], extra=1200)])


@pytest.mark.parametrize("bad", ["3", -1.0, float("nan"), float("inf"), True, None])
def test_tampered_history_entries_are_left_out(bad):
    run = timed("kd", 0, [2.0, 2.0], forwards=100)
    history = [{**run.history[0], "seconds": bad, "teacher_images": bad}, run.history[1], "junk"]
    cost = method_costs([run.model_copy(update={"history": history})])[0]
    assert cost.seconds == 2.0 and cost.teacher_forwards == 1.0


def test_every_budget_section_carries_the_cost_table():
    results = [timed("kd", 0, [2.0], forwards=100), timed("ce", 0, [1.0], teacher=None, forwards=0)]
    section = budget_section(results, None, "full")
    assert "### Cost" in section and cost_board(results) in section
