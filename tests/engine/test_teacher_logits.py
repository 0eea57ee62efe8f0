"""The teacher's logits as a cache: one teacher forward per image for a whole unaugmented track,
the same losses as the live teacher, forged files found and made again, augmented data still live."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
import safetensors.torch
import torch
from torch import nn

import kdbench
import kdbench.runner
from kdbench.data.embedded import load_digits
from kdbench.data.normalization import ImageParams
from kdbench.engine.evaluate import predict
from kdbench.engine.step import EngineOptions, ViewBankChoice
from kdbench.engine.teacher_logits import FORMAT, LogitsCache, LogitsTable, can_serve
from kdbench.execution.planner import banked
from kdbench.expand import expand
from kdbench.methods.ce import CE, CEParams
from kdbench.methods.crd import CRD, CRDParams
from kdbench.methods.hint import Hint, HintParams
from kdbench.methods.kd import KD, KDParams, kd_loss
from kdbench.methods.taps import FeatureTap
from kdbench.models.mlp import MLP
from kdbench.plugin import Batch, Distiller, MethodInfo, NoParams, hookimpl
from kdbench.plugins import PluginManager, get_plugin_manager
from kdbench.specs import Recipe, TrackSpec
from kdbench.teachers import Teacher, TeacherCache
from kdbench.testing import ContractError, check_method
from kdbench.testing.tiny import lenet_pair, tiny_data

TRAIN_LIMIT = 300  # the tiny track's smoke budget


@pytest.fixture
def teacher_forwards(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Images that each teacher (by teacher id) runs on after it is trained, counted in
    ``MLP.forward`` (a hook would make the engine run the teacher live)."""
    counts: Counter[str] = Counter()
    teachers: dict[int, tuple[str, nn.Module]] = {}
    get, forward = TeacherCache.get, MLP.forward

    def counted_get(self: TeacherCache, spec, on_epoch=None) -> Teacher:
        teacher = get(self, spec, on_epoch)
        teachers[id(teacher.model)] = (spec.teacher_id, teacher.model)  # kept alive: ids stay unique
        return teacher

    def counted_forward(self: MLP, x: torch.Tensor) -> torch.Tensor:
        if id(self) in teachers:
            counts[teachers[id(self)][0]] += len(x)
        return forward(self, x)

    monkeypatch.setattr(TeacherCache, "get", counted_get)
    monkeypatch.setattr(MLP, "forward", counted_forward)
    return counts


def run_tiny(write_track, track: dict, tmp_path: Path, results: str = "results", seeds=(0, 1),
             view_bank: ViewBankChoice = "auto"):
    return kdbench.run(write_track(track), "smoke", seeds=list(seeds), results=tmp_path / results,
                       cache=tmp_path / "cache", device="cpu", progress=False,
                       engine=EngineOptions(view_bank=view_bank))


@pytest.mark.slow
def test_an_unaugmented_track_runs_each_teacher_once_per_image(tiny_track, write_track, tmp_path,
                                                                teacher_forwards) -> None:
    tiny_track["teacher_seed"] = 0  # every seed distills the same two teachers
    results = run_tiny(write_track, tiny_track, tmp_path)
    assert len(results) == 10 and all(result.ok for result in results)  # 2 teachers x (kd, eskd) x 2 + ce x 2
    test = len(load_digits(ImageParams(), "test"))
    runs = Counter(result.spec.teacher.teacher_id for result in results if result.spec.teacher)
    assert list(runs.values()) == [4, 4]
    # training (every method and seed) and the train-split metrics share one table; the test split one more
    assert teacher_forwards == {teacher_id: TRAIN_LIMIT + test for teacher_id in runs}
    files = sorted(path.name.split("-")[0] for path in (tmp_path / "cache" / "teachers").rglob("logits/*"))
    assert files == ["test", "test", "train", "train"]


@pytest.mark.slow
def test_a_sweep_reads_each_data_set_once(tiny_track, write_track, tmp_path, monkeypatch) -> None:
    loads: Counter[str] = Counter()
    load = load_digits

    def counted(params, split, **kwargs):
        loads[split] += 1
        return load(params, split, **kwargs)

    monkeypatch.setattr("kdbench.data.embedded.load_digits", counted)
    tiny_track["methods"] = [{"name": "kd"}]
    assert all(result.ok for result in run_tiny(write_track, tiny_track, tmp_path))
    assert all(result.ok for result in run_tiny(write_track, tiny_track, tmp_path, "again", seeds=(2,)))
    assert loads == {"train": 1, "test": 1}  # preflight, teachers, runs and the second sweep share them


@pytest.mark.slow
def test_augmented_data_without_a_view_bank_run_the_teacher_live_on_every_batch(
        tiny_track, write_track, tmp_path, teacher_forwards) -> None:
    tiny_track["teacher_seed"] = 0
    tiny_track["budgets"]["smoke"]["student"]["augment"] = ["flip"]
    results = run_tiny(write_track, tiny_track, tmp_path, view_bank="off")
    test = len(load_digits(ImageParams(), "test"))
    expected: Counter[str] = Counter()
    for result in results:
        if result.spec.teacher is not None:
            live = sum(entry["images"] for entry in result.history if entry["teacher"])
            expected[result.spec.teacher.teacher_id] += live
    assert all(count > 2 * TRAIN_LIMIT for count in expected.values())
    # evaluation's logits still come from the cache: once per image of each split
    assert teacher_forwards == {tid: live + TRAIN_LIMIT + test for tid, live in expected.items()}


@pytest.mark.slow
def test_a_view_bank_runs_each_teacher_once_per_view_and_gives_the_live_teachers_losses(
        tiny_track, write_track, tmp_path, teacher_forwards) -> None:
    tiny_track["teacher_seed"] = 0
    tiny_track["budgets"]["smoke"]["student"].update(augment=["crop", "flip"], crop_padding=1)
    banked = run_tiny(write_track, tiny_track, tmp_path, "banked", view_bank="on")
    views = 3 * 3 * 2  # crop offsets -1..1 in each axis, flipped or not
    test = len(load_digits(ImageParams(), "test"))
    assert teacher_forwards == {tid: views * TRAIN_LIMIT + TRAIN_LIMIT + test for tid in teacher_forwards}
    assert len(teacher_forwards) == 2 and all(r.ok for r in banked)
    assert all(entry["teacher_images"] == 0 for r in banked for entry in r.history)
    live = run_tiny(write_track, tiny_track, tmp_path, "live", view_bank="off")
    assert [r.run_id for r in banked] == [r.run_id for r in live]  # the bank is not part of the run
    for a, b in zip(banked, live, strict=True):
        for x, y in zip(a.history, b.history, strict=True):
            assert x["loss"] == pytest.approx(y["loss"], rel=1e-5, abs=1e-7)
    logits = (tmp_path / "cache" / "teachers").rglob("logits/*")
    files = sorted(path.name.rsplit("-", 1)[0] for path in logits)
    assert files == ["test", "test", "train", "train", "train-views", "train-views"]


def test_a_plan_banks_a_teacher_only_where_its_runs_pay_for_the_views(tiny_track) -> None:
    def banks(augment: list[str], padding: int, choice: ViewBankChoice) -> dict[str, bool]:
        tiny_track["budgets"]["smoke"]["student"].update(augment=augment, crop_padding=padding)
        runs = expand(TrackSpec.model_validate(tiny_track), "smoke", get_plugin_manager(), seeds=(0, 1))
        chosen = banked(runs, choice)
        return {f"{r.method_label} {r.teacher_label} {r.seed}": r.run_id in chosen for r in runs}

    # each teacher (one per seed) has a kd and an eskd run of 2 epochs: 4 teacher epochs
    assert not any(banks(["crop"], 1, "auto").values())  # 9 views > 4 epochs: live
    flip = banks(["flip"], 1, "auto")  # 2 views <= 4 epochs
    assert {name for name, bank in flip.items() if bank} == {name for name in flip if "None" not in name}
    assert banks(["crop"], 1, "on") == flip and not any(banks(["flip"], 1, "off").values())
    assert not any(banks([], 1, "on").values())  # nothing to bank without augmentation


@pytest.mark.slow
def test_a_cached_teacher_gives_the_live_teachers_losses(tiny_track, write_track, tmp_path,
                                                         monkeypatch) -> None:
    tiny_track["methods"] = [{"name": "kd"}, {"name": "eskd"}]
    cached = run_tiny(write_track, tiny_track, tmp_path, "cached", seeds=(0,))
    monkeypatch.setattr(kdbench.runner, "can_serve", lambda distiller, recipe: False)
    live = run_tiny(write_track, tiny_track, tmp_path, "live", seeds=(0,))
    assert [r.run_id for r in cached] == [r.run_id for r in live]  # the cache is not part of the run
    for a, b in zip(cached, live, strict=True):
        assert len(a.history) == len(b.history) == 2
        for x, y in zip(a.history, b.history, strict=True):
            assert x["loss"] == pytest.approx(y["loss"], rel=1e-5, abs=1e-7)
        assert a.metrics["test"] == pytest.approx(b.metrics["test"], rel=1e-4, abs=1e-4)


def test_can_serve_only_logit_methods_on_unaugmented_data() -> None:
    data = tiny_data()
    student, teacher = lenet_pair(data)
    plain, augmented = Recipe(epochs=2), Recipe(epochs=2, augment=("crop",))
    kd = KD(student, teacher, KDParams())
    assert can_serve(kd, plain) and not can_serve(kd, augmented)
    assert not can_serve(CE(student, None, CEParams()), plain)  # no teacher
    assert not can_serve(Hint(student, teacher, HintParams()), plain)  # reads teacher features
    assert not can_serve(CRD(student, teacher, CRDParams()), plain)
    watched = KD(*lenet_pair(data), KDParams())
    tap = FeatureTap(watched.teacher, "penultimate")
    assert not can_serve(watched, plain)  # a hook on the teacher would see nothing
    tap.close()
    assert can_serve(watched, plain)


def test_a_logits_table_serves_the_batch_by_index() -> None:
    data = tiny_data()
    student, teacher = lenet_pair(data)
    table = predict(teacher, data, 1000, torch.device("cpu"))
    kd = KD(student, teacher, KDParams())
    batch = next(data.train_batches(16, torch.Generator().manual_seed(0)))
    live = kd.teacher_logits(batch)
    kd.teacher_source = LogitsTable(table)
    assert torch.allclose(kd.teacher_logits(batch), live, atol=1e-6)
    assert torch.equal(kd.teacher_logits(batch), table[batch.index])


class Counting(nn.Module):
    """A teacher that counts the images it sees."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model, self.images = model, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.images += len(x)
        return self.model(x)


def forge_other_logits(path: Path) -> None:
    """Other numbers under the original metadata (a forged file)."""
    with safetensors.safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        logits = handle.get_tensor("logits")
    path.write_bytes(safetensors.torch.save({"logits": logits + 1}, metadata=metadata))


def forge_shape(path: Path) -> None:
    """A consistent file of the wrong shape."""
    from kdbench.engine.teacher_logits import tensor_sha256
    with safetensors.safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        logits = handle.get_tensor("logits")[:-1].contiguous()
    path.write_bytes(safetensors.torch.save(
        {"logits": logits}, metadata={**metadata, "sha256": tensor_sha256(logits)}))


def forge_teacher(path: Path) -> None:
    """A consistent file made by other teacher weights."""
    with safetensors.safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        logits = handle.get_tensor("logits")
    path.write_bytes(safetensors.torch.save(
        {"logits": logits}, metadata={**metadata, "teacher_sha256": "0" * 64}))


def forge_dtype(path: Path) -> None:
    with safetensors.safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        logits = handle.get_tensor("logits").double()
    path.write_bytes(safetensors.torch.save({"logits": logits}, metadata=metadata))


@pytest.mark.parametrize("damage", [
    lambda path: path.write_bytes(b""),
    lambda path: path.write_bytes(path.read_bytes()[:200]),
    lambda path: path.write_bytes(bytes(range(256)) * 8),
    lambda path: path.write_bytes(safetensors.torch.save({"logits": torch.zeros(2, 2)})),
    forge_other_logits, forge_shape, forge_teacher, forge_dtype,
], ids=["empty", "truncated", "garbage", "no-metadata", "forged-values", "forged-shape",
        "other-teacher", "float64"])
def test_a_damaged_or_forged_logits_file_is_moved_aside_and_made_again(tmp_path, caplog, damage) -> None:
    data = tiny_data()
    _, model = lenet_pair(data)
    teacher = Teacher(Counting(model), "t" * 16, "a" * 64, [])
    identity = {"data": "tiny"}
    made = LogitsCache(tmp_path, torch.device("cpu")).get(teacher, "m", "train", data, identity, 1000)
    assert teacher.model.images == len(data)
    assert made.dtype == torch.float32 and made.shape == (len(data), data.num_classes)
    (path,) = (tmp_path / "teachers" / "m" / "logits").glob("train-*.safetensors")
    read_back = LogitsCache(tmp_path, torch.device("cpu")).get(teacher, "m", "train", data, identity, 1000)
    assert torch.equal(read_back, made) and teacher.model.images == len(data)  # read, not made again
    damage(path)
    damaged = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="kdbench"):
        again = LogitsCache(tmp_path, torch.device("cpu")).get(teacher, "m", "train", data, identity, 1000)
    assert torch.equal(again, made) and teacher.model.images == 2 * len(data)
    (warning,) = [record.getMessage() for record in caplog.records]
    assert str(path) in warning and "corrupt" in warning and "\n" not in warning
    assert path.with_name(path.name + ".corrupt").read_bytes() == damaged
    with safetensors.safe_open(str(path), framework="pt") as handle:
        assert handle.metadata()["format"] == FORMAT


def test_each_split_identity_and_teacher_checkpoint_has_its_own_entry(tmp_path) -> None:
    data = tiny_data()
    _, model = lenet_pair(data)
    cache = LogitsCache(tmp_path, torch.device("cpu"))
    final = Teacher(Counting(model), "f" * 16, "a" * 64, [])
    early = Teacher(final.model, "e" * 16, "b" * 64, [])  # an early-stopped checkpoint is another id
    for teacher in (final, early):
        for identity in ({"data": "tiny", "limit": None}, {"data": "tiny", "limit": 40}):
            cache.get(teacher, "m", "train", data, identity, 1000)
        cache.get(teacher, "m", "train", data, {"data": "tiny", "limit": None}, 1000)  # in memory
    assert final.model.images == 4 * len(data)
    assert len(list(tmp_path.rglob("*.safetensors"))) == 4


class ClaimsLogitsButRunsTheTeacher(Distiller[NoParams]):
    """Declares that it reads only the teacher's logits, then runs the teacher itself."""

    teacher_outputs = "logits"

    def forward(self, batch: Batch, epoch: int) -> dict[str, torch.Tensor]:
        assert self.teacher is not None
        with torch.no_grad():
            teacher = self.teacher(batch.images)
        return {"kd": kd_loss(self.student(batch.images), teacher, 4.0)}


class ClaimsLogits(ClaimsLogitsButRunsTheTeacher):
    def forward(self, batch: Batch, epoch: int) -> dict[str, torch.Tensor]:
        return {"kd": kd_loss(self.student(batch.images), self.teacher_logits(batch), 4.0)}


def test_check_method_holds_a_method_to_its_teacher_outputs() -> None:
    pm = PluginManager(strict=True)
    module = ModuleType("kdbench_test_logits")
    module.kdbench_methods = hookimpl(lambda: [  # type: ignore[attr-defined]
        MethodInfo(cls.__name__, "a test method", cls, NoParams)
        for cls in (ClaimsLogitsButRunsTheTeacher, ClaimsLogits)])
    pm.add_plugin(module, "test", "kdbench-test 0.1")
    check_method("ClaimsLogits", pm=pm)
    with pytest.raises(ContractError, match=r"teacher-outputs: raised AssertionError: the teacher ran "
                                            r"although its logits came from a table \(declare "):
        check_method("ClaimsLogitsButRunsTheTeacher", pm=pm)
