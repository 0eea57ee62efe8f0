"""The property-transfer tracks (Ojha et al. 2023): their protocols, and smoke runs that probe
every run and render the probes on the board."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kdbench.cli import main
from kdbench.expand import expand
from kdbench.plugins import get_plugin_manager
from kdbench.specfile import load_track_file


def track(name: str):
    pm = get_plugin_manager()
    return load_track_file(pm.tracks.get(name).path)[0], pm


def test_mnist_track_trains_the_teacher_on_colour_and_the_students_on_grey() -> None:
    spec, pm = track("property-transfer-mnist")
    runs = expand(spec, "full", pm)
    assert len(runs) == 9 and {r.seed for r in runs} == {0, 1, 2}
    assert {r.distill_data.params["fraction"] for r in runs} == {0.0}
    assert {r.teacher.dataset.params["fraction"] for r in runs if r.teacher} == {0.5}
    assert {r.teacher.seed for r in runs if r.teacher} == {0}
    assert [track_probe.name for track_probe in spec.probes] == [
        "invariance", "adversarial-transfer", "adversarial-transfer", "error-agreement", "gradcam"]
    metrics = {c.metric for c in spec.contrasts if c.expected == "positive"}
    assert {"test.colour.student", "test.pgd.student"} <= metrics  # (a) invariance, (b) vulnerability


def probed(tmp_path: Path, name: str) -> tuple[list[dict], list[dict]]:
    """The results and the probe records of a smoke run of ``name``."""
    folder = tmp_path / "results" / name / "smoke"
    read = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    return read, [json.loads(p.read_text()) for p in sorted(folder.glob("probes/*.json"))]


@pytest.mark.slow
def test_property_transfer_cifar100_smoke_run(tmp_path, data_files, run_smoke) -> None:
    data_files.write_cifar(tmp_path / "data", "cifar100", per_file=64)
    results = run_smoke("property-transfer-cifar100")
    assert len(results) == 8 and all(r["status"] == "ok" for r in results)
    _, records = probed(tmp_path, "property-transfer-cifar100")
    assert len(records) == 8
    assert all({"pgd.student", "gradcam.closer", "errors.student"} <= set(r["values"]["test"])
               for r in records)


@pytest.mark.slow
def test_property_transfer_imagenet_smoke_run(tmp_path, data_files, run_smoke) -> None:
    data_files.write_imagenet(tmp_path / "data")
    results = run_smoke("property-transfer")
    assert len(results) == 8 and all(r["status"] == "ok" for r in results)
    assert len(probed(tmp_path, "property-transfer")[1]) == 8
    assert main(["leaderboard", "--results", str(tmp_path / "results")]) == 0
    page = (tmp_path / "results" / "property-transfer.md").read_text()
    assert "**pgd** (adversarial-transfer(" in page and "Ojha et al. 2023, Tables 5 and 6" in page
