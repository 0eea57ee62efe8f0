"""What a built model declares about its own layout, as data: timm's ``pretrained_cfg`` style.

A model carries ``model_cfg = ModelCfg(...)`` (a class attribute, or set on the instance when the
layout depends on the architecture) next to its ``feature_taps``. kdbench reads the classifier from
it (to replace a pretrained head, to tap the features that feed it) and the default tap of FitNets'
hint, instead of guessing them by scanning the modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class ModelCfg:
    """``classifier``: module path of the layer that outputs the logits (timm's
    ``pretrained_cfg['classifier']``). ``hint_tap``: the feature tap FitNets' ``hint`` reads by
    default, the middle stage's output (RepDistiller's and mdistiller's ``hint_layer`` 2); None when
    the model has no such stage. ``stage_taps``: the taps of its stages after the stem, which AT,
    NST and VID read by default (RepDistiller's ``feat[1:-1]``); None: every tap that gives a map."""

    classifier: str
    hint_tap: str | None = None
    stage_taps: tuple[str, ...] | None = None


def model_cfg(model: nn.Module) -> ModelCfg | None:
    """The ``ModelCfg`` that ``model`` declares, or None when it declares none."""
    cfg = getattr(model, "model_cfg", None)
    return cfg if isinstance(cfg, ModelCfg) else None
