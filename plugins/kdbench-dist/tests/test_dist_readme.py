"""The README's track examples are valid DIST parameters, and its tables state the defaults."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kdbench_dist import DISTParams

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def methods() -> list[dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL)
    return [method for block in blocks for method in yaml.safe_load(block)["methods"]]


def test_every_example_validates() -> None:
    assert len(methods()) == 2
    for method in methods():
        DISTParams.model_validate(method.get("params", {}))


def test_the_parameter_table_states_the_defaults() -> None:
    rows = re.findall(r"^\| `(\w+)` \| ([\d.]+) \|", README, flags=re.MULTILINE)
    assert {name: float(value) for name, value in rows} == DISTParams().model_dump()
