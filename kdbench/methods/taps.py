"""Intermediate features of a network through forward hooks on named modules.

A model declares ``feature_taps: dict[str, str]`` (tap name to module path). Feature methods (hint,
CRD) read a tap without touching the model's ``forward``: ``FeatureTap.read`` runs the model and
returns its output together with the tapped feature. Outside ``read`` the hook stores nothing, and
it is removed when the tap is garbage-collected, so a cached teacher shared by many runs carries no
features and no hooks of finished runs.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from kdbench.errors import KdbenchError

PENULTIMATE = "penultimate"


def resolve_tap(model: nn.Module, name: str) -> tuple[nn.Module, bool]:
    """The module behind tap ``name`` and whether the feature is its input (else its output).

    ``name`` is a tap the model declares, or a module path. ``"penultimate"``, when the model
    does not declare it, is the input of the model's last ``nn.Linear`` (its classifier).
    """
    taps: dict[str, str] = dict(getattr(model, "feature_taps", None) or {})
    modules = dict(model.named_modules())
    if name in taps:
        if taps[name] not in modules:
            raise KdbenchError(f"{type(model).__name__} declares tap {name!r} as {taps[name]!r}, "
                               "which is not one of its modules")
        return modules[taps[name]], False
    if name == PENULTIMATE:
        linears = [module for module in modules.values() if isinstance(module, nn.Linear)]
        if linears:
            return linears[-1], True
    if name and name in modules:
        return modules[name], False
    known = ", ".join([*taps, *([] if PENULTIMATE in taps else [PENULTIMATE])])
    raise KdbenchError(f"{type(model).__name__} has no feature tap {name!r} (its taps: {known}; "
                       "a module path such as 'layer3' also works)")


class FeatureTap:
    """One tap of one model: ``read(call, *args)`` returns ``(call(*args), feature)``."""

    def __init__(self, model: nn.Module, name: str):
        self.name = name
        self._recording = False
        self._value: Tensor | None = None
        module, from_input = resolve_tap(model, name)
        this = weakref.ref(self)  # the hook must not keep the tap (and its distiller) alive

        def keep(value: Any) -> None:
            tap = this()
            if tap is not None and tap._recording:
                tap._value = value

        if from_input:
            handle = module.register_forward_pre_hook(lambda _module, args: keep(args[0]))
        else:
            handle = module.register_forward_hook(lambda _module, _args, output: keep(output))
        self._finalizer = weakref.finalize(self, handle.remove)

    @contextmanager
    def _recording_on(self) -> Iterator[None]:
        self._recording, self._value = True, None
        try:
            yield
        finally:
            self._recording = False

    def read(self, call: Callable[..., Any], *args: Any) -> tuple[Any, Tensor]:
        """Run ``call(*args)`` (the model, or a function that runs it) and return its result
        with the feature this tap saw during the call."""
        with self._recording_on():
            result = call(*args)
        value, self._value = self._value, None
        if not isinstance(value, Tensor):
            raise RuntimeError(f"feature tap {self.name!r} did not see a tensor during the call")
        return result, value

    def close(self) -> None:
        """Remove the hook now (it is also removed when the tap is garbage-collected)."""
        self._finalizer()


def probe(model: nn.Module, tap: FeatureTap, images: Tensor) -> Tensor:
    """The feature of ``images`` at ``tap``, in eval mode and without gradients, for building
    data-shaped parts; the model's train/eval mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return tap.read(model, images)[1]
    finally:
        model.train(was_training)
