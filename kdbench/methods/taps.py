"""Intermediate features of a network through forward hooks on named modules.

A model declares ``feature_taps: dict[str, str]`` (tap name to module path) and, in its
``model_cfg`` (``kdbench.models.cfg.ModelCfg``), its classifier and the tap that ``hint`` stands
for. Feature methods (hint, CRD) read a tap without touching the model's ``forward``:
``FeatureTap.read`` runs the model and returns its output together with the tapped feature;
``FeatureTaps`` reads several taps in one forward. Outside ``read`` the hook stores nothing, and
it is removed when the tap is garbage-collected, so a cached teacher shared by many runs carries
no features and no hooks of finished runs.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from kdbench.errors import KdbenchError
from kdbench.models.cfg import model_cfg

PENULTIMATE = "penultimate"
HINT = "hint"


def resolve_tap(model: nn.Module, name: str) -> tuple[nn.Module, bool]:
    """The module behind tap ``name`` and whether the feature is its input (else its output).

    ``name`` is a tap the model declares, or a module path. ``"hint"`` is the tap its
    ``model_cfg.hint_tap`` names. ``"penultimate"``, when the model does not declare it, is the
    input of its declared classifier (``model_cfg.classifier``), else of its last ``nn.Linear``.
    """
    taps: dict[str, str] = dict(getattr(model, "feature_taps", None) or {})
    modules = dict(model.named_modules())
    cfg = model_cfg(model)
    if name in taps:
        if taps[name] not in modules:
            raise KdbenchError(f"{type(model).__name__} declares tap {name!r} as {taps[name]!r}, "
                               "which is not one of its modules")
        return modules[taps[name]], False
    if name == HINT and cfg is not None and cfg.hint_tap not in (None, HINT):
        return resolve_tap(model, str(cfg.hint_tap))
    if name == PENULTIMATE:
        if cfg is not None:
            return _declared(model, modules, cfg.classifier), True
        linears = [module for module in modules.values() if isinstance(module, nn.Linear)]
        if linears:
            return linears[-1], True
    if name and name in modules:
        return modules[name], False
    known = ", ".join([*taps, *([] if PENULTIMATE in taps else [PENULTIMATE])])
    if name == HINT:
        raise KdbenchError(f"{type(model).__name__} declares no hint tap (model_cfg.hint_tap); name "
                           f"one of its taps ({known}) or a module path")
    raise KdbenchError(f"{type(model).__name__} has no feature tap {name!r} (its taps: {known}; "
                       "a module path such as 'layer3' also works)")


def _declared(model: nn.Module, modules: dict[str, nn.Module], path: str) -> nn.Module:
    """The module at ``path``, which the model's ``model_cfg`` names as its classifier."""
    if path not in modules:
        raise KdbenchError(f"{type(model).__name__} declares its classifier as {path!r} "
                           "(model_cfg.classifier), which is not one of its modules")
    return modules[path]


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

    def _take(self) -> Tensor:
        """The feature seen during the last recording, forgotten here."""
        value, self._value = self._value, None
        if not isinstance(value, Tensor):
            raise RuntimeError(f"feature tap {self.name!r} did not see a tensor during the call")
        return value

    def read(self, call: Callable[..., Any], *args: Any) -> tuple[Any, Tensor]:
        """Run ``call(*args)`` (the model, or a function that runs it) and return its result
        with the feature this tap saw during the call."""
        with self._recording_on():
            result = call(*args)
        return result, self._take()

    def close(self) -> None:
        """Remove the hook now (it is also removed when the tap is garbage-collected)."""
        self._finalizer()


class FeatureTaps:
    """Several taps of one model read in one forward: ``read(call, *args)`` returns
    ``(call(*args), {name: feature})``, the features in the order of ``names``."""

    def __init__(self, model: nn.Module, names: Iterable[str]):
        self.taps = {name: FeatureTap(model, name) for name in names}

    def read(self, call: Callable[..., Any], *args: Any) -> tuple[Any, dict[str, Tensor]]:
        with ExitStack() as stack:
            for tap in self.taps.values():
                stack.enter_context(tap._recording_on())
            result = call(*args)
        return result, {name: tap._take() for name, tap in self.taps.items()}

    def close(self) -> None:
        """Remove every hook now."""
        for tap in self.taps.values():
            tap.close()


def tap_names(model: nn.Module) -> list[str]:
    """The taps ``model`` offers: those it declares, then ``penultimate`` when it is implicit
    (the input of the declared classifier, else of the last ``nn.Linear``); ``hint``, an alias of
    a declared tap, is not listed."""
    names = list(getattr(model, "feature_taps", None) or {})
    implicit = model_cfg(model) is not None or any(isinstance(m, nn.Linear) for m in model.modules())
    if PENULTIMATE not in names and implicit:
        names.append(PENULTIMATE)
    return names


def tap_path(model: nn.Module, name: str) -> str:
    """Where tap ``name`` reads: its module's path, ``input of <path>`` for an input feature."""
    module, from_input = resolve_tap(model, name)
    path = next(path for path, candidate in model.named_modules() if candidate is module)
    return f"input of {path or '<model>'}" if from_input else path or "<model>"


@contextmanager
def _inference(model: nn.Module) -> Iterator[None]:
    """Eval mode without gradients; the model's train/eval mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def probe(model: nn.Module, tap: FeatureTap, images: Tensor) -> Tensor:
    """The feature of ``images`` at ``tap``, in eval mode and without gradients, for building
    data-shaped parts; the model's train/eval mode is restored afterwards."""
    with _inference(model):
        return tap.read(model, images)[1]


def probe_all(model: nn.Module, names: Iterable[str], images: Tensor) -> dict[str, Tensor]:
    """The features of ``images`` at every tap in ``names`` from one forward, like ``probe``;
    the hooks are removed afterwards."""
    taps = FeatureTaps(model, names)
    try:
        with _inference(model):
            return taps.read(model, images)[1]
    finally:
        taps.close()
