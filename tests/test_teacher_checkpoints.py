"""Teachers loaded from checkpoint files (a teacher entry's ``checkpoint``): checked by sha256
before they are read, read without unpickling code, RepDistiller's names mapped to kdbench's, and
used exactly like trained teachers under an id of their own."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from kdbench.checkpoints import load_weights
from kdbench.cli import main
from kdbench.errors import KdbenchError
from kdbench.expand import expand
from kdbench.specs import Checkpoint, Ref, RunSpec, TrackSpec


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(tmp_path: Path, spec: Path, name: str, *extra: str) -> int:
    return main(["run", "--spec", str(spec), "--budget", "smoke", "--device", "cpu",
                 "--results", str(tmp_path / name / "results"),
                 "--cache-dir", str(tmp_path / name / "cache"), *extra])


def results(tmp_path: Path, name: str) -> dict[str, dict]:
    found = [json.loads(p.read_text()) for p in (tmp_path / name / "results").rglob("*.json")]
    return {r["spec"]["method_label"]: r for r in found}


@pytest.fixture
def one_teacher(tiny_track: dict) -> dict:
    tiny_track["teachers"] = tiny_track["teachers"][:1]
    tiny_track["methods"] = [{"name": "kd"}]
    return tiny_track


@pytest.mark.slow
def test_an_exported_teacher_loads_as_a_checkpoint_with_its_own_id(tmp_path, one_teacher,
                                                                   write_track, capsys) -> None:
    assert run(tmp_path, write_track(one_teacher), "trained") == 0
    trained = results(tmp_path, "trained")["kd"]
    weights = tmp_path / "trained" / "cache" / "teachers" / trained["teacher_id"] / "model.safetensors"
    exported = tmp_path / "exported.safetensors"
    exported.write_bytes(weights.read_bytes())
    one_teacher["teachers"][0]["checkpoint"] = {"path": "exported.safetensors",  # the track's folder
                                                "sha256": sha256(exported), "format": "kdbench"}
    assert run(tmp_path, write_track(one_teacher, "loaded.yaml"), "loaded") == 0
    loaded = results(tmp_path, "loaded")["kd"]

    assert loaded["teacher_id"] != trained["teacher_id"] and loaded["run_id"] != trained["run_id"]
    assert loaded["spec"]["teacher"]["checkpoint"] == {"sha256": sha256(exported), "format": "kdbench"}
    assert loaded["teacher_sha256"] == trained["teacher_sha256"]  # the same weights
    assert loaded["metrics"] == trained["metrics"]  # so the same student
    record = json.loads((tmp_path / "loaded" / "cache" / "teachers" / loaded["teacher_id"]
                         / "teacher.json").read_text())
    assert record["loaded_from"] == {"sha256": sha256(exported), "format": "kdbench"}
    assert "history" not in record and "wall_s" not in record
    assert str(tmp_path) not in json.dumps(loaded) + json.dumps(record)  # no path of this machine
    capsys.readouterr()
    assert main(["verify", "--results", str(tmp_path / "loaded" / "results"),
                 "--cache-dir", str(tmp_path / "loaded" / "cache")]) == 0
    assert "1 verified, 0 failed" in capsys.readouterr().out


def test_a_wrong_sha256_stops_the_sweep_in_one_line_before_anything_trains(
        tmp_path, one_teacher, write_track, capsys) -> None:
    weights = tmp_path / "teacher.safetensors"
    weights.write_bytes(b"not even a safetensors file")
    one_teacher["teachers"][0]["checkpoint"] = {"path": str(weights), "sha256": "0" * 64}
    assert run(tmp_path, write_track(one_teacher), "wrong") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0]
    assert str(weights) in lines[0] and "0" * 64 in lines[0] and sha256(weights) in lines[0]
    assert not (tmp_path / "wrong" / "results").exists()
    assert not (tmp_path / "wrong" / "cache" / "teachers").exists()


def unreadable(tmp_path: Path, content: bytes, fmt: str, capsys, track: dict, write_track) -> str:
    """The one line that ``kdbench run`` stops with for a checkpoint file of ``content``."""
    path = tmp_path / f"teacher.{'safetensors' if fmt == 'kdbench' else 'pth'}"
    path.write_bytes(content)
    track["teachers"][0]["checkpoint"] = {"path": str(path), "sha256": sha256(path), "format": fmt}
    if fmt == "repdistiller":  # a family whose RepDistiller names kdbench maps
        track["teachers"][0]["model"] = {"name": "resnet8"}
    assert run(tmp_path, write_track(track), "bad") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0] and str(path) in lines[0]
    assert not (tmp_path / "bad" / "cache" / "teachers").exists()
    return lines[0]


@pytest.mark.parametrize("fmt", ["kdbench", "repdistiller"])
def test_a_truncated_or_garbage_file_is_one_line(tmp_path, one_teacher, write_track, capsys,
                                                 fmt) -> None:
    model = nn.Linear(64, 10)
    whole = tmp_path / "whole"
    if fmt == "kdbench":
        from safetensors.torch import save_file
        save_file(model.state_dict(), str(whole))
    else:
        torch.save({"model": model.state_dict()}, whole)
    line = unreadable(tmp_path, whole.read_bytes()[:200], fmt, capsys, one_teacher, write_track)
    assert ("not a safetensors file" if fmt == "kdbench" else "not a torch.save file") in line
    line = unreadable(tmp_path, b"\x00garbage" * 50, fmt, capsys, one_teacher, write_track)
    assert "not a" in line


class Payload:
    """Unpickling this would run a shell command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


def test_a_pickled_object_that_is_not_tensors_is_refused_unrun(tmp_path, one_teacher, write_track,
                                                               capsys) -> None:
    marker, whole = tmp_path / "ran", tmp_path / "whole"
    torch.save({"model": {"fc.weight": torch.zeros(2)}, "extra": Payload(marker)}, whole)
    line = unreadable(tmp_path, whole.read_bytes(), "repdistiller", capsys, one_teacher, write_track)
    assert "refused" in line and "weights_only=True" in line
    assert not marker.exists()


def test_a_file_of_another_layout_names_what_it_holds(tmp_path, one_teacher, write_track,
                                                      capsys) -> None:
    whole = tmp_path / "whole"
    torch.save({"state_dict": nn.Linear(2, 2).state_dict()}, whole)
    line = unreadable(tmp_path, whole.read_bytes(), "repdistiller", capsys, one_teacher, write_track)
    assert "under 'model'" in line and "state_dict" in line


# RepDistiller's names, written here from its models/*.py, the other way round from kdbench's map
TO_REPDISTILLER = {
    "resnet-x4": [(r"^stem\.0\.", "conv1."), (r"^stem\.1\.", "bn1."), (r"^stage(\d)\.", r"layer\1."),
                  (r"\.shortcut\.", ".downsample.")],
    "wrn": [(r"^stem\.", "conv1."), (r"^stage(\d)\.", r"block\1.layer."),
            (r"\.shortcut\.", ".convShortcut."), (r"^final\.0\.", "bn1.")],
    "resnet-cifar": [(r"^stem\.0\.", "conv1."), (r"^stem\.1\.", "bn1."),
                     (r"^stage(\d)\.", r"layer\1."), (r"^fc\.", "linear.")],
    "vgg": [(r"^stage(\d)\.", lambda m: f"block{int(m.group(1)) - 1}."), (r"^fc\.", "classifier.")],
}


def repdistiller_state(family: str, model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state dict as RepDistiller would save it (VGG: with convolution biases, which
    its batch norms' running means absorb)."""
    state = {}
    for key, value in model.state_dict().items():
        for pattern, replacement in TO_REPDISTILLER[family]:
            key = re.sub(pattern, replacement, key)
        state[key] = value.clone()
    if family == "vgg":
        for key in [k for k, v in state.items() if v.dim() == 4]:
            block, index = key.split(".")[:2]
            bias = torch.randn(state[key].shape[0])
            state[f"{block}.{index}.bias"] = bias
            state[f"{block}.{int(index) + 1}.running_mean"] += bias
    return state


def randomized(model: nn.Module) -> nn.Module:
    """Batch norm statistics and affine terms that are not their defaults, so a mix-up shows."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_()
    return model.eval()


def build(pm, name: str, params: dict | None = None) -> nn.Module:
    info = pm.models.get(name)
    return info.factory(name, info.Params.model_validate(params or {}), in_channels=3,
                        image_size=32, num_classes=100)


def save_repdistiller(path: Path, state: dict[str, torch.Tensor]) -> Checkpoint:
    """As RepDistiller's train_teacher.py saves its last checkpoint: options included."""
    torch.save({"opt": argparse.Namespace(model="resnet8x4", learning_rate=0.05), "model": state,
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.05, "params": [0, 1]}]},
                "epoch": 240, "accuracy": torch.tensor(79.42)}, path)
    return Checkpoint(sha256=sha256(path), format="repdistiller", path=str(path))


@pytest.mark.parametrize("name, family", [("resnet8x4", "resnet-x4"), ("wrn-16-2", "wrn"),
                                          ("vgg8", "vgg"), ("resnet18-cifar", "resnet-cifar")])
def test_repdistiller_checkpoints_give_the_same_network(tmp_path, pm, name, family) -> None:
    torch.manual_seed(0)
    original = randomized(build(pm, name))
    checkpoint = save_repdistiller(tmp_path / "ckpt_epoch_240.pth", repdistiller_state(family, original))
    loaded = build(pm, name).eval()
    load_weights(checkpoint, loaded, pm, Ref(name=name))
    images = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded(images), original(images), atol=1e-4)


def test_a_key_that_does_not_fit_is_named(tmp_path, pm) -> None:
    original = build(pm, "resnet20", {"shortcut": "B"})
    state = repdistiller_state("resnet-x4", original)
    checkpoint = save_repdistiller(tmp_path / "b.pth", state)
    option_a = build(pm, "resnet20")  # no 1x1 shortcuts
    with pytest.raises(KdbenchError, match=r"unexpected key 'stage2\.0\.shortcut\.0\.weight' "
                                           r"\(RepDistiller's 'layer2\.0\.downsample\.0\.weight'\)"):
        load_weights(checkpoint, option_a, pm, Ref(name="resnet20"))
    del state["fc.bias"]
    with pytest.raises(KdbenchError, match="the file has no 'fc.bias'"):
        load_weights(save_repdistiller(tmp_path / "c.pth", state), original, pm,
                     Ref(name="resnet20", params={"shortcut": "B"}))
    with pytest.raises(KdbenchError, match=r"'stem\.0\.weight' \(RepDistiller's 'conv1\.weight'\) has "
                                           r"shape 16x3x3x3 in the file, 64x3x3x3 in the model"):
        load_weights(checkpoint, build(pm, "resnet18-cifar"), pm, Ref(name="resnet18-cifar"))


def test_checkpoint_fields_are_checked_in_one_line_each(tmp_path, one_teacher, write_track,
                                                        capsys) -> None:
    good = {"path": "t.pth", "sha256": "a" * 64}
    cases = [({"checkpoint": {**good, "sha256": "abc"}}, "teachers.0.checkpoint.sha256", "64 hex"),
             ({"checkpoint": good, "ensemble": 3}, "teachers.0.checkpoint", "ensemble"),
             ({"checkpoint": good, "recipe": {"epochs": 2}}, "teachers.0.checkpoint", "drop recipe"),
             ({"checkpoint": good, "snapshot_fraction": 0.5}, "teachers.0.checkpoint",
              "drop snapshot_fraction"),
             ({"checkpoint": {**good, "format": "repdistiller"}}, "teachers.0.checkpoint.format",
              "not mlp"),
             ({"checkpoint": {**good, "path": "$KDBENCH_NO_SUCH_VARIABLE/t.pth"}},
              "teachers.0.checkpoint.path", "KDBENCH_NO_SUCH_VARIABLE")]
    for change, field, words in cases:
        one_teacher["teachers"][0] = {**one_teacher["teachers"][0], **change}
        one_teacher["teachers"][0] = {k: v for k, v in one_teacher["teachers"][0].items()
                                      if k in change or k in ("label", "model")}
        path = write_track(one_teacher)
        assert main(["validate", str(path)]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and f"{field} (line" in lines[0] and words in lines[0], lines


def test_ids_without_a_checkpoint_are_unchanged(pm, tiny_track) -> None:
    runs = expand(TrackSpec.model_validate(tiny_track), "full", pm)
    teacher = next(r.teacher for r in runs if r.teacher is not None)
    assert "checkpoint" not in teacher.model_dump(mode="json")
    published = sorted(Path(__file__).parents[1].glob("leaderboard/results/*/*/*.json"))
    for path in published:
        data = json.loads(path.read_text())
        if "spec" in data:
            assert RunSpec.model_validate_json(json.dumps(data["spec"])).run_id == path.stem == data["run_id"]


def test_a_loaded_teacher_is_one_teacher_for_every_seed(pm, tiny_track, tmp_path) -> None:
    tiny_track["teachers"][0]["checkpoint"] = {"path": "~/t.safetensors", "sha256": "b" * 64}
    runs = [r for r in expand(TrackSpec.model_validate(tiny_track), "full", pm)
            if r.teacher_label == "mlp-64"]
    assert len({r.seed for r in runs}) == 2 and len({r.teacher.teacher_id for r in runs}) == 1
    teacher = runs[0].teacher
    assert teacher.recipe.epochs == 0 and teacher.checkpoint.path == str(Path.home() / "t.safetensors")
    smoke = expand(TrackSpec.model_validate(tiny_track), "smoke", pm)
    assert next(r.teacher for r in smoke if r.teacher_label == "mlp-64").teacher_id == teacher.teacher_id


def teacher_folder(tmp_path: Path, pm, sums: bool = True) -> Path:
    """A folder with an (untrained) mlp-64 teacher of the tiny track, and its SHA256SUMS."""
    from safetensors.torch import save_file

    from kdbench.build import build_model
    from kdbench.data.source import DataSource

    folder = tmp_path / "teachers-in"
    folder.mkdir()
    split = DataSource(pm, tmp_path).evaluation(Ref(name="digits"))
    save_file(build_model(pm, Ref(name="mlp", params={"hidden": [64]}), split).state_dict(),
              str(folder / "mlp-64.safetensors"))
    if sums:
        (folder / "SHA256SUMS").write_text(f"{sha256(folder / 'mlp-64.safetensors')}  mlp-64.safetensors\n")
    return folder


def test_a_folder_of_checkpoints_points_the_teachers_named_by_label_at_them(
        tmp_path, pm, tiny_track, write_track, capsys) -> None:
    folder = teacher_folder(tmp_path, pm)
    track = write_track(tiny_track)
    assert run(tmp_path, track, "plan", "--teacher-checkpoints", str(folder), "--plan") == 0
    out = capsys.readouterr().out
    assert "teacher mlp-64, loaded from checkpoint " + sha256(folder / "mlp-64.safetensors")[:12] in out
    assert "teacher mlp-128, seed 0" in out  # no file: trained as the track says

    (folder / "SHA256SUMS").write_text(f"{'c' * 64}  mlp-64.safetensors\n")
    assert run(tmp_path, track, "plan", "--teacher-checkpoints", str(folder), "--plan") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "c" * 64 in lines[0] and "mlp-64.safetensors" in lines[0]


@pytest.mark.parametrize("layout", ["no sums", "no file"])
def test_a_folder_without_what_it_needs_is_one_line(tmp_path, pm, tiny_track, write_track, capsys,
                                                    layout) -> None:
    folder = teacher_folder(tmp_path, pm, sums=layout != "no sums")
    if layout == "no file":
        (folder / "mlp-64.safetensors").rename(folder / "other.safetensors")
    assert run(tmp_path, write_track(tiny_track), "x", "--teacher-checkpoints", str(folder)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--teacher-checkpoints" in lines[0]
    assert ("SHA256SUMS" if layout == "no sums" else "no file there is named") in lines[0]
    assert not (tmp_path / "x" / "cache" / "teachers").exists()


def test_intervals_over_loaded_teachers_include_students_only(tiny_track) -> None:
    assert TrackSpec.model_validate(tiny_track).interval_variance() == "students and teachers"
    for entry in tiny_track["teachers"]:
        entry["checkpoint"] = {"path": f"{entry['label']}.safetensors", "sha256": "d" * 64}
    assert TrackSpec.model_validate(tiny_track).interval_variance() == "students only"
