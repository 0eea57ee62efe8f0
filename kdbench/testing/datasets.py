"""``check_dataset``: the invariants every data set keeps, on each of its splits as installed.

split (a ``Split``: int64 labels in range, a bool ``label_mask``, a channel mean and std each,
more than one class), batches (normalized float images of the split's shape, finite, with the
labels, mask and index of the examples they hold; an epoch's order fixed by its generator) and
deterministic (loading again gives the same labels and images).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from kdbench.data.split import Split
from kdbench.messages import one_line
from kdbench.plugins import PluginManager, get_plugin_manager
from kdbench.testing.contract import ContractError, finite


def _check_split(data: Split, fail: Any) -> None:
    n = len(data)
    if n < 1:
        raise fail("split", "the split is empty")
    if data.labels.dtype != torch.int64 or tuple(data.labels.shape) != (n,):
        raise fail("split", f"labels are {data.labels.dtype} {tuple(data.labels.shape)}, not int64 ({n},)")
    if data.label_mask.dtype != torch.bool or tuple(data.label_mask.shape) != (n,):
        raise fail("split", f"label_mask is {data.label_mask.dtype} {tuple(data.label_mask.shape)}, "
                            f"not bool ({n},)")
    known = data.labels[data.label_mask]
    if data.num_classes < 2 or bool(((known < 0) | (known >= data.num_classes)).any()):
        raise fail("split", f"labels must lie in 0..{data.num_classes - 1}, with 2 classes or more")
    if len(data.mean) != data.in_channels or len(data.std) != data.in_channels or min(data.std) <= 0:
        raise fail("split", f"mean and std must hold one value per channel ({data.in_channels}), std above 0")


def _check_batches(data: Split, fail: Any) -> None:
    shape = (data.in_channels, data.image_size, data.image_size)
    batch = next(data.eval_batches(8))
    if batch.images.dtype != torch.float32 or tuple(batch.images.shape[1:]) != shape:
        raise fail("batches", f"images are {batch.images.dtype} {tuple(batch.images.shape)}, not float32 "
                              f"(N, {', '.join(map(str, shape))})")
    if not finite(batch.images):
        raise fail("batches", "the images are not finite")
    if not (torch.equal(batch.labels, data.labels[batch.index])
            and torch.equal(batch.label_mask, data.label_mask[batch.index])):
        raise fail("batches", "a batch's labels or label_mask are not those of its index")
    orders = [torch.cat([b.index for b in data.train_batches(8, torch.Generator().manual_seed(0))])
              for _ in range(2)]
    if not torch.equal(orders[0], orders[1]):
        raise fail("batches", "two epochs with the same generator seed visit the examples in another order")


def check_dataset(name: str, params: Mapping[str, Any] | None = None, *, root: Path | str,
                  splits: tuple[str, ...] | None = None, pm: PluginManager | None = None) -> None:
    """Check the installed data set ``name`` with ``params``, reading its files under ``root``
    (the ``--data-dir``), on each of ``splits`` (default: all it declares)."""
    pm = pm or get_plugin_manager()
    info = pm.datasets.get(name)

    def fail(check: str, problem: str) -> ContractError:
        return ContractError("check_dataset", name, check, problem)

    for split in splits or info.splits:
        def check(what: str, split: str = split) -> str:
            return f"{what}[{split}]"

        try:
            validated = info.Params.model_validate(dict(params or {}))
            first, second = (info.factory(validated, split, root=Path(root), download=False)
                             for _ in range(2))
            _check_split(first, lambda what, problem: fail(check(what), problem))
            _check_batches(first, lambda what, problem: fail(check(what), problem))
        except ContractError:
            raise
        except Exception as error:
            raise fail(check("load"), f"raised {one_line(error)}") from error
        if not (torch.equal(first.labels, second.labels)
                and torch.equal(next(first.eval_batches(8)).images, next(second.eval_batches(8)).images)):
            raise fail(check("deterministic"), "loading the split again gives other labels or images")
