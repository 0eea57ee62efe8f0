"""The ImageNet ResNets (He et al., CVPR 2016, Table 1) in CIFAR form, as RepDistiller's
``resnetv2.py`` builds them (Tian et al., CRD, ICLR 2020): ``resnet{18,34,50,101,152}-cifar``;
``resnet50-cifar`` is the "ResNet50" teacher of the CRD and DKD tables.

A 3x3 stem of 64 channels at stride 1 with no max pooling (CIFAR images are 32 pixels), four
stages of basic (18, 34) or bottleneck (50, 101, 152; expansion 4) blocks with widths 64, 128, 256
and 512, the last three starting with stride 2, 1x1-convolution-and-BN shortcuts where the shape
changes, global average pooling and a linear classifier. The name carries ``-cifar`` because
``resnet{depth}`` is He et al.'s 6n+2 CIFAR family, which refuses these depths.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kdbench.errors import KdbenchError
from kdbench.models.cfg import ModelCfg
from kdbench.models.common import conv3x3, global_pool, init_weights, parse_name
from kdbench.models.resnet_cifar import BasicBlock, shortcut
from kdbench.types import NoParams

PATTERN = r"resnet(?P<depth>\d+)-cifar"
LAYOUTS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
           101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}
WIDTHS = (64, 128, 256, 512)
EXPANSION = 4


class Bottleneck(nn.Module):
    """1x1-BN-ReLU, 3x3 (carrying the stride)-BN-ReLU, 1x1 to 4x the width-BN, plus the
    shortcut, then ReLU."""

    def __init__(self, in_channels: int, width: int, stride: int):
        super().__init__()
        out_channels = width * EXPANSION
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = shortcut(in_channels, out_channels, stride, "B")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


class ImageNetResNetCifar(nn.Module):
    """A four-stage ResNet with a CIFAR stem; taps: each stage's output and the pooled features
    that feed the classifier."""

    feature_taps = {"stage1": "stage1", "stage2": "stage2", "stage3": "stage3", "stage4": "stage4",
                    "penultimate": "pool"}
    model_cfg = ModelCfg(classifier="fc", hint_tap="stage2")  # RepDistiller's feats[2]: layer2

    def __init__(self, block: str, blocks: tuple[int, ...], in_channels: int = 3,
                 num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(conv3x3(in_channels, WIDTHS[0]), nn.BatchNorm2d(WIDTHS[0]), nn.ReLU())
        channels = WIDTHS[0]
        stages = []
        for index, (width, count) in enumerate(zip(WIDTHS, blocks, strict=True)):
            units: list[nn.Module] = []
            for i in range(count):
                stride = 2 if index > 0 and i == 0 else 1
                if block == "bottleneck":
                    units.append(Bottleneck(channels, width, stride))
                    channels = width * EXPANSION
                else:
                    units.append(BasicBlock(channels, width, stride, "B"))
                    channels = width
            stages.append(nn.Sequential(*units))
        self.stage1, self.stage2, self.stage3, self.stage4 = stages
        self.pool = global_pool()
        self.fc = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage4(self.stage3(self.stage2(self.stage1(self.stem(x)))))
        return self.fc(self.pool(x))


def layout(name: str, params: NoParams | None = None) -> tuple[str, tuple[int, ...]]:
    """The block type and blocks per stage of ``resnet{depth}-cifar``, checked."""
    depth = int(parse_name(PATTERN, name, "ImageNet ResNet in CIFAR form")["depth"])
    if depth not in LAYOUTS:
        raise KdbenchError(f"{name}: the ImageNet ResNets in CIFAR form have depth "
                           f"{', '.join(map(str, LAYOUTS))}, not {depth}")
    return LAYOUTS[depth]


def build_resnet_imagenet_cifar(name: str, params: NoParams, *, in_channels: int, image_size: int,
                                num_classes: int) -> ImageNetResNetCifar:
    """``resnet{depth}-cifar`` for the data's channels and classes."""
    block, blocks = layout(name)
    return ImageNetResNetCifar(block, blocks, in_channels, num_classes)
