"""What the factory of each kind of plugin thing is called with and returns, as typing Protocols.

``MethodInfo.factory``, ``ModelInfo.factory`` and ``DatasetInfo.factory`` follow these; a class
(``KD``) or a function (``build_wrn``) fits, since only the call matters.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch
    from torch import nn

    from kdbench.data.split import Split
    from kdbench.loggers.base import LoggedRun, Logger
    from kdbench.methods.base import Distiller


class MethodFactory(Protocol):
    """``factory(student, teacher, params)``: a ``Distiller``; ``teacher`` is None when the
    method's ``needs_teacher`` is false, ``params`` an instance of its ``Params``."""

    def __call__(self, student: nn.Module, teacher: nn.Module | None, params: Any, /) -> Distiller[Any]: ...


class ModelFactory(Protocol):
    """``factory(name, params, in_channels=, image_size=, num_classes=)``: an ``nn.Module`` whose
    forward maps normalized images (N, in_channels, image_size, image_size) to logits (N, num_classes)."""

    def __call__(self, name: str, params: Any, /, *, in_channels: int, image_size: int,
                 num_classes: int) -> nn.Module: ...


class DatasetFactory(Protocol):
    """``factory(params, split, root=, download=)``: the split (``"train"`` or ``"test"``) as a
    ``Split`` (``ImageTensors`` in memory), reading files under ``root``."""

    def __call__(self, params: Any, split: str, /, *, root: Path, download: bool = False) -> Split: ...


class LoggerFactory(Protocol):
    """``factory(params, run)``: a ``Logger`` for one trained network."""

    def __call__(self, params: Any, run: LoggedRun, /) -> Logger: ...


class ProbeFactory(Protocol):
    """``factory(student, teacher, reference, split, params, device=, generator=)``: the probe's
    named numbers on ``split``; ``reference`` is a student of the same architecture trained without
    the teacher (None unless the probe's ``needs_reference``)."""

    def __call__(self, student: nn.Module, teacher: nn.Module, reference: nn.Module | None,
                 split: Split, params: Any, /, *, device: torch.device,
                 generator: torch.Generator) -> dict[str, float | None]: ...
