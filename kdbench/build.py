"""Turn resolved references into objects through the plugin registry: data splits, models,
distillers. Data splits are loaded once per process and shared by every run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from kdbench.data import ImageTensors
from kdbench.methods import Distiller
from kdbench.plugins import PluginManager
from kdbench.specs import Ref


class DataSource:
    """Loads data set splits through their plugins, with a per-process cache."""

    def __init__(self, pm: PluginManager, root: Path, download: bool = False):
        self.pm, self.root, self.download = pm, Path(root), download
        self._cache: dict[tuple[str, str, int | None], Any] = {}

    def split(self, ref: Ref, split: str, limit: int | None = None) -> ImageTensors:
        key = (ref.model_dump_json(), split, limit)
        if key not in self._cache:
            info = self.pm.datasets.get(ref.name)
            data = info.factory(info.Params.model_validate(ref.params), split,
                                root=self.root, download=self.download)
            self._cache[key] = data.limit(limit)
        return self._cache[key]


def build_model(pm: PluginManager, ref: Ref, data: ImageTensors) -> nn.Module:
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
