"""RepDistiller's parameter names (its models/*.py at b84f547) mapped to kdbench's, for the teacher
families of the ``cifar100-pairs`` track, so that its released teacher checkpoints load.

Each family is a list of (pattern, replacement) rewrites of a key's prefix or middle, applied in
order. RepDistiller's VGG convolutions carry a bias that kdbench's (each followed by batch norm)
do not: the bias is folded into the batch norm's running mean, which gives the same outputs in
eval mode, the only mode a teacher runs in.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from torch import Tensor

from kdbench.errors import KdbenchError

Rewrite = tuple[str, str | Callable[[re.Match[str]], str]]


def _next_stage(match: re.Match[str]) -> str:
    """RepDistiller's VGG ``block{i}`` (from 0) is kdbench's ``stage{i + 1}``."""
    return f"stage{int(match.group(1)) + 1}."


RESNET: list[Rewrite] = [(r"^conv1\.", "stem.0."), (r"^bn1\.", "stem.1."), (r"^layer(\d)\.", r"stage\1."),
          (r"\.downsample\.", ".shortcut.")]
RENAMES: dict[str, list[Rewrite]] = {
    "wrn": [(r"^conv1\.", "stem."), (r"^block(\d)\.layer\.", r"stage\1."),
            (r"\.convShortcut\.", ".shortcut."), (r"^bn1\.", "final.0.")],
    "resnet": RESNET,
    "resnet-x4": RESNET,
    "resnet-cifar": [*RESNET, (r"^linear\.", "fc.")],
    "vgg": [(r"^block(\d)\.", _next_stage), (r"^classifier\.", "fc.")],
}
"""kdbench model family -> rewrites of RepDistiller's keys into kdbench's."""

CONV_BIAS = re.compile(r"^(stage\d+)\.(\d+)\.bias$")


def families() -> str:
    return ", ".join(sorted(RENAMES))


def kdbench_name(family: str, key: str) -> str:
    """The kdbench name of RepDistiller's parameter ``key`` in a model of ``family``."""
    for pattern, replacement in RENAMES[family]:
        key = re.sub(pattern, replacement, key)
    return key


def to_kdbench(family: str, state: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, str]]:
    """``state`` with kdbench's names (VGG's convolution biases folded into their batch norms),
    and each new name's RepDistiller name, for messages."""
    if family not in RENAMES:
        raise KdbenchError(f"format repdistiller maps RepDistiller's names for the model families "
                           f"{families()}, not {family}: save the weights in kdbench's names "
                           "(format kdbench)")
    renamed = {kdbench_name(family, key): value for key, value in state.items()}
    origin = {kdbench_name(family, key): key for key in state}
    if family == "vgg":
        renamed = _fold_conv_biases(renamed, origin)
    return renamed, origin


def _fold_conv_biases(state: dict[str, Tensor], origin: dict[str, str]) -> dict[str, Tensor]:
    """BN(conv(x) + b) with running mean m is BN(conv(x)) with running mean m - b (eval mode)."""
    folded = dict(state)
    for key, bias in state.items():
        match = CONV_BIAS.match(key)
        weight = state.get(key.removesuffix("bias") + "weight")
        if match is None or weight is None or weight.dim() != 4:
            continue
        mean = f"{match.group(1)}.{int(match.group(2)) + 1}.running_mean"
        if mean not in state or state[mean].shape != bias.shape:
            raise KdbenchError(f"{origin[key]}: a convolution bias with no batch norm after it "
                               "to fold it into")
        folded[mean] = state[mean] - bias
        del folded[key]
    return folded
