"""Pieces the CIFAR-style model families share: name parsing, layers and weight initialization.

Activations are never in place, so a forward hook that keeps a tap's output (FitNets, CRD) sees
the tensor the module returned, not one a later layer overwrote.
"""

from __future__ import annotations

import re

from torch import nn

from kdbench.errors import KdbenchError


def parse_name(pattern: str, name: str, family: str) -> dict[str, str]:
    """The named groups of ``pattern`` in ``name`` (``{"depth": "16", "k": "2"}`` for wrn-16-2)."""
    match = re.fullmatch(pattern, name)
    if match is None:
        raise KdbenchError(f"model {name!r} is not a {family} name (expected the form {pattern})")
    return match.groupdict()


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """A 3x3 convolution with padding 1 and no bias (a normalization layer follows)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def global_pool() -> nn.Sequential:
    """Adaptive average pooling to one pixel, flattened: (N, C, H, W) -> (N, C) for any H, W."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())


def init_weights(model: nn.Module) -> None:
    """He-normal convolutions (fan out), unit-scale normalization, zero biases: the usual CIFAR
    initialization of the ResNet and WRN papers."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
