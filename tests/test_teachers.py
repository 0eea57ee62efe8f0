"""Teachers: trained once and shared, ensembles that share members, snapshot teachers taken from
the same training run, all reported with agreement and KL."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from kdbench import teachers as teachers_module
from kdbench.cli import main
from kdbench.data.source import DataSource
from kdbench.engine.step import DEFAULT_OPTIONS, EngineOptions
from kdbench.expand import expand
from kdbench.fileio import write_bytes_atomic
from kdbench.specfile import load_track_file
from kdbench.specs import TeacherSpec
from kdbench.teachers import Ensemble, TeacherCache


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
        {"label": "early", "model": mlp, "snapshot_fraction": 0.5},
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


def rerun(tmp_path: Path, track: Path, capsys) -> tuple[dict[str, dict], str]:
    assert main(["run", "--spec", str(track), "--budget", "smoke", "--rerun", "--results",
                 str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache")]) == 0
    results = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("*.json")]
    return {r["spec"]["teacher_label"]: r for r in results}, capsys.readouterr().err


@pytest.mark.parametrize("name, damage", [
    ("model.safetensors", lambda data: data[: len(data) // 2]),
    ("model.safetensors", lambda data: data[:-4] + b"\0\0\0\0"),
    ("epoch-1.safetensors", lambda data: b""),
    ("teacher.json", lambda data: b"\x93garbage{"),
    ("teacher.json", lambda data: b""),
    ("teacher.json", lambda data: b"[1, 2]"),
    ("teacher.json", lambda data: b'{"sha256": 3}'),
])
@pytest.mark.slow
def test_a_corrupt_teacher_file_is_moved_aside_and_the_teacher_retrained(tmp_path, track, capsys,
                                                                         name, damage) -> None:
    before = {r["spec"]["teacher_label"]: r for r in run_smoke(tmp_path, track)}
    capsys.readouterr()
    path = next((tmp_path / "cache" / "teachers").rglob(name))
    damaged = damage(path.read_bytes())
    path.write_bytes(damaged)
    after, err = rerun(tmp_path, track, capsys)
    warnings = [line for line in err.splitlines() if line.startswith("kdbench: warning:")]
    assert len(warnings) == 1 and str(path) in warnings[0] and "corrupt" in warnings[0]
    assert "Traceback" not in err and err.count("trained teacher") == 1
    assert path.with_name(name + ".corrupt").read_bytes() == damaged
    # retrained on the CPU, the same weights again: every result reports the sha256 it had before
    assert {k: r["teacher_sha256"] for k, r in after.items()} == \
        {k: r["teacher_sha256"] for k, r in before.items()}
    _, err = rerun(tmp_path, track, capsys)
    assert "warning" not in err and "trained teacher" not in err


def test_a_teacher_that_diverges_is_named_as_the_one_that_diverged(tmp_path, track, capsys) -> None:
    data = yaml.safe_load(track.read_text())
    data["teachers"] = data["teachers"][:1]
    data["teacher_recipe"]["lr"] = 1e30
    track.write_text(yaml.safe_dump(data))
    assert main(["run", "--spec", str(track), "--budget", "smoke", "--results",
                 str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache")]) == 1
    (result,) = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("*.json")]
    assert result["status"] == "failed"
    assert result["reason"].startswith("FloatingPointError: teacher mlp (seed 0, id ")
    assert "diverged in its own training, before any student" in result["reason"]
    assert "loss term 'ce' is not finite in epoch 0" in result["reason"]


def early_teacher(track: Path, pm) -> TeacherSpec:
    loaded, root = load_track_file(track)
    runs = expand(loaded, "smoke", pm, source=str(track), root=root)
    return next(r.teacher for r in runs if r.teacher_label == "early")


def teachers(tmp_path: Path, pm, name: str) -> TeacherCache:
    """A teacher cache as a new process would make it."""
    return TeacherCache(tmp_path / name, pm, DataSource(pm, tmp_path / "data"), torch.device("cpu"))


@pytest.mark.parametrize("kill", ["after the epoch's checkpoint", "while writing the snapshot"])
def test_a_killed_training_still_leaves_the_early_teacher(tmp_path, track, pm, monkeypatch, kill) -> None:
    spec = early_teacher(track, pm)
    assert spec.checkpoint_epoch == 1 and spec.recipe.epochs == 2
    reference = teachers(tmp_path, pm, "reference").get(spec)

    def stop_after_first_epoch(epoch, entry):
        if epoch == 0:
            raise KeyboardInterrupt

    def die_writing_the_snapshot(path, data):
        if path.name == "epoch-1.safetensors":
            raise KeyboardInterrupt
        write_bytes_atomic(path, data)

    if kill == "while writing the snapshot":
        monkeypatch.setattr(teachers_module, "write_bytes_atomic", die_writing_the_snapshot)
    with pytest.raises(KeyboardInterrupt):
        teachers(tmp_path, pm, "cache").get(spec, stop_after_first_epoch)
    monkeypatch.setattr(teachers_module, "write_bytes_atomic", write_bytes_atomic)
    folder = tmp_path / "cache" / "teachers" / spec.members()[0].teacher_id
    assert not (folder / "teacher.json").exists()

    resumed = teachers(tmp_path, pm, "cache").get(spec)
    assert resumed.sha256 == reference.sha256
    record = json.loads((folder / "teacher.json").read_text())
    assert record["sha256"]["epoch-1.safetensors"] == reference.sha256
    assert not (folder / "checkpoint.pt").exists()


def test_teachers_train_with_the_sweeps_engine_options(tmp_path, track, pm, monkeypatch) -> None:
    seen: list[EngineOptions] = []
    fit = teachers_module.fit

    def recorded(*args, options: EngineOptions = DEFAULT_OPTIONS, **kwargs):
        seen.append(options)
        return fit(*args, options=options, **kwargs)

    monkeypatch.setattr(teachers_module, "fit", recorded)
    engine = EngineOptions(memory_format="contiguous")
    cache = TeacherCache(tmp_path / "cache", pm, DataSource(pm, tmp_path / "data"), torch.device("cpu"),
                         engine=engine)
    cache.get(early_teacher(track, pm))
    assert seen == [engine]
