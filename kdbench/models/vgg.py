"""VGG with batch norm for CIFAR, as in RepDistiller (Tian et al., CRD, ICLR 2020):
``vgg{8,11,13,16,19}``.

Five stages of 3x3 convolution-BN-ReLU layers (64, 128, 256, 512, 512 channels; 1-4 layers per
stage by depth, VGG-8 being one per stage), 2x2 max pooling after the first three stages and
after the fourth for images of 64 pixels or more, then global average pooling and a single linear
classifier (no fully connected stack). Pooling stops at one pixel, so 8x8 and 28x28 images work.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from kdbench.errors import KdbenchError
from kdbench.models.cfg import ModelCfg
from kdbench.models.common import global_pool, init_weights, parse_name
from kdbench.types import NoParams

PATTERN = r"vgg(?P<depth>\d+)"
STAGES: dict[int, tuple[tuple[int, ...], ...]] = {
    8: ((64,), (128,), (256,), (512,), (512,)),
    11: ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    13: ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    16: ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    19: ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512)),
}
POOL_FOURTH_FROM = 64


class VGG(nn.Sequential):
    """A CIFAR VGG from its per-stage channel lists, as a sequence of named modules (stage1,
    down1, ..., stage5, pool, fc); taps: each stage's output and the pooled features that feed
    the classifier."""

    feature_taps = {**{f"stage{i}": f"stage{i}" for i in range(1, 6)}, "penultimate": "pool"}
    model_cfg = ModelCfg(classifier="fc", hint_tap="stage3",  # RepDistiller's vgg feats[2]: block2
                         stage_taps=("stage2", "stage3", "stage4", "stage5"))  # feats[1:-1]: block1-4

    def __init__(self, stages: tuple[tuple[int, ...], ...], in_channels: int = 3,
                 image_size: int = 32, num_classes: int = 10):
        modules: OrderedDict[str, nn.Module] = OrderedDict()
        channels, size = in_channels, image_size
        for index, widths in enumerate(stages, start=1):
            layers: list[nn.Module] = []
            for width in widths:
                layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False),
                           nn.BatchNorm2d(width), nn.ReLU()]
                channels = width
            modules[f"stage{index}"] = nn.Sequential(*layers)
            if index < len(stages):
                pools = (index < 4 or image_size >= POOL_FOURTH_FROM) and size >= 2
                modules[f"down{index}"] = nn.MaxPool2d(2) if pools else nn.Identity()
                size = size // 2 if pools else size
        modules["pool"] = global_pool()
        modules["fc"] = nn.Linear(channels, num_classes)
        super().__init__(modules)
        init_weights(self)


def stages(name: str, params: NoParams | None = None) -> tuple[tuple[int, ...], ...]:
    """The stage widths of ``vgg{depth}``, checked (also before any data loads)."""
    depth = int(parse_name(PATTERN, name, "CIFAR VGG")["depth"])
    if depth not in STAGES:
        raise KdbenchError(f"{name}: CIFAR VGGs have depth {', '.join(map(str, STAGES))}, not {depth}")
    return STAGES[depth]


def build_vgg(name: str, params: NoParams, *, in_channels: int, image_size: int,
              num_classes: int) -> VGG:
    """``vgg{depth}`` for the data's channels, image size (it sets the pooling) and classes."""
    return VGG(stages(name), in_channels, image_size, num_classes)
