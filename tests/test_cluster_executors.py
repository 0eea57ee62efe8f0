"""The ``ray`` and ``slurm`` executors on this machine, as CI runs them: a local Ray instance and
submitit's local executor each run a small track and give the run ids and metrics of the local
executor. Without the extra installed, the test is skipped and says which to install."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import kdbench
from kdbench.engine.step import EngineOptions


@pytest.fixture
def small(tiny_track, write_track) -> Path:
    """CE, and KD from one teacher, seed 0, at the smoke budget, on flipped images: run with
    ``BANKED``, KD's teacher is served from a view bank, a job of its own."""
    tiny_track["teachers"] = tiny_track["teachers"][:1]
    tiny_track["methods"] = [{"name": "ce"}, {"name": "kd"}]
    tiny_track["budgets"]["smoke"]["student"]["augment"] = ["flip"]
    return write_track(tiny_track)


BANKED = EngineOptions(view_bank="on")


def local_results(track: Path, tmp_path: Path, threads: int) -> dict[str, dict]:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        results = kdbench.run(track, "smoke", progress=False, results=tmp_path / "local",
                              cache=tmp_path / "local-cache", engine=BANKED)
    finally:
        torch.set_num_threads(before)
    return {result.run_id: result.metrics for result in results}


def test_ray_gives_the_local_executors_results(small, tmp_path) -> None:
    ray = pytest.importorskip("ray", reason='the ray executor needs pip install "kdbench[ray]"')
    expected = local_results(small, tmp_path, threads=1)  # Ray gives a 1-CPU task one thread
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        results = kdbench.run(small, "smoke", executor="ray", progress=False,
                              results=tmp_path / "ray", cache=tmp_path / "ray-cache", engine=BANKED)
    finally:
        ray.shutdown()
    assert {result.run_id: result.metrics for result in results} == expected
    assert len(list((tmp_path / "ray-cache" / "teachers").glob("*/model.safetensors"))) == 1
    assert len(list((tmp_path / "ray-cache" / "teachers").glob("*/logits/train-views-*"))) == 1


def test_submitit_local_gives_the_local_executors_results(small, tmp_path) -> None:
    pytest.importorskip("submitit", reason='the slurm executor needs pip install "kdbench[slurm]"')
    expected = local_results(small, tmp_path, threads=torch.get_num_threads())
    results = kdbench.run(small, "smoke", executor="slurm", progress=False,
                          executor_options={"cluster": "local", "folder": str(tmp_path / "submitit")},
                          results=tmp_path / "slurm", cache=tmp_path / "slurm-cache", engine=BANKED)
    assert {result.run_id: result.metrics for result in results} == expected
    assert len(list((tmp_path / "submitit").glob("*_result.pkl"))) == 4  # teacher, bank, ce, kd
