"""Turn resolved references into objects through the plugin registry: a model for a data split,
a distiller for a student and its teacher."""

from __future__ import annotations

from torch import nn

from kdbench.data.split import Split
from kdbench.methods import Distiller
from kdbench.plugins import PluginManager
from kdbench.specs import Ref


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
