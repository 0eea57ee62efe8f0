"""Mixed precision: part of the recipe and so of the ids (but fp32 ids are as before), trained and
evaluated under autocast, fp16 through a gradient scaler, unsupported cases refused in one line."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
import torch

from kdbench.api import prepare
from kdbench.api import run as run_track
from kdbench.data.embedded import load_digits
from kdbench.data.normalization import ImageParams
from kdbench.engine.precision import check_precision
from kdbench.engine.step import TrainStep
from kdbench.engine.train import fit
from kdbench.errors import KdbenchError
from kdbench.leaderboard import protocol
from kdbench.methods.ce import CE, CEParams
from kdbench.models.mlp import MLP
from kdbench.specs import Recipe, TrackSpec, digest

RECIPE = Recipe(epochs=3, batch_size=64, lr=0.1, milestones=(2,))
CPU = torch.device("cpu")


def test_fp32_recipes_hash_as_before_the_field_existed() -> None:
    data = RECIPE.model_dump(mode="json")
    assert "precision" not in data
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert digest(RECIPE) == hashlib.sha256(canonical.encode()).hexdigest()[:16]
    mixed = RECIPE.model_copy(update={"precision": "bf16-mixed"})
    assert mixed.model_dump(mode="json")["precision"] == "bf16-mixed"
    assert digest(mixed) != digest(RECIPE)
    assert Recipe.model_validate(mixed.model_dump()) == mixed


def test_precision_option_gives_runs_and_teachers_their_own_ids(tmp_path, tiny_track, write_track) -> None:
    path = write_track(tiny_track)
    where = {"results": tmp_path / "results", "cache": tmp_path / "cache"}
    plain = prepare(path, "smoke", **where).runs
    mixed = prepare(path, "smoke", precision="bf16-mixed", **where).runs
    assert {r.recipe.precision for r in mixed} == {"bf16-mixed"}
    assert {r.teacher.recipe.precision for r in mixed if r.teacher} == {"bf16-mixed"}
    assert not {r.run_id for r in plain} & {r.run_id for r in mixed}
    assert not ({r.teacher.teacher_id for r in plain if r.teacher}
                & {r.teacher.teacher_id for r in mixed if r.teacher})
    assert [r.run_id for r in prepare(path, "smoke", precision="fp32", **where).runs] == \
        [r.run_id for r in plain]


def test_the_track_page_names_a_precision_other_than_fp32(tiny_track) -> None:
    assert "mixed" not in protocol(TrackSpec.model_validate(tiny_track, strict=False))
    tiny_track["student_recipe"]["precision"] = "bf16-mixed"
    assert "sgd lr 0.05 multistep, bf16-mixed" in protocol(TrackSpec.model_validate(tiny_track, strict=False))


def train(precision: str, checkpoint=None) -> list[dict]:
    torch.manual_seed(0)
    recipe = RECIPE.model_copy(update={"precision": precision})
    data = load_digits(ImageParams(), "train").limit(640)
    return fit(CE(MLP(64, 10, (32,)), None, CEParams()), data, recipe, 0, CPU,
               test=load_digits(ImageParams(), "test"), checkpoint=checkpoint)


def test_bf16_mixed_trains_to_about_fp32s_accuracy_by_other_arithmetic() -> None:
    plain, mixed = train("fp32"), train("bf16-mixed")
    assert all(math.isfinite(entry["loss"]["ce"]) for entry in mixed)
    assert abs(mixed[-1]["test_acc"] - plain[-1]["test_acc"]) < 5
    assert [entry["loss"] for entry in mixed] != [entry["loss"] for entry in plain]


def test_fp16_mixed_scales_the_loss_and_checkpoints_the_scale(tmp_path) -> None:
    history = train("fp16-mixed", tmp_path / "run.pt")
    assert all(math.isfinite(entry["loss"]["ce"]) for entry in history) and history[-1]["test_acc"] > 50
    assert torch.load(tmp_path / "run.pt", weights_only=True)["scaler"]["scale"] > 0
    train("fp32", tmp_path / "plain.pt")
    assert "scaler" not in torch.load(tmp_path / "plain.pt", weights_only=True)
    model = MLP(64, 10, (8,))
    distiller = CE(model, None, CEParams())
    step = TrainStep(distiller, torch.optim.SGD(model.parameters(), lr=0.1), "fp16-mixed", CPU)
    assert step.scaler.is_enabled() and step.scaler.get_scale() == 2.0**16


def test_precisions_a_device_cannot_run_are_one_line_errors(monkeypatch) -> None:
    with pytest.raises(KdbenchError, match="^precision 'fp8': use fp32, bf16-mixed, fp16-mixed$"):
        check_precision("fp8", CPU)
    monkeypatch.setattr(torch, "is_autocast_enabled", lambda device_type=None: False)
    with pytest.raises(KdbenchError, match=r"^precision fp16-mixed: torch .* cannot autocast to "
                                           r"torch.float16 on cpu; use fp32$"):
        check_precision("fp16-mixed", CPU)
    monkeypatch.setattr(torch.amp, "is_autocast_available", lambda device_type: False)
    with pytest.raises(KdbenchError, match="^precision bf16-mixed: torch has no autocast on cpu"):
        check_precision("bf16-mixed", CPU)


@pytest.mark.slow
def test_a_bf16_mixed_run_is_its_own_result_within_a_few_points_of_fp32(tmp_path, tiny_track,
                                                                       write_track) -> None:
    tiny_track.update(teachers=tiny_track["teachers"][:1], methods=[{"name": "kd"}], seeds=[0])
    path = write_track(tiny_track)
    where = {"results": tmp_path / "results", "cache": tmp_path / "cache"}
    plain = run_track(path, **where)
    (mixed,) = run_track(path, precision="bf16-mixed", **where)
    assert mixed.run_id != plain[0].run_id and mixed.spec.recipe.precision == "bf16-mixed"
    assert mixed.spec.teacher is not None and mixed.spec.teacher.recipe.precision == "bf16-mixed"
    for split in ("test", "train"):
        for name in ("student_acc", "teacher_acc", "agreement"):
            value = mixed.metrics[split][name]
            assert value is not None and abs(value - plain[0].metrics[split][name]) < 5, (split, name)
        assert math.isfinite(mixed.metrics[split]["kl"])
