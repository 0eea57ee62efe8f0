"""``check_model``: the invariants every model family keeps, on a small batch of random images.

forward (logits (N, num_classes), finite, finite gradients that reach the parameters),
deterministic (the same seed builds the same weights), state-dict (a model built with another seed
that loads the state dict computes the same logits) and taps (every feature tap the model offers
resolves to a module and gives a finite (N, ...) feature in one forward).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kdbench.messages import one_line
from kdbench.methods.taps import probe_all, tap_names
from kdbench.plugins import PluginManager, get_plugin_manager
from kdbench.testing.contract import ContractError, finite, same

T = TypeVar("T")


def check_model(name: str, params: Mapping[str, Any] | None = None, *, in_channels: int = 3,
                image_size: int = 32, num_classes: int = 10, pm: PluginManager | None = None,
                seed: int = 0) -> None:
    """Check the installed model ``name`` (a full name such as ``wrn-16-2``) with ``params`` for
    images of ``in_channels`` x ``image_size`` x ``image_size`` and ``num_classes`` classes."""
    pm = pm or get_plugin_manager()
    info = pm.models.get(name)

    def attempt(check: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except ContractError:
            raise
        except Exception as error:
            raise ContractError("check_model", name, check, f"raised {one_line(error)}") from error

    def fail(check: str, problem: str) -> ContractError:
        return ContractError("check_model", name, check, problem)

    validated = attempt("params", lambda: info.Params.model_validate(dict(params or {})))
    if info.check is not None:
        attempt("params", lambda: info.check(name, validated))  # type: ignore[misc]

    def build(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        model = info.factory(name, validated, in_channels=in_channels, image_size=image_size,
                             num_classes=num_classes)
        if not isinstance(model, nn.Module):
            raise fail("forward", f"the factory returned {type(model).__name__}, not an nn.Module")
        return model

    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(4, in_channels, image_size, image_size, generator=generator)
    model = attempt("forward", lambda: build(seed))
    logits = attempt("forward", lambda: model.train()(images))
    if not isinstance(logits, Tensor) or tuple(logits.shape) != (4, num_classes):
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise fail("forward", f"logits of 4 images are {shape}, not (4, {num_classes})")
    if not finite(logits):
        raise fail("forward", "the logits are not finite")
    F.cross_entropy(logits, torch.arange(4) % num_classes).backward()
    grads = {key: p.grad for key, p in model.named_parameters() if p.grad is not None}
    if not grads or not any(grad.abs().sum() > 0 for grad in grads.values()):
        raise fail("forward", "no parameter gets a gradient")
    bad = sorted(key for key, grad in grads.items() if not finite(grad))
    if bad:
        raise fail("forward", f"the gradient of {bad[0]!r} is not finite")

    def outputs(model: nn.Module) -> Tensor:
        with torch.no_grad():
            return model.eval()(images)

    again = attempt("deterministic", lambda: build(seed))
    first = attempt("deterministic", lambda: build(seed))
    if not same(outputs(first), outputs(again)):
        raise fail("deterministic", "two models built with the same seed compute different logits")
    other = attempt("state-dict", lambda: build(seed + 1))
    attempt("state-dict", lambda: other.load_state_dict(first.state_dict()))
    if not same(outputs(first), outputs(other)):
        raise fail("state-dict", "a model that loads another's state dict computes different logits")

    names = tap_names(first)
    features = attempt("taps", lambda: probe_all(first, names, images))
    for tap, feature in features.items():
        if feature.ndim < 2 or len(feature) != 4 or not finite(feature):
            raise fail("taps", f"tap {tap!r} gives a feature of shape {tuple(feature.shape)}, not a finite "
                               "(4, ...) tensor for 4 images")
