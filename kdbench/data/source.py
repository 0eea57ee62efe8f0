"""Data splits loaded through the data set plugins, once per process and shared by every run,
and the training data of teachers and students derived from them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from kdbench.data.split import Split
from kdbench.data.subsets import subset_indices
from kdbench.plugins import PluginManager
from kdbench.specs import DataRef, Ref

_LOADED: dict[tuple[str, int, str, str], tuple[object, Split]] = {}
"""Whole splits loaded in this process, by (data folder, id of the loader, params, split), each
kept with its loader (so that the id stays its own): every ``DataSource`` of the process shares
them, so a sweep's preflight and its runs, and a notebook's next sweep, decode each data set once."""


class DataSource:
    """Loads data set splits through their plugins, once per process, and derives the training
    data of teachers and students from them (subsets, hidden labels, the normalization of the data
    set they are evaluated on)."""

    def __init__(self, pm: PluginManager, root: Path, download: bool = False):
        self.pm, self.root, self.download = pm, Path(root), download
        self._cache: dict[tuple[str, ...], Split] = {}

    def load(self, ref: Ref, split: str) -> Split:
        """A whole split of a data set, as its plugin returns it (once per process)."""
        info = self.pm.datasets.get(ref.name)
        key = (str(self.root.resolve()), id(info.factory), json.dumps(ref.params, sort_keys=True), split)
        if key not in _LOADED:
            _LOADED[key] = (info.factory, info.factory(info.Params.model_validate(ref.params), split,
                                                       root=self.root, download=self.download))
        return _LOADED[key][1]

    def evaluation(self, dataset: Ref, limit: int | None = None) -> Split:
        """The test split of ``dataset``, at most ``limit`` examples."""
        return self.load(dataset, "test").limit(limit)

    def training(self, data: DataRef, evaluated_on: Ref, limit: int | None = None) -> Split:
        """The train split of ``data``: its subset, labels hidden (``label_mask`` False) when they
        are not to be used, normalized like ``evaluated_on`` (the data set whose test split
        evaluates the network trained on it), at most ``limit`` examples."""
        key = ("training", data.model_dump_json(), evaluated_on.model_dump_json(), str(limit))
        if key not in self._cache:
            split = self.load(data, "train")
            if data.subset is not None:
                split = split.subset(subset_indices(split.labels, data.subset))
            if not data.labels:  # values unspecified; -1 makes code that ignores the mask fail loudly
                split = replace(split, labels=torch.full_like(split.labels, -1),
                                label_mask=torch.zeros_like(split.label_mask))
            if data.name != evaluated_on.name or data.params != evaluated_on.params:
                like = self.load(evaluated_on, "test")
                split = replace(split, mean=like.mean, std=like.std, num_classes=like.num_classes)
            self._cache[key] = split.limit(limit)
        return self._cache[key]
