"""Turn resolved references into objects through the plugin registry: data splits, models,
distillers. Data splits are loaded once per process and shared by every run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from kdbench.data.split import Split
from kdbench.data.subsets import subset_indices
from kdbench.methods import Distiller
from kdbench.plugins import PluginManager
from kdbench.specs import DataRef, Ref


class DataSource:
    """Loads data set splits through their plugins, once per process, and derives the training
    data of teachers and students from them (subsets, hidden labels, the task's normalization)."""

    def __init__(self, pm: PluginManager, root: Path, download: bool = False):
        self.pm, self.root, self.download = pm, Path(root), download
        self._cache: dict[tuple[str, ...], Split] = {}

    def load(self, ref: Ref, split: str) -> Split:
        """A whole split of a data set, as its plugin returns it."""
        key = ("load", ref.name, json.dumps(ref.params, sort_keys=True), split)
        if key not in self._cache:
            info = self.pm.datasets.get(ref.name)
            self._cache[key] = info.factory(info.Params.model_validate(ref.params), split,
                                            root=self.root, download=self.download)
        return self._cache[key]

    def evaluation(self, task: Ref, limit: int | None = None) -> Split:
        """The test split of the task's data set, at most ``limit`` examples."""
        return self.load(task, "test").limit(limit)

    def training(self, data: DataRef, task: Ref, limit: int | None = None) -> Split:
        """The train split of ``data``: its subset, labels hidden (``label_mask`` False) when they
        are not to be used, normalized like the task's data set, at most ``limit`` examples."""
        key = ("training", data.model_dump_json(), task.model_dump_json(), str(limit))
        if key not in self._cache:
            split = self.load(data, "train")
            if data.subset is not None:
                split = split.subset(subset_indices(split.labels, data.subset))
            if not data.labels:  # values unspecified; -1 makes code that ignores the mask fail loudly
                split = replace(split, labels=torch.full_like(split.labels, -1),
                                label_mask=torch.zeros_like(split.label_mask))
            if data.name != task.name or data.params != task.params:
                like = self.load(task, "test")
                split = replace(split, mean=like.mean, std=like.std, num_classes=like.num_classes)
            self._cache[key] = split.limit(limit)
        return self._cache[key]


def build_model(pm: PluginManager, ref: Ref, data: Split) -> nn.Module:
    """A freshly initialized model for ``data``'s channels, image size and classes."""
    info = pm.models.get(ref.name)
    return info.factory(ref.name, info.Params.model_validate(ref.params),
                        in_channels=data.in_channels, image_size=data.image_size,
                        num_classes=data.num_classes)


def build_distiller(pm: PluginManager, ref: Ref, student: nn.Module,
                    teacher: nn.Module | None) -> Distiller:
    info = pm.methods.get(ref.name)
    return info.factory(student, teacher if info.needs_teacher else None,
                        info.Params.model_validate(ref.params))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
