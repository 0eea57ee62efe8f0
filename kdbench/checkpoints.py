"""Teacher weights read from a checkpoint file instead of trained (a track's ``checkpoint``).

The file's sha256 is checked before a byte of it is parsed. A ``kdbench`` file is safetensors
(kdbench's own names, as ``<cache>/teachers/<id>/model.safetensors``); a ``repdistiller`` file is a
``torch.save`` dict with the state dict under ``"model"`` (RepDistiller's train_teacher.py), read
with ``torch.load(weights_only=True)``: tensors and plain containers only, never code (its final
checkpoint's ``opt``, an ``argparse.Namespace`` of options, is allowed as data). The weights must
then fit the model exactly: the first key that is missing, unexpected, of another shape or not
finite is a one-line error.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn

from kdbench.errors import KdbenchError
from kdbench.fileio import sha256_file
from kdbench.plugins import PluginManager
from kdbench.repdistiller import to_kdbench
from kdbench.specs import Checkpoint, Ref

OPTIONAL = ("num_batches_tracked",)
"""Buffers a checkpoint may lack (batch norm's step count, unused in eval mode)."""


def resolve_path(text: str, folder: Path | None) -> Path:
    """A checkpoint's ``path``: ``~`` and ``$VARS`` expanded, a relative one against ``folder``."""
    expanded = os.path.expandvars(os.path.expanduser(text))
    unset = re.search(r"\$\{?(\w+)", expanded)
    if unset:
        raise KdbenchError(f"the environment variable {unset.group(1)} in {text!r} is not set")
    path = Path(expanded)
    return path if path.is_absolute() or folder is None else folder / path


def check_sha256(path: Path, expected: str) -> None:
    """The file is there and its sha256 is ``expected``; else a one-line error."""
    if not path.is_file():
        raise KdbenchError(f"checkpoint {path}: no such file")
    try:
        actual = sha256_file(path)
    except OSError as error:
        raise KdbenchError(f"checkpoint {path}: cannot be read ({error.strerror})") from None
    if actual != expected:
        raise KdbenchError(f"checkpoint {path}: its sha256 is {actual}, the track expects {expected}")


def read_state(path: Path, fmt: str) -> dict[str, Tensor]:
    """The state dict in the file, as its format stores it (names not yet mapped)."""
    if fmt == "kdbench":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as error:
            raise KdbenchError(f"checkpoint {path}: not a safetensors file (format kdbench): "
                               f"{_first_line(error)}") from None
    content = _torch_load(path)
    if not isinstance(content, dict) or not isinstance(content.get("model"), dict):
        what = f"a dict with keys {', '.join(map(str, list(content)[:6]))}" \
            if isinstance(content, dict) else f"a {type(content).__name__}"
        raise KdbenchError(f"checkpoint {path}: format repdistiller keeps the state dict under "
                           f"'model', but the file holds {what}")
    state: dict[str, Any] = content["model"]
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise KdbenchError(f"checkpoint {path}: model[{key!r}] is a {type(value).__name__}, "
                               "not a tensor")
    return state


def _torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)`` on the CPU: a file that would unpickle anything but
    tensors, plain containers and numbers is refused, never run."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        if found:
            raise KdbenchError(f"checkpoint {path}: refused, it holds a pickled {found.group(1)}, "
                               "not tensors; kdbench reads checkpoints with torch.load("
                               "weights_only=True) and never unpickles code") from None
        raise KdbenchError(f"checkpoint {path}: not a torch.save file (format repdistiller): "
                           f"{_unpickler_reason(error)}") from None
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile) as error:
        raise KdbenchError(f"checkpoint {path}: not a torch.save file (format repdistiller): "
                           f"{_first_line(error)}") from None


def _unpickler_reason(error: BaseException) -> str:
    """The line of torch's weights-only error that says what it met, without its advice."""
    advice = ("Weights only load failed", "Please file an issue", "Check the documentation")
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return next((line for line in lines if not line.startswith(advice)), _first_line(error))


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def fitted(state: dict[str, Tensor], model: nn.Module, where: str,
           origin: dict[str, str] | None = None) -> dict[str, Tensor]:
    """``state`` checked against ``model``'s own: every key present (batch norm step counts may
    be missing), none unexpected, same shapes, finite values; floats cast to the model's dtype."""
    own = model.state_dict()
    named = origin or {}

    def name(key: str) -> str:
        return f"{key!r} (RepDistiller's {named[key]!r})" if key in named and named[key] != key \
            else repr(key)

    result: dict[str, Tensor] = {}
    for key, value in state.items():
        if key not in own:
            raise KdbenchError(f"{where}: unexpected key {name(key)}, which the model does not have")
        if tuple(value.shape) != tuple(own[key].shape):
            raise KdbenchError(f"{where}: {name(key)} has shape {_shape(value)} in the file, "
                               f"{_shape(own[key])} in the model")
        if value.is_floating_point() != own[key].is_floating_point():
            raise KdbenchError(f"{where}: {name(key)} is {value.dtype} in the file, "
                               f"{own[key].dtype} in the model")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise KdbenchError(f"{where}: {name(key)} holds NaN or infinite values")
        result[key] = value.to(own[key].dtype)
    for key, value in own.items():
        if key not in result:
            if not key.endswith(OPTIONAL):
                raise KdbenchError(f"{where}: the file has no {key!r}, which the model needs")
            result[key] = value
    return result


def _shape(tensor: Tensor) -> str:
    return "x".join(map(str, tensor.shape)) or "scalar"


def family(pm: PluginManager, ref: Ref) -> str:
    """The model family (``wrn``, ``vgg``, ...) that provides ``ref``."""
    return pm.models.get(ref.name).name


def load_weights(checkpoint: Checkpoint, model: nn.Module, pm: PluginManager, ref: Ref) -> None:
    """Load the checkpoint file into ``model`` (built from ``ref``): sha256 first, then the
    file, its names mapped to kdbench's, checked against the model; one-line errors."""
    if checkpoint.path is None:
        raise KdbenchError(f"the checkpoint {checkpoint.sha256[:12]} of teacher {ref.signature()} "
                           "has no path here")
    path = Path(checkpoint.path)
    check_sha256(path, checkpoint.sha256)
    state, origin = read_state(path, checkpoint.format), None
    if checkpoint.format == "repdistiller":
        try:
            state, origin = to_kdbench(family(pm, ref), _without_module_prefix(state))
        except KdbenchError as error:
            raise KdbenchError(f"checkpoint {path}: {error}") from None
    model.load_state_dict(fitted(state, model, f"checkpoint {path} for {ref.signature()}", origin))


def _without_module_prefix(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A state dict saved from ``nn.DataParallel`` has every key under ``module.``."""
    if state and all(key.startswith("module.") for key in state):
        return {key.removeprefix("module."): value for key, value in state.items()}
    return state
