"""The engine's step: its memory format and torch.compile change how it runs, not what it learns
(to float tolerance), and options this machine cannot run are one-line errors."""

from __future__ import annotations

import shutil

import pytest
import torch
from torch import nn

from kdbench.cost import TeacherForwards
from kdbench.data.embedded import load_digits
from kdbench.data.normalization import ImageParams
from kdbench.engine.evaluate import predict
from kdbench.engine.step import EngineOptions, TrainStep, check_options, memory_format_for
from kdbench.engine.train import fit
from kdbench.errors import KdbenchError
from kdbench.methods.at import AT, ATParams
from kdbench.methods.ce import CE, CEParams
from kdbench.methods.kd import KD, KDParams
from kdbench.models.lenet import LeNet5
from kdbench.models.mlp import MLP
from kdbench.specs import Recipe

CPU = torch.device("cpu")
RECIPE = Recipe(epochs=2, batch_size=64, lr=0.05, milestones=(1,))


def small_convnet() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 8 * 8, 10))


def test_auto_is_channels_last_for_conv_nets_only() -> None:
    assert memory_format_for(small_convnet(), "auto") is torch.channels_last
    assert memory_format_for(MLP(64, 10, (8,)), "auto") is torch.contiguous_format
    assert memory_format_for(MLP(64, 10, (8,)), "channels_last") is torch.channels_last
    assert memory_format_for(small_convnet(), "contiguous") is torch.contiguous_format


def test_prediction_in_channels_last_equals_contiguous_and_leaves_the_model_as_it_was() -> None:
    model = small_convnet().train()
    data = load_digits(ImageParams(), "test").limit(64)
    fast = predict(model, data, 32, CPU)
    assert model.training and model[0].weight.is_contiguous()
    assert torch.allclose(fast, predict(model, data, 32, CPU, "contiguous"), atol=1e-5)


def trained(options: EngineOptions) -> tuple[nn.Module, list[dict]]:
    model = small_convnet()
    data = load_digits(ImageParams(), "train").limit(128)
    history = fit(CE(model, None, CEParams()), data, RECIPE, 0, CPU, options=options)
    return model, history


def test_channels_last_learns_the_same_and_leaves_the_weights_contiguous() -> None:
    plain_model, plain = trained(EngineOptions(memory_format="contiguous"))
    model, history = trained(EngineOptions(memory_format="channels_last"))
    for a, b in zip(plain, history, strict=True):
        assert a["loss"]["ce"] == pytest.approx(b["loss"]["ce"], rel=1e-4)
    weight = model[0].weight
    assert weight.is_contiguous()  # what safetensors can save, after training
    assert torch.allclose(weight, plain_model[0].weight, atol=1e-4)


@pytest.mark.slow
def test_compiled_steps_learn_what_eager_steps_learn() -> None:
    _, plain = trained(EngineOptions())
    _, compiled = trained(EngineOptions(compile="eager"))
    for a, b in zip(plain, compiled, strict=True):
        assert a["loss"]["ce"] == pytest.approx(b["loss"]["ce"], rel=1e-4)


def test_a_compiled_kd_step_counts_its_teacher_forwards_without_recompiling() -> None:
    torch._dynamo.reset()
    teacher, data = small_convnet(), load_digits(ImageParams(), "train").limit(96)
    distiller = KD(small_convnet(), teacher, KDParams())
    step = TrainStep(distiller, torch.optim.SGD(distiller.trainable_parameters(), lr=0.01), "fp32", CPU,
                     EngineOptions(compile="eager"))
    forwards = TeacherForwards(teacher, compiled=True)
    batches = list(data.train_batches(32, torch.Generator().manual_seed(0)))
    with torch._dynamo.config.patch(error_on_recompile=True), step.layout():
        for batch in batches:
            step(batch, 0)
    assert forwards.take() == 96  # counted at run time, not baked into the graph as a constant


def test_compile_that_cannot_work_is_a_one_line_error(monkeypatch) -> None:
    with pytest.raises(KdbenchError, match="^--compile nope: not a torch.compile backend; use one of "):
        check_options(EngineOptions(compile="nope"), "fp32", CPU)
    check_options(EngineOptions(compile="aot_eager"), "fp32", CPU)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(KdbenchError, match="^--compile: inductor on CPU needs a C\\+\\+ compiler"):
        check_options(EngineOptions(compile="inductor"), "fp32", CPU)
    check_options(EngineOptions(compile="inductor"), "fp32", torch.device("cuda"))
    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    with pytest.raises(KdbenchError, match="^--compile: torch.compile does not support this Python"):
        check_options(EngineOptions(compile="eager"), "fp32", CPU)
    with pytest.raises(KdbenchError, match="^memory format 'nhwc': use auto, channels_last, contiguous$"):
        check_options(EngineOptions(memory_format="nhwc"), "fp32", CPU)  # type: ignore[arg-type]


def test_compiled_runs_that_share_a_teacher_each_see_their_own_hooks() -> None:
    """The runs of one process share their teacher, and dynamo does not guard on module hooks:
    code compiled for one run's hooks must not serve the next run, whose feature taps and teacher
    counter hook the same teacher anew."""
    teacher, data = LeNet5(1, 8, 10), load_digits(ImageParams(), "train").limit(32)
    batch = next(iter(data.train_batches(32, torch.Generator().manual_seed(0))))
    for distiller in (KD(LeNet5(1, 8, 10, width=0.5), teacher, KDParams()),
                      AT(LeNet5(1, 8, 10, width=0.5), teacher, ATParams())):
        distiller.prepare(data)
        step = TrainStep(distiller, torch.optim.SGD(distiller.trainable_parameters(), lr=0.01), "fp32",
                         CPU, EngineOptions(compile="eager"))
        forwards = TeacherForwards(teacher, compiled=True)
        with step.layout():
            step(batch, 0)  # AT's taps saw no tensor when KD's compiled code ran the teacher
        assert forwards.take() == 32
        forwards.close()


def test_a_view_bank_choice_that_is_not_one_is_a_one_line_error() -> None:
    """The Python API takes ``EngineOptions`` as given: ``view_bank="yes"`` ran as ``auto``."""
    with pytest.raises(KdbenchError, match="^view bank 'yes': use auto, on, off$"):
        check_options(EngineOptions(view_bank="yes"), "fp32", CPU)  # type: ignore[arg-type]
