"""One training step of a distiller, the one ``fit`` and ``kdbench bench`` both run: memory format,
autocast, the gradient scaler and, optionally, ``torch.compile``.

``EngineOptions`` change how a step runs, not what it computes (beyond float error), so they are
not part of run ids; a recipe's ``precision`` changes results and is.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from kdbench.data import Batch
from kdbench.engine.precision import autocast, check_precision, grad_scaler
from kdbench.errors import KdbenchError
from kdbench.methods import Distiller

MemoryFormat = Literal["auto", "channels_last", "contiguous"]
MEMORY_FORMATS: tuple[str, ...] = ("auto", "channels_last", "contiguous")
ViewBankChoice = Literal["auto", "on", "off"]
VIEW_BANK_CHOICES: tuple[str, ...] = ("auto", "on", "off")
COMPILERS = ("g++", "c++", "clang++")


@dataclass(frozen=True)
class EngineOptions:
    """``memory_format``: ``auto`` is channels_last for conv nets (measured faster on CPU as on
    CUDA; see benchmarks/README.md), contiguous for the rest. ``compile``: a torch.compile
    backend (``inductor``, ``aot_eager``, ``eager``), or None to run eagerly. ``view_bank``: serve
    a logits method's teacher on augmented data from a view bank (``kdbench.engine.view_bank``)
    when the sweep's runs of that teacher pay for it (``auto``), whenever one can (``on``), never."""

    memory_format: MemoryFormat = "auto"
    compile: str | None = None
    view_bank: ViewBankChoice = "auto"


DEFAULT_OPTIONS = EngineOptions()


def memory_format_for(model: nn.Module, choice: str = "auto") -> torch.memory_format:
    """The layout of ``model``'s 4-d tensors and of its input images under ``choice``."""
    if choice == "channels_last":
        return torch.channels_last
    if choice == "contiguous":
        return torch.contiguous_format
    convolutional = any(isinstance(module, nn.Conv2d) for module in model.modules())
    return torch.channels_last if convolutional else torch.contiguous_format


def check_options(options: EngineOptions, precision: str, device: torch.device) -> None:
    """A one-line ``KdbenchError`` for options this machine cannot run, before anything trains."""
    check_precision(precision, device)
    if options.memory_format not in MEMORY_FORMATS:
        raise KdbenchError(f"memory format {options.memory_format!r}: use {', '.join(MEMORY_FORMATS)}")
    if options.view_bank not in VIEW_BANK_CHOICES:
        raise KdbenchError(f"view bank {options.view_bank!r}: use {', '.join(VIEW_BANK_CHOICES)}")
    backend = options.compile
    if backend is None:
        return
    if not torch._dynamo.is_dynamo_supported():
        raise KdbenchError(f"--compile: torch.compile does not support this Python "
                           f"({torch.__version__}); run without --compile")
    if backend not in torch._dynamo.list_backends(exclude_tags=()):
        raise KdbenchError(f"--compile {backend}: not a torch.compile backend; use one of "
                           f"{', '.join(torch._dynamo.list_backends())}, aot_eager or eager")
    if backend == "inductor" and device.type == "cpu" and not any(map(shutil.which, COMPILERS)):
        raise KdbenchError("--compile: inductor on CPU needs a C++ compiler (g++ or clang++) and "
                           "none is on PATH; install one, or use --compile aot_eager")


@contextmanager
def laid_out(model: nn.Module, memory_format: torch.memory_format) -> Iterator[None]:
    """``model`` in ``memory_format`` inside, contiguous again after (what safetensors saves)."""
    if memory_format is torch.contiguous_format:
        yield
        return
    model.to(memory_format=memory_format)
    try:
        yield
    finally:
        model.to(memory_format=torch.contiguous_format)


def compiled(distiller: Distiller, backend: str) -> Callable[[Batch, int], dict[str, Tensor]]:
    """``distiller`` through ``torch.compile``, with no code compiled for an earlier step. The
    runs of a process share their teacher, and dynamo does not guard on module hooks
    (``skip_nnmodule_hook_guards``): code compiled for one run would call that run's hooks (its
    feature taps, its teacher counter) instead of the next run's."""
    torch._dynamo.reset()
    return torch.compile(distiller, backend=backend)


class TrainStep:
    """Forward under autocast, backward through the gradient scaler, optimizer step; returns the
    method's named loss terms. Build it after the optimizer, on the device it trains on."""

    def __init__(self, distiller: Distiller, optimizer: torch.optim.Optimizer, precision: str,
                 device: torch.device, options: EngineOptions = DEFAULT_OPTIONS):
        self.distiller, self.optimizer, self.precision, self.device = distiller, optimizer, precision, device
        self.memory_format = memory_format_for(distiller, options.memory_format)
        self.scaler = grad_scaler(precision, device)
        self.forward: Callable[[Batch, int], dict[str, Tensor]] = distiller
        if options.compile is not None:
            self.forward = compiled(distiller, options.compile)

    def __call__(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        if self.memory_format is not torch.contiguous_format:
            batch = batch._replace(images=batch.images.contiguous(memory_format=self.memory_format))
        with autocast(self.precision, self.device):
            terms = self.forward(batch, epoch)
            loss: Tensor = sum(terms.values())  # type: ignore[assignment]  # a method returns terms
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return terms

    def layout(self) -> AbstractContextManager[None]:
        """The distiller in the step's memory format inside, contiguous again after (what
        safetensors saves)."""
        return laid_out(self.distiller, self.memory_format)
