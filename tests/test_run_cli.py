"""``kdbench run`` end to end on a tiny track: results, skip-if-done, rerun, teacher reuse,
failures that are recorded and retried, and user errors that exit 2 in one line."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from kdbench.cli import main


@pytest.fixture
def run(tmp_path: Path, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main(["run", *args, "--results", str(tmp_path / "results"),
                     "--cache-dir", str(tmp_path / "cache")])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def results(tmp_path: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "results").rglob("*.json"))]


def test_run_then_skip_then_rerun(tmp_path, run, tiny_track, write_track) -> None:
    spec = write_track(tiny_track)
    code, out, err = run("--spec", str(spec), "--budget", "smoke")
    assert code == 0, err
    assert "### Accuracy" in out and "### Fidelity" in out and "Traceback" not in err
    written = results(tmp_path)
    assert len(written) == 5 and all(r["status"] == "ok" for r in written)  # ce + 2 x (kd, eskd)
    assert err.count("trained teacher") == 2  # once each, though each teaches kd and eskd
    teachers = sorted((tmp_path / "cache" / "teachers").iterdir())
    assert len(teachers) == 2
    mtimes = [p.stat().st_mtime_ns for p in (tmp_path / "results").rglob("*.json")]

    code, out_again, err = run("--spec", str(spec), "--budget", "smoke")
    assert code == 0 and err.count("skipped (done)") == 5 and "trained teacher" not in err
    assert out_again == out
    assert [p.stat().st_mtime_ns for p in (tmp_path / "results").rglob("*.json")] == mtimes

    code, _, err = run("--spec", str(spec), "--budget", "smoke", "--rerun")
    assert code == 0 and "skipped" not in err and "trained teacher" not in err  # teachers cached


def test_result_file_contents(tmp_path, run, tiny_track, write_track) -> None:
    assert run("--spec", str(write_track(tiny_track)), "--budget", "smoke")[0] == 0
    by_method = {r["spec"]["method_label"]: r for r in results(tmp_path)
                 if r["spec"]["teacher_label"] in (None, "mlp-128")}
    kd, ce, eskd = by_method["kd"], by_method["ce"], by_method["eskd"]
    assert kd["run_id"] and (tmp_path / "results" / "tiny" / "smoke" / f"{kd['run_id']}.json").exists()
    for split in ("test", "train"):
        metrics = kd["metrics"][split]
        assert 0 <= metrics["agreement"] <= 100
        assert metrics["kd_error"] == pytest.approx(100 - metrics["agreement"])
        assert metrics["kl"] >= 0 and 0 <= metrics["teacher_acc"] <= 100
        assert ce["metrics"][split]["agreement"] is None
    assert len(kd["teacher_sha256"]) == 64 and kd["teacher_params"] > kd["student_params"]
    student = tmp_path / "results" / "tiny" / "smoke" / f"{kd['run_id']}.safetensors"
    assert hashlib.sha256(student.read_bytes()).hexdigest() == kd["student_sha256"]
    assert set(load_file(student)) == {"student.layers.1.weight", "student.layers.1.bias",
                                       "student.layers.3.weight", "student.layers.3.bias"}
    assert kd["timing"]["images_per_s"] > 0 and kd["provenance"]["torch"]
    assert re.match(r"\d{4}-\d\d-\d\dT", kd["provenance"]["date"])
    assert [e["teacher"] for e in eskd["history"]] == [True, False]  # stop_epoch 1 of 2
    assert [e["teacher"] for e in kd["history"]] == [True, True]
    assert set(kd["history"][0]["loss"]) == {"ce", "kd"}


def test_failed_run_is_recorded_and_retried(tmp_path, run, tiny_track, write_track,
                                            monkeypatch) -> None:
    from kdbench.methods import kd

    def explode(self, batch, epoch):
        raise FloatingPointError("loss is nan")

    monkeypatch.setattr(kd.KD, "forward", explode)
    spec = write_track(tiny_track)
    code, out, err = run("--spec", str(spec), "--budget", "smoke")
    assert code == 1 and "4 of 5 runs failed" in err  # kd, and eskd which is kd until its stop
    failed = [r for r in results(tmp_path) if r["status"] == "failed"]
    assert len(failed) == 4 and failed[0]["reason"] == "FloatingPointError: loss is nan"
    monkeypatch.undo()
    code, _, err = run("--spec", str(spec), "--budget", "smoke")
    assert code == 0 and err.count("skipped (done)") == 1
    assert all(r["status"] == "ok" for r in results(tmp_path))


@pytest.mark.parametrize("args, message", [
    (["--track", "quickstrat"], "unknown track 'quickstrat'; did you mean 'quickstart'"),
    (["--spec", "missing.yaml"], "track file not found: missing.yaml"),
    (["--track", "quickstart", "--device", "cuda"], "no CUDA device"),
    (["--track", "quickstart", "--device", "cuda:3"], "--device cuda:3 was asked for, but torch sees no"),
    (["--track", "quickstart", "--nproc-per-node", "0", "--plan"], "--nproc-per-node 0: give 1 or more"),
])
def test_user_errors_exit_2_in_one_line(run, args, message, monkeypatch) -> None:
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    code, _, err = run(*args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.parametrize("option, value, message", [
    ("--seeds", "1,x", "seeds must be integers separated by commas"),
    ("--seeds", "0,,1", "empty seed in '0,,1'"),
    ("--seeds", "", "empty seed in ''"),
    ("--seeds", "-1", "seed -1 is outside 0..4294967295"),
    ("--seeds", str(2**32), "seed 4294967296 is outside 0..4294967295"),
    ("--seeds", "3,1,3", "seed 3 is given twice"),
    ("--device", "tpu", "unknown device 'tpu'; use auto, cpu, cuda, cuda:N or mps"),
    ("--device", "cuda:x", "unknown device 'cuda:x'"),
    ("--budget", "huge", "invalid choice: 'huge'"),
])
def test_malformed_option_values_exit_2_in_one_line(run, capsys, option, value, message) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("--track", "quickstart", f"{option}={value}")
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"kdbench: error: argument {option}: ") and message in err


@pytest.mark.parametrize("device, cuda, message", [
    ("cuda:2", 2, "--device cuda:2: torch sees 2 CUDA devices (cuda:0 to cuda:1)"),
    ("mps", 0, "--device mps was asked for, but torch sees no MPS device"),
])
def test_devices_this_machine_lacks_exit_2_in_one_line(run, monkeypatch, tiny_track, write_track,
                                                      device, cuda, message) -> None:
    monkeypatch.setattr("torch.cuda.is_available", lambda: cuda > 0)
    monkeypatch.setattr("torch.cuda.device_count", lambda: cuda)
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: False)
    code, _, err = run("--spec", str(write_track(tiny_track)), "--device", device)
    assert code == 2 and err.strip() == f"kdbench: error: {message}"


def test_missing_budget_is_a_user_error(run, tiny_track, write_track) -> None:
    code, _, err = run("--spec", str(write_track(tiny_track)), "--budget", "quick")
    assert code == 2 and "has no budget 'quick' (it has: full, smoke)" in err


@pytest.mark.parametrize("change, message", [
    (lambda t: t["methods"].append({"name": "hint", "params": {"teacher_tap": "layer9"}}),
     "methods.3.params.teacher_tap (line"),
    (lambda t: t.update(distill_data={"name": "digits", "labels": False}),
     "method 'ce' trains on labels, but distill_data.labels (line"),
    (lambda t: t["student_recipe"].update(lr=float("nan")), "student_recipe.lr (line"),
    (lambda t: t.update(name="x" * 300), "name (line 1): String should have at most 64 characters"),
])
def test_run_refuses_what_validate_refuses_before_anything_trains(run, tmp_path, tiny_track, write_track,
                                                                  change, message) -> None:
    change(tiny_track)
    code, _, err = run("--spec", str(write_track(tiny_track)), "--budget", "smoke", "--device", "cpu")
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()


def test_run_refuses_duplicate_keys(run, tmp_path, tiny_track, write_track) -> None:
    text = yaml.safe_dump(tiny_track, sort_keys=False) + "name: again\n"
    code, _, err = run("--spec", str(write_track(text)), "--budget", "smoke", "--device", "cpu")
    assert code == 2 and len(err.splitlines()) == 1 and "duplicate key 'name', also on line 1" in err
