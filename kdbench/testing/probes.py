"""``check_probe``: the invariants every probe keeps, on LeNet-5s and random 3 x 16 x 16 images:
values exactly the names its ``units`` declare, each finite or None and a percentage where its
unit is ``%``; the same values for the same generator seed; the networks' weights untouched."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from kdbench.data.tensors import ImageTensors
from kdbench.messages import one_line
from kdbench.plugins import PluginManager, get_plugin_manager
from kdbench.testing.contract import ContractError


def _images(count: int = 24, classes: int = 4) -> ImageTensors:
    """Random 3 x 16 x 16 images of ``classes`` classes, the same every time."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (count, 3, 16, 16), dtype=torch.uint8, generator=generator)
    return ImageTensors(images, torch.arange(count) % classes, num_classes=classes,
                        mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def _networks() -> list[torch.nn.Module]:
    """Student, teacher and reference: LeNet-5s (kdbench's own) of seeds 0, 1 and 2."""
    info = get_plugin_manager().models.get("lenet5")
    built = []
    for seed in range(3):
        torch.manual_seed(seed)
        built.append(info.factory("lenet5", info.Params(), in_channels=3, image_size=16,
                                  num_classes=4).eval())
    return built


def check_probe(name: str, params: Mapping[str, Any] | None = None, *,
                pm: PluginManager | None = None) -> None:
    """Run the contract of probe ``name`` with ``params``; a ``ContractError`` names what failed."""
    pm = pm or get_plugin_manager()

    def fail(check: str, problem: str) -> ContractError:
        return ContractError("check_probe", name, check, problem)

    info = pm.probes.get(name)
    validated = info.Params.model_validate(dict(params or {}))
    student, teacher, reference = _networks()
    before = [{k: v.clone() for k, v in net.state_dict().items()} for net in (student, teacher, reference)]
    runs = []
    for _ in range(2):
        try:
            runs.append(info.factory(student, teacher, reference if info.needs_reference else None,
                                     _images(), validated, device=torch.device("cpu"),
                                     generator=torch.Generator().manual_seed(0)))
        except Exception as error:  # noqa: BLE001 - the contract reports any failure in one line
            raise fail("runs", f"raised {type(error).__name__}: {one_line(error)}") from None
    values = runs[0]
    if not isinstance(values, dict) or set(values) != set(info.units):
        raise fail("values", f"returned {sorted(values) if isinstance(values, dict) else type(values)}, "
                             f"not the names its units declare ({sorted(info.units)})")
    for key, value in values.items():
        if value is None:
            continue
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise fail("values", f"{key} is {value!r}, not a finite number or None")
        if info.units[key] == "%" and not 0 <= value <= 100:
            raise fail("values", f"{key} is {value}, not a percentage in [0, 100]")
    if runs[1] != values:
        raise fail("determinism", f"the same seed gave {runs[1]} after {values}")
    for net, state in zip((student, teacher, reference), before, strict=True):
        if any(not torch.equal(state[k], v) for k, v in net.state_dict().items()):
            raise fail("read-only", "it changed a network's weights")
