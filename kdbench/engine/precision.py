"""Mixed precision: a recipe's ``precision`` as torch.amp's autocast context and gradient scaler.

``fp32`` runs as before; ``bf16-mixed`` and ``fp16-mixed`` run the forward (training and
evaluation) under ``torch.autocast`` with that dtype, and ``fp16-mixed`` scales the loss with a
``torch.amp.GradScaler`` so that small fp16 gradients do not flush to zero (as Lightning's
``precision="16-mixed"`` does).
"""

from __future__ import annotations

import warnings
from contextlib import AbstractContextManager, nullcontext
from typing import Literal

import torch

from kdbench.errors import KdbenchError
from kdbench.overrides import Override, parse_override
from kdbench.specs import TrackSpec

Precision = Literal["fp32", "bf16-mixed", "fp16-mixed"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16-mixed", "fp16-mixed")
DTYPES = {"bf16-mixed": torch.bfloat16, "fp16-mixed": torch.float16}


def autocast(precision: str, device: torch.device) -> AbstractContextManager[object]:
    """The context a forward pass at ``precision`` runs in on ``device`` (none for fp32)."""
    dtype = DTYPES.get(precision)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler:
    """A gradient scaler, enabled for fp16 only; a disabled one steps the optimizer unscaled."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16-mixed")


def check_precision(precision: str, device: torch.device, where: str = "precision") -> None:
    """A ``KdbenchError`` naming ``where`` when ``device`` cannot autocast to ``precision``."""
    if precision not in PRECISIONS:
        raise KdbenchError(f"{where} {precision!r}: use {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return
    if not torch.amp.is_autocast_available(device.type):
        raise KdbenchError(f"{where} {precision}: torch has no autocast on {device.type}; use fp32")
    if precision == "bf16-mixed" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise KdbenchError(f"{where} bf16-mixed: this GPU has no bfloat16; use fp16-mixed or fp32")
    with warnings.catch_warnings(record=True) as caught:  # torch warns, and disables, when unsupported
        warnings.simplefilter("always")
        with autocast(precision, device):
            enabled = torch.is_autocast_enabled(device.type)
    if not enabled or any("not supported" in str(warning.message) for warning in caught):
        raise KdbenchError(f"{where} {precision}: torch {torch.__version__} cannot autocast to "
                           f"{DTYPES[precision]} on {device.type}; use fp32")


def precision_overrides(precision: str, track: TrackSpec) -> tuple[Override, ...]:
    """``--precision P`` as the ``--set`` options it stands for: the student recipe's precision
    and, where the track trains teachers, the teacher recipe's."""
    texts = [f"student_recipe.precision={precision}"]
    if track.teacher_recipe is not None:
        texts.append(f"teacher_recipe.precision={precision}")
    return tuple(parse_override(text) for text in texts)
