"""Wide ResNets (Zagoruyko & Komodakis, BMVC 2016), CIFAR variant: ``wrn-{depth}-{k}``.

A 3x3 stem with 16 channels, then three groups of (depth - 4) / 6 pre-activation basic blocks
(BN-ReLU-conv3x3-BN-ReLU-[dropout]-conv3x3) of widths 16k, 32k and 64k, the last two starting
with stride 2; a 1x1 convolution of the pre-activated input joins groups of different width.
A final BN-ReLU, global average pooling and a linear classifier close the network, so any image
size works. Cho & Hariharan's capacity study uses WRN-16-k and WRN-28-k.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from kdbench.errors import KdbenchError
from kdbench.models.cfg import ModelCfg
from kdbench.models.common import conv3x3, global_pool, init_weights, parse_name
from kdbench.types import Params

PATTERN = r"wrn-(?P<depth>\d+)-(?P<k>\d+)"


class WRNParams(Params):
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout between the two convolutions "
                           "of every block (the paper uses 0.3 in some runs)")


class WideBlock(nn.Module):
    """A pre-activation basic block; the shortcut is the identity when the shape is unchanged."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, dropout: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = conv3x3(out_channels, out_channels)
        self.shortcut = (nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
                         if stride != 1 or in_channels != out_channels else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        out = self.conv2(self.dropout(F.relu(self.bn2(self.conv1(pre)))))
        return out + (x if self.shortcut is None else self.shortcut(pre))


class WideResNet(nn.Module):
    """WRN-depth-k; taps: the output of each group (before the final BN-ReLU) and the pooled
    features that feed the classifier."""

    feature_taps = {"stage1": "stage1", "stage2": "stage2", "stage3": "stage3",
                    "penultimate": "pool"}
    model_cfg = ModelCfg(classifier="fc", hint_tap="stage2")  # RepDistiller's wrn feats[2]

    def __init__(self, depth: int, k: int, in_channels: int = 3, num_classes: int = 10,
                 dropout: float = 0.0):
        super().__init__()
        check_depth_k(depth, k)
        blocks = (depth - 4) // 6
        widths = (16, 16 * k, 32 * k, 64 * k)
        self.stem = conv3x3(in_channels, widths[0])
        self.stage1 = self._group(widths[0], widths[1], blocks, 1, dropout)
        self.stage2 = self._group(widths[1], widths[2], blocks, 2, dropout)
        self.stage3 = self._group(widths[2], widths[3], blocks, 2, dropout)
        self.final = nn.Sequential(nn.BatchNorm2d(widths[3]), nn.ReLU())
        self.pool = global_pool()
        self.fc = nn.Linear(widths[3], num_classes)
        init_weights(self)

    @staticmethod
    def _group(in_channels: int, out_channels: int, blocks: int, stride: int,
               dropout: float) -> nn.Sequential:
        return nn.Sequential(*(WideBlock(in_channels if i == 0 else out_channels, out_channels,
                                         stride if i == 0 else 1, dropout) for i in range(blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.fc(self.pool(self.final(x)))


def check_depth_k(depth: int, k: int) -> None:
    """A one-line error unless depth is 6n+4 (n >= 1) and k >= 1."""
    if depth < 10 or (depth - 4) % 6:
        raise KdbenchError(f"wrn-{depth}-{k}: a WRN's depth is 6n+4 with n >= 1 "
                           f"(10, 16, 22, 28, 40, ...), not {depth}")
    if k < 1:
        raise KdbenchError(f"wrn-{depth}-{k}: the widening factor k must be at least 1")


def depth_k(name: str, params: WRNParams | None = None) -> tuple[int, int]:
    """Depth and widening factor of ``wrn-{depth}-{k}``, checked (also before any data loads)."""
    dims = parse_name(PATTERN, name, "Wide ResNet")
    depth, k = int(dims["depth"]), int(dims["k"])
    check_depth_k(depth, k)
    return depth, k


def build_wrn(name: str, params: WRNParams, *, in_channels: int, image_size: int,
              num_classes: int) -> WideResNet:
    """``wrn-{depth}-{k}`` for the data's channels and classes (any image size)."""
    return WideResNet(*depth_k(name), in_channels, num_classes, params.dropout)
