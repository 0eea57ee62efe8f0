"""CONTRIBUTING.md's "Feature taps" section works as written: its example output is what
``kdbench show model`` prints, and its model and attention-transfer method run as shown."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from kdbench.cli import main
from kdbench.data import Batch

CONTRIBUTING = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"
SECTION = "## Feature taps"
BLOCK = re.compile(r'^```(\w+)(?: title="([^"]+)")?\n(.*?)^```$', re.MULTILINE | re.DOTALL)


def section() -> str:
    text = CONTRIBUTING.read_text(encoding="utf-8")
    start = text.index(SECTION)
    return text[start:text.index("\n## ", start + len(SECTION))]


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, ModuleType]]:
    """The section's titled python blocks, written to files and imported."""
    names = []
    for language, title, code in BLOCK.findall(section()):
        if language == "python" and title:
            (tmp_path / title).write_text(code, encoding="utf-8")
            names.append(title.removesuffix(".py"))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield {name: importlib.import_module(name) for name in names}
    for name in names:
        sys.modules.pop(name, None)


def test_the_shown_output_is_what_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    [shown] = [code for language, _, code in BLOCK.findall(section()) if language == "text"]
    command, *expected = shown.splitlines()
    assert command.startswith("$ kdbench ")
    assert main(command.removeprefix("$ kdbench ").split()) == 0
    assert capsys.readouterr().out.splitlines() == expected


def test_the_model_declares_taps_that_show_model_would_list(example) -> None:
    from kdbench.methods.taps import probe_all, tap_names

    model = example["tiny_net"].TinyNet(num_classes=5)
    assert tap_names(model) == ["stage1", "stage2", "penultimate"]
    features = probe_all(model, tap_names(model), torch.zeros(2, 1, 28, 28))
    assert [tuple(f.shape[1:]) for f in features.values()] == [(8, 28, 28), (16, 14, 14), (16,)]


def test_attention_transfer_reads_every_tap_in_one_forward_each(example) -> None:
    net, at = example["tiny_net"], example["attention"]
    torch.manual_seed(0)
    student, teacher = net.TinyNet(width=4), net.TinyNet(width=8)
    calls = {"student": 0, "teacher": 0}
    student.register_forward_hook(lambda *_: calls.__setitem__("student", calls["student"] + 1))
    teacher.register_forward_hook(lambda *_: calls.__setitem__("teacher", calls["teacher"] + 1))
    distiller = at.AttentionTransfer(student, teacher, at.AttentionParams())
    batch = Batch(torch.randn(6, 1, 12, 12), torch.arange(6) % 10, torch.arange(6),
                  torch.ones(6, dtype=torch.bool))
    terms = distiller(batch, epoch=0)
    assert calls == {"student": 1, "teacher": 1} and set(terms) == {"ce", "at"}
    sum(terms.values()).backward()
    assert all(p.grad is not None for p in student.parameters())
    assert all(p.grad is None for p in teacher.parameters())


def test_the_attention_loss_is_the_formula_and_zero_for_equal_features(example) -> None:
    at = example["attention"]
    feature = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])  # (1, 2 channels, 1, 2)
    amap = torch.tensor([[(1 + 9) / 2, (4 + 0) / 2]])
    torch.testing.assert_close(at.attention_map(feature), amap / amap.norm())
    assert at.attention_loss(feature, feature).item() == 0.0
    other = torch.ones_like(feature)
    expected = (amap / amap.norm() - torch.tensor([[1.0, 1.0]]) / 2 ** 0.5).pow(2).mean()
    torch.testing.assert_close(at.attention_loss(feature, other), expected)
