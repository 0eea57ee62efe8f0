"""The README's track examples are valid parameters, and its tables state the defaults."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kdbench_lskd import LSKDParams
from kdbench_lskd.dkd import LSDKDParams

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
PARAMS = {"lskd": LSKDParams, "lskd-dkd": LSDKDParams}


def methods() -> list[dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL)
    return [method for block in blocks for method in yaml.safe_load(block)["methods"]]


def test_every_example_validates() -> None:
    assert len(methods()) == 3
    for method in methods():
        PARAMS[method["name"]].model_validate(method.get("params", {}))


def test_the_lskd_table_states_the_defaults() -> None:
    rows = re.findall(r"^\| `(\w+)` \| ([\d.]+) \|", README, flags=re.MULTILINE)
    assert {name: float(value) for name, value in rows} == LSKDParams().model_dump()


def test_the_first_pair_row_is_the_default() -> None:
    row = next(line for line in README.splitlines() if line.startswith("| ResNet-32x4 -> ResNet-8x4"))
    kd, _, dkd, _ = (cell.strip() for cell in row.strip("|").split("|")[1:])
    temperature, weight = map(float, kd.split(","))
    assert (temperature, weight) == (LSKDParams().temperature, LSKDParams().kd_weight)
    temperature, times, beta = map(float, dkd.split(","))
    default = LSDKDParams()
    assert (temperature, times, times * beta) == (default.temperature, default.tckd_weight,
                                                  default.nckd_weight)
