"""The README's track examples are valid DKD parameters, and its ImageNet table says what they set."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kdbench_dkd.dkd import DKDParams

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def methods() -> list[dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL)
    return [method for block in blocks for method in yaml.safe_load(block)["methods"]]


def test_every_example_validates() -> None:
    assert len(methods()) == 3
    for method in methods():
        DKDParams.model_validate(method.get("params", {}))


def test_the_imagenet_example_is_the_r34_r18_row_of_the_table() -> None:
    [example] = [m for m in methods() if m.get("label") == "dkd-imagenet"]
    params = DKDParams.model_validate(example["params"])
    row = next(line for line in README.splitlines() if line.startswith("| ResNet-34 -> ResNet-18"))
    cells = [float(cell) for cell in row.strip("|").split("|")[1:6]]
    assert cells == [params.ce_weight, params.tckd_weight, params.nckd_weight, params.temperature,
                     params.warmup_epochs]
