"""One run on several processes (torchrun + DDP): the environment, sharding, the refusals before
anything trains, and two real gloo processes against one process on the same run."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing
from safetensors.torch import load_file

from kdbench.cli import main
from kdbench.data.tensors import Batch
from kdbench.engine.distributed import Group, from_environ, shard
from kdbench.errors import KdbenchError

TORCHRUN = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": "29500"}


def test_one_process_is_no_group_and_torchrun_s_variables_make_one() -> None:
    assert from_environ({}) is None and from_environ({"WORLD_SIZE": "1"}) is None
    assert from_environ({**TORCHRUN, "RANK": "1", "LOCAL_RANK": "1"}) == Group(1, 1, 2)
    assert from_environ(TORCHRUN) is not None and from_environ(TORCHRUN).main  # type: ignore[union-attr]


@pytest.mark.parametrize("change, named", [({"RANK": "x"}, "RANK='x'"), ({"RANK": "2"}, "RANK=2"),
                                           ({"MASTER_PORT": ""}, "MASTER_PORT")])
def test_a_broken_torchrun_environment_is_one_line_naming_the_variable(change, named) -> None:
    with pytest.raises(KdbenchError, match=named) as caught:
        from_environ({**TORCHRUN, **change})
    assert len(str(caught.value).splitlines()) == 1


def batch(n: int) -> Batch:
    return Batch(torch.randn(n, 1, 2, 2), torch.arange(n) % 3, torch.arange(n) + 100,
                 torch.ones(n, dtype=torch.bool))


def test_ranks_take_contiguous_shards_the_first_ones_one_example_more() -> None:
    whole = batch(7)
    parts = [shard(whole, rank, 3) for rank in range(3)]
    assert [len(part.labels) for part in parts] == [3, 2, 2]
    for field in range(4):
        assert torch.equal(torch.cat([part[field] for part in parts]), whole[field])


def test_a_batch_smaller_than_the_world_is_refused_not_trained_on_empty() -> None:
    with pytest.raises(ValueError, match="leaves rank 2 of 3 without any"):
        shard(batch(2), 2, 3)


@pytest.fixture
def kd_track(tiny_track, write_track) -> Path:
    """CE and KD from mlp-64 into mlp-16, seed 0, at an odd batch size (shards of 32 and 31)."""
    tiny_track["teachers"] = tiny_track["teachers"][:1]
    tiny_track["methods"] = [{"name": "ce"}, {"name": "kd"}]
    tiny_track["student_recipe"]["batch_size"] = 63
    tiny_track["seeds"] = [0]
    return write_track(tiny_track)


@pytest.mark.parametrize("args, named", [
    (["--jobs", "2"], "--executor local under torchrun (WORLD_SIZE=2)"),
    (["--set", "methods.1={name: crd}"], "method 'crd' (crd) under torchrun (WORLD_SIZE=2)"),
    (["--set", "student_recipe.batch_size=3"], "batch_size 3 (ce, mlp-16) under torchrun"),
    (["--device", "cuda:1"], "--device cuda:1 under torchrun")])
def test_what_torchrun_cannot_run_is_refused_in_one_line_before_anything_trains(
        kd_track, tmp_path, capsys, monkeypatch, args, named) -> None:
    for name, value in TORCHRUN.items():
        monkeypatch.setenv(name, value)
    code = main(["run", "--spec", str(kd_track), "--budget", "smoke", "--results", str(tmp_path / "r"),
                 *args])
    err = capsys.readouterr().err
    assert code == 2 and named in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists() and not (tmp_path / "cache" / "teachers").exists()


def record_rank(rank: int, port: int, argv: list[str], out: str) -> None:
    """One torchrun rank, in a spawned process: runs ``argv`` and records the examples each KD
    step trained on, the results it wrote and its exit code under ``out``."""
    from kdbench.methods.kd import KD
    from kdbench.results import ResultStore

    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    seen, wrote = record(KD, ResultStore)
    code = main(argv)
    Path(out, f"rank{rank}.json").write_text(json.dumps({"code": code, "seen": seen, "wrote": wrote}))


def record(kd: type, store: type) -> tuple[list[list[int]], list[str]]:
    """Patch KD's step and the result store's write to record what they see."""
    seen: list[list[int]] = []
    wrote: list[str] = []
    step, write = kd.forward, store.write

    def forward(self, batch, epoch):  # type: ignore[no-untyped-def]
        seen.append(batch.index.tolist())
        return step(self, batch, epoch)

    def writing(self, result):  # type: ignore[no-untyped-def]
        wrote.append(result.run_id)
        return write(self, result)

    kd.forward, store.write = forward, writing
    return seen, wrote


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_two_gloo_processes_make_the_run_of_one_process(kd_track, tmp_path, monkeypatch) -> None:
    from kdbench.methods.kd import KD
    from kdbench.results import ResultStore

    args = ["run", "--spec", str(kd_track), "--budget", "smoke", "--device", "cpu"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(KD, "forward", KD.forward)
            patch.setattr(ResultStore, "write", ResultStore.write)
            alone, _ = record(KD, ResultStore)
            assert main([*args, "--results", str(tmp_path / "one"), "--cache-dir", str(tmp_path / "c1")]) == 0
    finally:
        torch.set_num_threads(threads)
    out = tmp_path / "ranks"
    out.mkdir()
    argv = [*args, "--results", str(tmp_path / "two"), "--cache-dir", str(tmp_path / "c2")]
    torch.multiprocessing.spawn(record_rank, args=(free_port(), argv, str(out)), nprocs=2)
    ranks = [json.loads((out / f"rank{rank}.json").read_text()) for rank in range(2)]
    assert [rank["code"] for rank in ranks] == [0, 0]
    steps = list(zip(ranks[0]["seen"], ranks[1]["seen"], strict=True))
    assert [first + second for first, second in steps] == alone  # one global order, sharded
    assert {len(first) - len(second) for first, second in steps} == {1}  # 63 = 32 + 31
    assert ranks[1]["wrote"] == [] and len(ranks[0]["wrote"]) == len(set(ranks[0]["wrote"])) == 2
    assert len(list((tmp_path / "c2" / "teachers").glob("*/teacher.json"))) == 1
    for path in (tmp_path / "one" / "tiny" / "smoke").glob("*.json"):
        one = json.loads(path.read_text())
        two = json.loads((tmp_path / "two" / "tiny" / "smoke" / path.name).read_text())
        assert abs(one["metrics"]["test"]["student_acc"] - two["metrics"]["test"]["student_acc"]) <= 0.5
        weights = [load_file(folder / "tiny" / "smoke" / f"{path.stem}.safetensors")
                   for folder in (tmp_path / "one", tmp_path / "two")]
        for name, tensor in weights[0].items():  # gradients weighted by shard size: the same steps
            assert torch.allclose(tensor, weights[1][name], atol=1e-5), name
        for a, b in zip(one["history"], two["history"], strict=True):
            assert a["images"] == b["images"]
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)


def test_nproc_per_node_is_dropped_from_what_torchrun_runs() -> None:
    from kdbench.execution.launch import without_option

    assert without_option(["run", "--nproc-per-node", "2", "--seeds", "0"]) == ["run", "--seeds", "0"]
    assert without_option(["run", "--nproc-per-node=2"]) == ["run"]


def test_nproc_per_node_checks_what_torchrun_cannot_run_before_starting_it(kd_track, tmp_path, capsys,
                                                                           monkeypatch) -> None:
    import subprocess

    monkeypatch.setattr(subprocess, "call", lambda *args, **kwargs: pytest.fail("torchrun started"))
    code = main(["run", "--spec", str(kd_track), "--budget", "smoke", "--nproc-per-node", "2",
                 "--set", "methods.1={name: crd}", "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "method 'crd' (crd) under torchrun (WORLD_SIZE=2)" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "r").exists()


@pytest.mark.slow
def test_nproc_per_node_starts_torchrun_and_rank_0_alone_reports(kd_track, tmp_path, capfd) -> None:
    code = main(["run", "--spec", str(kd_track), "--budget", "smoke", "--device", "cpu", "--nproc-per-node",
                 "2", "--results", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c")])
    out, err = capfd.readouterr()
    assert code == 0 and err.count("trained teacher mlp-64, seed 0 in") == 1, err
    assert out.count("## Budget `smoke`") == 1 and err.count("[2/2] kd: mlp-64 -> mlp-16") == 1
    assert len(list((tmp_path / "r" / "tiny" / "smoke").glob("*.json"))) == 2
