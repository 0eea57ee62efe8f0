"""What ``kdbench show`` prints: a track as set and as resolved per budget (YAML), or a model's
feature taps with their module paths and feature shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import yaml
from pydantic import BaseModel, ValidationError
from tabulate import tabulate

from kdbench.errors import SpecError
from kdbench.methods.taps import probe_all, tap_names, tap_path
from kdbench.overrides import Override, with_overrides
from kdbench.plugins import PluginManager
from kdbench.specfile import problems_of
from kdbench.specs import BudgetName, RunSpec, TrackSpec

FLOW_WIDTH = 100


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks (``|``), so a description reads as it was written;
    a list or mapping that fits in ``FLOW_WIDTH`` characters on one line as a flow collection."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _collection(dumper: yaml.SafeDumper, value: dict[Any, Any] | list[Any]) -> yaml.Node:
    node = dumper.represent_dict(value) if isinstance(value, dict) else dumper.represent_list(value)
    line = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip()
    node.flow_style = "\n" not in line and len(line) <= FLOW_WIDTH
    return node


_Dumper.add_representer(str, _str)
_Dumper.add_representer(dict, _collection)
_Dumper.add_representer(list, _collection)


def dump(data: Any) -> str:
    """YAML for people: short collections on one line, longer ones as blocks, no wrapped lines."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)


def _budget(runs: list[RunSpec]) -> dict[str, Any]:
    """What the runs of one budget resolve to: counts, seeds, limits, recipes, models, methods."""
    if not runs:
        return {"runs": 0}
    first, teacher = runs[0], next((r.teacher for r in runs if r.teacher is not None), None)
    resolved: dict[str, Any] = {"runs": len(runs), "seeds": sorted({r.seed for r in runs})}
    limits = {"train_limit": first.train_limit, "test_limit": first.test_limit}
    resolved.update({key: value for key, value in limits.items() if value is not None})
    if teacher is not None:
        resolved["teacher_recipe"] = teacher.recipe.model_dump(mode="json")
        own = {r.teacher_label: {key: value for key, value in r.teacher.recipe.model_dump(mode="json").items()
                                 if resolved["teacher_recipe"][key] != value}
               for r in runs if r.teacher is not None and r.teacher.recipe != teacher.recipe}
        if own:
            resolved["teachers_own_recipes"] = own
    resolved["student_recipe"] = first.recipe.model_dump(mode="json")
    teachers = {r.teacher_label: r.teacher.model.signature() for r in runs if r.teacher is not None}
    if teachers:
        resolved["teachers"] = teachers
    resolved["students"] = {r.student_label: r.student.signature() for r in runs}
    resolved["methods"] = {r.method_label: r.method.params for r in runs}
    return resolved


def track_view(track: TrackSpec, source: str, runs: dict[BudgetName, list[RunSpec]],
               overrides: Sequence[Override] = ()) -> str:
    """The track as its file (and ``--set``) set it, then per budget what it resolves to."""
    view: dict[str, Any] = {"file": source}
    if overrides:
        view["overrides"] = [override.text for override in overrides]
    view.update(track.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True))
    view["resolved"] = {budget: _budget(budget_runs) for budget, budget_runs in runs.items()}
    return dump(view)


def model_params(pm: PluginManager, name: str, overrides: Sequence[Override]) -> BaseModel:
    """The validated parameters of model ``name``: its defaults with ``overrides`` applied."""
    info = pm.models.get(name)
    empty = yaml.compose("{}")
    assert isinstance(empty, yaml.MappingNode)
    data, root = with_overrides({}, empty, overrides)
    try:
        params = info.Params.model_validate(data)
    except ValidationError as error:
        raise SpecError(f"model {name}", problems_of(error, root)) from None
    if info.check is not None:
        info.check(name, params)
    return params


def taps_view(pm: PluginManager, name: str, overrides: Sequence[Override], channels: int,
              size: int, classes: int, dataset: str | None = None) -> str:
    """A table of the model's taps: name, module path and feature shape for ``channels`` x
    ``size`` x ``size`` images of ``classes`` classes (those of ``dataset``, when given)."""
    params = model_params(pm, name, overrides)
    model = pm.models.get(name).factory(name, params, in_channels=channels, image_size=size,
                                        num_classes=classes)
    names = tap_names(model)
    features = probe_all(model, names, torch.zeros(2, channels, size, size))
    rows = [[tap, tap_path(model, tap), "x".join(str(d) for d in features[tap].shape[1:])]
            for tap in names]
    settings = ", ".join(f"{key}={value}" for key, value in params.model_dump().items())
    count = sum(p.numel() for p in model.parameters())
    head = (f"{name}({settings}) on {f'{dataset}, ' if dataset else ''}{channels}x{size}x{size} "
            f"images, {classes} classes: {count:,} parameters, {len(names)} feature taps")
    return head + "\n" + tabulate(rows, headers=["tap", "module", "feature (CxHxW)"],
                                   disable_numparse=True)
