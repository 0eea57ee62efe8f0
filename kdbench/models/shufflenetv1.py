"""ShuffleNet (Zhang et al., CVPR 2018) in RepDistiller's CIFAR form (Tian et al., CRD, ICLR 2020):
``shufflenetv1``, RepDistiller's ``ShuffleV1`` student of the CRD and DKD tables.

A 1x1 stem to 24 channels (no stride, no max pooling), three stages of 4, 8 and 4 bottleneck units
of stride 2 then 1, global average pooling and a linear classifier. A unit is a grouped 1x1
convolution to a quarter of its output channels (ungrouped on the stem's 24 channels), a channel
shuffle, a 3x3 depthwise convolution, a grouped 1x1 convolution, each with BN (ReLU after the
first two); a stride-2 unit concatenates a 3x3 average-pooled shortcut, the others add the input.
Stage widths 240, 480 and 960 with g = 3 groups, the paper's Table 1 row that RepDistiller builds
(its layout divides the stem-side units' channels by g only for g = 1, 2 or 3, so g is fixed).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kdbench.models.cfg import ModelCfg
from kdbench.models.common import global_pool, init_weights
from kdbench.types import NoParams

STEM = 24
BLOCKS = (4, 8, 4)
WIDTHS = (240, 480, 960)
GROUPS = 3


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups: (N, g*c, H, W) -> channel order c-major."""
    n, channels, h, w = x.shape
    return x.view(n, groups, channels // groups, h, w).transpose(1, 2).reshape(n, channels, h, w)


class ShuffleUnit(nn.Module):
    """A ShuffleNet bottleneck unit: its ``out_channels`` come from the residual branch, plus the
    input's channels when it downsamples (concatenated)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, groups: int):
        super().__init__()
        mid = out_channels // 4
        first_groups = 1 if in_channels == STEM else groups
        self.groups, self.stride = first_groups, stride
        self.conv1 = nn.Conv2d(in_channels, mid, 1, groups=first_groups, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.AvgPool2d(3, 2, 1) if stride == 2 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = channel_shuffle(F.relu(self.bn1(self.conv1(x))), self.groups)
        out = self.bn3(self.conv3(F.relu(self.bn2(self.conv2(out)))))
        shortcut = self.shortcut(x)
        return F.relu(torch.cat([out, shortcut], 1) if self.stride == 2 else out + shortcut)


class ShuffleNetV1(nn.Module):
    """ShuffleNet for CIFAR-sized images; taps: each stage's output and the pooled features that
    feed the classifier."""

    feature_taps = {"stage1": "stage1", "stage2": "stage2", "stage3": "stage3",
                    "penultimate": "pool"}
    model_cfg = ModelCfg(classifier="fc", hint_tap="stage2")  # RepDistiller's feats[2]: layer2

    def __init__(self, in_channels: int = 3, num_classes: int = 10, groups: int = GROUPS):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, STEM, 1, bias=False), nn.BatchNorm2d(STEM),
                                  nn.ReLU())
        channels = STEM
        stages = []
        for width, blocks in zip(WIDTHS, BLOCKS, strict=True):
            units = [ShuffleUnit(channels, width - channels, 2, groups)]
            units += [ShuffleUnit(width, width, 1, groups) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*units))
            channels = width
        self.stage1, self.stage2, self.stage3 = stages
        self.pool = global_pool()
        self.fc = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.stage3(self.stage2(self.stage1(self.stem(x))))))


def build_shufflenetv1(name: str, params: NoParams, *, in_channels: int, image_size: int,
                       num_classes: int) -> ShuffleNetV1:
    """``shufflenetv1`` for the data's channels and classes."""
    return ShuffleNetV1(in_channels, num_classes)
