"""A small multilayer perceptron on flattened pixels: the simplest student there is."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from torch import Tensor, nn

from kdbench.models.cfg import ModelCfg
from kdbench.types import Params

MAX_UNITS = 2**17


class MLPParams(Params):
    hidden: tuple[Annotated[int, Field(gt=0, le=MAX_UNITS)], ...] = Field(
        (256,), strict=False, max_length=64,
        description="units of each hidden layer: at most 64 layers of 1 to 131,072 units (wider than "
                    "the widest layers of large networks)")


class MLP(nn.Module):
    """Flatten, then Linear-ReLU per hidden layer, then a linear classifier; taps: hidden<i> and
    penultimate (the last hidden layer, or the flattened pixels without one); the hint tap is the
    middle hidden layer (none without hidden layers)."""

    def __init__(self, in_features: int, num_classes: int, hidden: tuple[int, ...] = (256,)):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        for units in hidden:
            layers += [nn.Linear(in_features, units), nn.ReLU()]
            in_features = units
        layers.append(nn.Linear(in_features, num_classes))
        self.layers = nn.Sequential(*layers)
        self.feature_taps = {f"hidden{i}": f"layers.{2 + 2 * i}" for i in range(len(hidden))}
        self.feature_taps["penultimate"] = f"layers.{2 * len(hidden)}"
        self.model_cfg = ModelCfg(classifier=f"layers.{2 * len(hidden) + 1}",
                                  hint_tap=f"hidden{(len(hidden) - 1) // 2}" if hidden else None)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def build_mlp(name: str, params: MLPParams, *, in_channels: int, image_size: int,
              num_classes: int) -> MLP:
    return MLP(in_channels * image_size * image_size, num_classes, params.hidden)
