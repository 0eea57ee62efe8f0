"""Teachers: trained once and shared, ensembles that share members, early-stopped teachers taken
from checkpoints of the same training run, all reported with agreement and KL."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from kdbench.cli import main
from kdbench.teachers import Ensemble


def test_ensemble_predicts_log_of_mean_softmax() -> None:
    a, b = torch.nn.Linear(3, 4), torch.nn.Linear(3, 4)
    x = torch.randn(5, 3)
    expected = torch.log((a(x).softmax(1) + b(x).softmax(1)) / 2)
    assert torch.allclose(Ensemble([a, b])(x), expected, atol=1e-6)
    assert torch.allclose(Ensemble([a])(x).exp().sum(1), torch.ones(5))


@pytest.fixture
def track(tiny_track, write_track) -> Path:
    mlp = {"name": "mlp", "params": {"hidden": [64]}}
    tiny_track["teachers"] = [
        {"label": "single", "model": mlp},
        {"label": "ensemble-2", "model": mlp, "ensemble": 2},
        {"label": "early", "model": mlp, "checkpoint_fraction": 0.5},
    ]
    tiny_track["methods"] = [{"name": "kd"}]
    tiny_track["budgets"]["smoke"]["teacher"] = {"epochs": 2, "milestones": []}
    return write_track(tiny_track)


def run_smoke(tmp_path: Path, track: Path) -> list[dict]:
    assert main(["run", "--spec", str(track), "--budget", "smoke", "--results",
                 str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache")]) == 0
    return [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("*.json")]


def test_ensemble_and_early_stopped_teachers(tmp_path, track, capsys) -> None:
    results = {r["spec"]["teacher_label"]: r for r in run_smoke(tmp_path, track)}
    members = sorted((tmp_path / "cache" / "teachers").iterdir())
    assert len(members) == 2  # seed 0 (shared by all three teachers) and seed 1000
    shared = next(m for m in members if json.loads((m / "teacher.json").read_text())
                  ["spec"]["seed"] == 0)
    assert sorted(p.name for p in shared.glob("*.safetensors")) == ["epoch-1.safetensors",
                                                                    "model.safetensors"]
    record = json.loads((shared / "teacher.json").read_text())
    for label in ("single", "ensemble-2", "early"):
        test = results[label]["metrics"]["test"]
        assert 0 <= test["agreement"] <= 100 and test["kl"] >= 0
    # the early-stopped teacher is the member after epoch 1 of 2: its test accuracy is the one
    # its own training history recorded at that epoch
    early = results["early"]["metrics"]["test"]["teacher_acc"]
    assert early == pytest.approx(record["history"][0]["test_acc"])
    assert results["single"]["metrics"]["test"]["teacher_acc"] == \
        pytest.approx(record["history"][1]["test_acc"])
    assert results["early"]["spec"]["teacher"]["checkpoint_epoch"] == 1
    assert results["single"]["teacher_sha256"] == record["sha256"]["model.safetensors"]
    assert results["early"]["teacher_sha256"] == record["sha256"]["epoch-1.safetensors"]
    assert results["ensemble-2"]["teacher_params"] == 2 * results["single"]["teacher_params"]
    assert not math.isclose(results["ensemble-2"]["metrics"]["test"]["kl"],
                            results["single"]["metrics"]["test"]["kl"])


def test_tampered_teacher_weights_are_refused(tmp_path, track, capsys) -> None:
    run_smoke(tmp_path, track)
    weights = next((tmp_path / "cache" / "teachers").rglob("model.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    assert main(["run", "--spec", str(track), "--budget", "smoke", "--rerun", "--results",
                 str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache")]) == 1
    assert "does not match its sha256" in capsys.readouterr().err
