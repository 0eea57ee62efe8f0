"""kdbench.testing's checks catch what they promise: a method that ignores the label mask, one with
non-finite gradients, one whose state dict does not round-trip; a model with wrong logits or a
broken tap; a data set with bad labels. Each failure is one line naming the thing and the check."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kdbench.plugin import Batch, Distiller, ImageTensors, MethodInfo, ModelInfo, NoParams, Params, hookimpl
from kdbench.plugins import PluginManager
from kdbench.testing import ContractError, check_dataset, check_method, check_model
from kdbench.types import DatasetInfo


class IgnoresTheMask(Distiller[Params]):
    """Cross-entropy on every label, hidden or not (clamped, so hidden -1 labels do not crash)."""

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        return {"ce": F.cross_entropy(self.student(batch.images), batch.labels.clamp(min=0))}


class CrashesOnHiddenLabels(Distiller[Params]):
    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        return {"ce": F.cross_entropy(self.student(batch.images), batch.labels)}


class InfiniteGradient(Distiller[Params]):
    """A finite loss (0) whose gradient is not: d sqrt(x) / dx at 0."""

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        logits = self.student(batch.images)
        return {"zero": torch.sqrt(logits - logits.detach()).sum()}


class ForgetsItsState(Distiller[Params]):
    """Keeps a running scale in a plain attribute, which no state dict carries."""

    def __init__(self, student: nn.Module, teacher: nn.Module | None, params: Params):
        super().__init__(student, teacher, params)
        self.scale = 1.0

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        self.scale *= 0.5
        logits, mask = self.student(batch.images), batch.label_mask
        return {"ce": self.scale * F.cross_entropy(logits[mask], batch.labels[mask])}


class MaskedCE(Distiller[Params]):
    """What the others should have done: cross-entropy over the known labels only."""

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        logits, mask = self.student(batch.images), batch.label_mask
        if not bool(mask.any()):
            return {"ce": logits.sum() * 0.0}
        return {"ce": F.cross_entropy(logits[mask], batch.labels[mask])}


def manager(**hooks: object) -> PluginManager:
    """A plugin manager with one plugin module holding ``hooks``, besides nothing else."""
    module = ModuleType("kdbench_test_plugin")
    for name, function in hooks.items():
        setattr(module, name, hookimpl(function))
    pm = PluginManager(strict=True)
    pm.add_plugin(module, "test", "kdbench-test 0.1")
    return pm


def methods(*distillers: type, needs_labels: bool = True) -> PluginManager:
    return manager(kdbench_methods=lambda: [
        MethodInfo(cls.__name__, "a test method", cls, NoParams, needs_teacher=False,
                   needs_labels=needs_labels) for cls in distillers])


@pytest.mark.parametrize(("method", "check", "problem"), [
    (IgnoresTheMask, "hidden-labels", "changing the values of hidden labels (label_mask False) changed "
                                      "loss term 'ce'"),
    (CrashesOnHiddenLabels, "hidden-labels", "raised IndexError: Target -1 is out of bounds"),
    (InfiniteGradient, "finite", "the gradient of 'student."),
    (ForgetsItsState, "state-dict", "saving student_state_dict() and loading it into a fresh "
                                    "distiller changed loss term 'ce'"),
])
def test_check_method_catches_a_broken_method(method: type, check: str, problem: str) -> None:
    with pytest.raises(ContractError) as caught:
        check_method(method.__name__, pm=methods(method))
    message = str(caught.value)
    assert caught.value.check == check and "\n" not in message
    assert message.startswith(f"check_method({method.__name__!r}) {check}: {problem}")


def test_check_method_passes_a_method_that_keeps_the_contract() -> None:
    check_method("MaskedCE", pm=methods(MaskedCE, needs_labels=False))


def test_a_method_that_needs_labels_must_declare_it() -> None:
    class NaNWithoutLabels(MaskedCE):
        def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
            logits, mask = self.student(batch.images), batch.label_mask
            return {"ce": F.cross_entropy(logits[mask], batch.labels[mask])}  # mean of nothing: NaN

    check_method("NaNWithoutLabels", pm=methods(NaNWithoutLabels, needs_labels=True))
    with pytest.raises(ContractError, match=r"no-labels: with every label hidden .*declare needs_labels"):
        check_method("NaNWithoutLabels", pm=methods(NaNWithoutLabels, needs_labels=False))


class WrongLogits(nn.Module):
    feature_taps = {"body": "body"}

    def __init__(self, num_classes: int, missing_tap: bool = False):
        super().__init__()
        self.body = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 8))
        self.head = nn.Linear(8, num_classes + 1)
        if missing_tap:
            self.feature_taps = {"body": "trunk"}

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.body(images))


class BrokenTap(WrongLogits):
    def __init__(self, num_classes: int):
        super().__init__(num_classes - 1, missing_tap=True)


def models() -> PluginManager:
    def build(cls: type) -> object:
        return lambda name, params, *, in_channels, image_size, num_classes: cls(num_classes)
    return manager(kdbench_models=lambda: [ModelInfo("wrong-logits", "", build(WrongLogits)),
                                           ModelInfo("broken-tap", "", build(BrokenTap))])


@pytest.mark.parametrize(("name", "message"), [
    ("wrong-logits", "check_model('wrong-logits') forward: logits of 4 images are (4, 11), not (4, 10)"),
    ("broken-tap", "check_model('broken-tap') taps: raised KdbenchError: BrokenTap declares tap 'body' as "
                   "'trunk', which is not one of its modules"),
])
def test_check_model_catches_a_broken_model(name: str, message: str) -> None:
    with pytest.raises(ContractError) as caught:
        check_model(name, pm=models())
    assert str(caught.value) == message


def test_check_dataset_catches_labels_out_of_range(tmp_path: Path) -> None:
    def load(params: object, split: str, *, root: Path, download: bool = False) -> ImageTensors:
        images = torch.zeros(6, 1, 4, 4, dtype=torch.uint8)
        return ImageTensors(images, torch.tensor([0, 1, 2, 0, 1, 3]), num_classes=3, mean=(0.5,), std=(0.25,))

    pm = manager(kdbench_datasets=lambda: [DatasetInfo("bad-labels", "", load)])
    with pytest.raises(ContractError, match=r"^check_dataset\('bad-labels'\) split\[train\]: labels must "
                                            r"lie in 0\.\.2"):
        check_dataset("bad-labels", root=tmp_path, pm=pm)


def test_golden_test_helpers_answer_fixed_logits_and_a_central_difference() -> None:
    from kdbench.testing import FixedLogits, finite_difference, logits_batch

    logits = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]], dtype=torch.float64)
    network, batch = FixedLogits(logits), logits_batch([1, 0, 1])
    assert torch.equal(network(batch.images[[2, 0]]), logits[[2, 0]]) and bool(batch.label_mask.all())
    loss = lambda: (network(batch.images) ** 3).sum()  # noqa: E731
    assert finite_difference(loss, network.logits, (1, 0)) == pytest.approx(3 * 3.0**2, rel=1e-6)
    assert torch.equal(network.logits.detach(), logits)  # left as it was
