"""The runs' training data is checked before anything trains: a subset that leaves no examples,
or none of some class, is a one-line error naming the field, and no run starts."""

from __future__ import annotations

from pathlib import Path

import torch

from kdbench.cli import main
from kdbench.data.source import DataSource
from kdbench.expand import expand
from kdbench.preflight import data_problems
from kdbench.specs import TrackSpec


def run(tmp_path: Path, spec: Path, capsys) -> tuple[int, list[str]]:
    code = main(["run", "--spec", str(spec), "--budget", "smoke", "--device", "cpu",
                 "--results", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache")])
    return code, capsys.readouterr().err.splitlines()


def test_an_empty_subset_stops_the_sweep_before_any_run(tmp_path, capsys, tiny_track,
                                                        write_track) -> None:
    tiny_track["students"].append({"label": "few", "model": {"name": "mlp"},
                                   "distill_data": {"name": "digits", "subset": {"fraction": 1e-6}}})
    path = write_track(tiny_track)
    code, lines = run(tmp_path, path, capsys)
    assert code == 2 and len(lines) == 1 and "Traceback" not in lines[0]
    assert lines[0].startswith(f"kdbench: error: {path}: distill_data.subset.fraction (student few): "
                               "leaves none of the ")
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()


def test_a_per_class_complement_without_some_class_is_named(pm, tmp_path, tiny_track) -> None:
    data = DataSource(pm, tmp_path)
    counts = torch.bincount(data.load(TrackSpec.model_validate(tiny_track).dataset, "train").labels)
    tiny_track["teacher_data"] = {"name": "digits",
                                  "subset": {"per_class": int(counts.min()), "complement": True}}
    runs = expand(TrackSpec.model_validate(tiny_track), "smoke", pm)
    problems = data_problems(runs, data)
    smallest = (counts == counts.min()).nonzero().flatten().tolist()
    assert len(smallest) == 1  # digits' train split: one class is the smallest
    assert problems == ["teacher_data.subset.per_class (teacher mlp-64, teacher mlp-128): leaves no "
                        f"example of class {smallest[0]} of the train split of digits"]


def test_a_subset_larger_than_a_class_is_named(pm, tmp_path, tiny_track) -> None:
    tiny_track["teacher_data"] = {"name": "digits", "subset": {"per_class": 100_000}}
    problems = data_problems(expand(TrackSpec.model_validate(tiny_track), "smoke", pm),
                             DataSource(pm, tmp_path))
    assert len(problems) == 1 and problems[0].startswith("teacher_data.subset.per_class (teacher ")
    assert "asks for 100000 examples of class" in problems[0]


def test_usable_data_has_no_problems(pm, tmp_path, tiny_track) -> None:
    tiny_track["distill_data"] = {"name": "digits", "subset": {"fraction": 0.01}}
    runs = expand(TrackSpec.model_validate(tiny_track), "full", pm)
    assert data_problems(runs, DataSource(pm, tmp_path)) == []
