"""CIFAR ResNets: He et al. (CVPR 2016, section 4.2) ``resnet{depth}`` and RepDistiller's wide
``resnet{depth}x4`` (Tian et al., CRD, ICLR 2020).

A 3x3 stem, three stages of n = (depth - 2) / 6 post-activation basic blocks (conv3x3-BN-ReLU-
conv3x3-BN, plus the shortcut, then ReLU), the last two starting with stride 2, global average
pooling and a linear classifier. ``resnet{depth}`` has widths 16/32/64 after a 16-channel stem;
``resnet{depth}x4`` has widths 64/128/256 after a 32-channel stem.

Shortcuts that change the shape are option A by default for ``resnet{depth}``, as in the paper's
CIFAR experiments (the input subsampled by the stride, extra channels zero: no parameters), and
option B for ``resnet{depth}x4``, as in RepDistiller (a 1x1 convolution and BN). The ``shortcut``
parameter picks either; RepDistiller's ``resnet{depth}`` numbers used option B. The ImageNet
depths 18, 34, 50, 101 and 152 are refused with a pointer to ``torchvision/`` and ``timm/``, so
``resnet50`` never silently means a CIFAR network; ``resnet50-cifar`` (``resnet_imagenet_cifar``) is
RepDistiller's ImageNet layout with a CIFAR stem.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from kdbench.errors import KdbenchError
from kdbench.models.cfg import ModelCfg
from kdbench.models.common import conv3x3, global_pool, init_weights, parse_name
from kdbench.types import Params

PATTERN = r"resnet(?P<depth>\d+)"
PATTERN_X4 = r"resnet(?P<depth>\d+)x4"
WIDTHS = (16, 16, 32, 64)
WIDTHS_X4 = (32, 64, 128, 256)
IMAGENET_DEPTHS = (18, 34, 50, 101, 152)

Shortcut = Literal["A", "B"]


class ResNetParams(Params):
    shortcut: Shortcut = Field("A", description="A: subsample and zero-pad (He et al., no "
                               "parameters); B: 1x1 convolution and BN (RepDistiller)")


class ResNetX4Params(Params):
    shortcut: Shortcut = Field("B", description="B: 1x1 convolution and BN (RepDistiller); "
                               "A: subsample and zero-pad")


class PadShortcut(nn.Module):
    """Option A: keep every ``stride``-th pixel and append zero channels up to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.extra, self.stride = out_channels - in_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra)) if self.extra else x


def shortcut(in_channels: int, out_channels: int, stride: int, kind: Shortcut) -> nn.Module:
    """The identity when the shape is unchanged, else an option A or option B projection."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if kind == "A":
        return PadShortcut(in_channels, out_channels, stride)
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                         nn.BatchNorm2d(out_channels))


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU (He et al. 2016)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, kind: Shortcut):
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = shortcut(in_channels, out_channels, stride, kind)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """A three-stage CIFAR ResNet with ``blocks`` basic blocks per stage (depth 6 * blocks + 2);
    taps: each stage's output and the pooled features that feed the classifier."""

    feature_taps = {"stage1": "stage1", "stage2": "stage2", "stage3": "stage3",
                    "penultimate": "pool"}
    model_cfg = ModelCfg(classifier="fc", hint_tap="stage2")  # RepDistiller's resnet feats[2]: layer2

    def __init__(self, blocks: int, widths: tuple[int, int, int, int] = WIDTHS, in_channels: int = 3,
                 num_classes: int = 10, kind: Shortcut = "A"):
        super().__init__()
        self.stem = nn.Sequential(conv3x3(in_channels, widths[0]), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU())
        self.stage1 = self._stage(widths[0], widths[1], blocks, 1, kind)
        self.stage2 = self._stage(widths[1], widths[2], blocks, 2, kind)
        self.stage3 = self._stage(widths[2], widths[3], blocks, 2, kind)
        self.pool = global_pool()
        self.fc = nn.Linear(widths[3], num_classes)
        init_weights(self)

    @staticmethod
    def _stage(in_channels: int, out_channels: int, blocks: int, stride: int,
               kind: Shortcut) -> nn.Sequential:
        return nn.Sequential(*(BasicBlock(in_channels if i == 0 else out_channels, out_channels,
                                          stride if i == 0 else 1, kind) for i in range(blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.fc(self.pool(x))


def _blocks(name: str, depth: int) -> int:
    if depth < 8 or (depth - 2) % 6:
        raise KdbenchError(f"{name}: a CIFAR ResNet's depth is 6n+2 with n >= 1 "
                           f"(8, 14, 20, 32, 44, 56, 110, ...), not {depth}")
    return (depth - 2) // 6


def resnet_blocks(name: str, params: ResNetParams | None = None) -> int:
    """Blocks per stage of ``resnet{depth}``, checked (also before any data loads)."""
    depth = int(parse_name(PATTERN, name, "CIFAR ResNet")["depth"])
    if depth in IMAGENET_DEPTHS:
        raise KdbenchError(f"{name}: CIFAR ResNets have depth 6n+2 (20, 32, 44, 56, 110); for the "
                           f"ImageNet ResNet-{depth} use torchvision/resnet{depth} or timm/resnet{depth}, "
                           f"or resnet{depth}-cifar for its layout with a CIFAR stem")
    return _blocks(name, depth)


def resnet_x4_blocks(name: str, params: ResNetX4Params | None = None) -> int:
    """Blocks per stage of ``resnet{depth}x4``, checked."""
    return _blocks(name, int(parse_name(PATTERN_X4, name, "RepDistiller ResNet x4")["depth"]))


def build_resnet(name: str, params: ResNetParams, *, in_channels: int, image_size: int,
                 num_classes: int) -> CifarResNet:
    """``resnet{depth}`` (widths 16/32/64) for the data's channels and classes."""
    return CifarResNet(resnet_blocks(name), WIDTHS, in_channels, num_classes, params.shortcut)


def build_resnet_x4(name: str, params: ResNetX4Params, *, in_channels: int, image_size: int,
                    num_classes: int) -> CifarResNet:
    """``resnet{depth}x4`` (RepDistiller: stem 32, widths 64/128/256) for the data."""
    return CifarResNet(resnet_x4_blocks(name), WIDTHS_X4, in_channels, num_classes, params.shortcut)
