"""The teacher's logits of a whole split, computed once and shared by every student, method and
seed of that teacher, across processes.

A split's logits live in ``<cache>/teachers/<member>/logits/<split>-<key>.safetensors``, in the
folder of the teacher's (first) network, with a key of their own for an ensemble or an early stop:
one float32 tensor ``logits`` (N, classes; a view bank's ``train-views`` file: N, views, classes),
and in its metadata the key it was made for, the sha256 of the teacher's weights and the sha256
of the tensor's bytes. A file that does not load or does not match all of them is moved aside
with a one-line warning and made again; a lock per file lets one process make it while the others
wait. The training step reads them through ``LogitsTable`` when ``can_serve`` allows, through a
``ViewBank`` on augmented data when the plan asks for one; otherwise the teacher runs live.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import safetensors
import safetensors.torch
import torch
from torch import Tensor

from kdbench.data import Batch
from kdbench.data.augment import view_count
from kdbench.data.split import Split
from kdbench.data.tensors import ImageTensors
from kdbench.engine.evaluate import predict
from kdbench.engine.view_bank import make_bank
from kdbench.execution.locks import held
from kdbench.fileio import move_aside, write_bytes_atomic
from kdbench.methods import Distiller
from kdbench.specs import Recipe

if TYPE_CHECKING:
    from kdbench.teachers import Teacher

FORMAT = "kdbench-teacher-logits/1"


@dataclass(frozen=True)
class LogitsTable:
    """The teacher's logits of every example of the training split, served by ``batch.index``:
    the ``Distiller.teacher_source`` that stands in for the live teacher."""

    logits: Tensor

    def __call__(self, batch: Batch) -> Tensor:
        return self.logits[batch.index]


def can_serve(distiller: Distiller[Any], recipe: Recipe) -> bool:
    """Whether the teacher's outputs can come from a table: the method reads only its logits
    (``teacher_outputs``), the training data are not augmented (every epoch shows the teacher the
    same images), and no hook watches the teacher (a feature tap would then see nothing)."""
    teacher = distiller.teacher
    if teacher is None or type(distiller).teacher_outputs != "logits" or recipe.augment:
        return False
    return not any(module._forward_hooks or module._forward_pre_hooks for module in teacher.modules())


def tensor_sha256(tensor: Tensor) -> str:
    return hashlib.sha256(tensor.contiguous().numpy().tobytes()).hexdigest()


class LogitsCache:
    """Teachers' logits of whole splits: in files under ``<cache>/teachers``, and in memory for
    the teacher of the latest call (a sweep takes its runs teacher by teacher)."""

    def __init__(self, cache: Path, device: torch.device):
        self.cache, self.device = Path(cache), device
        self._memo: dict[tuple[str, str], Tensor] = {}
        self._teacher_id: str | None = None

    def path(self, member: str, split: str, key: str) -> Path:
        return self.cache / "teachers" / member / "logits" / f"{split}-{key[:16]}.safetensors"

    def get(self, teacher: Teacher, member: str, split: str, data: Split, identity: dict[str, Any],
            batch_size: int) -> Tensor:
        """Float32 logits (N, classes), on the CPU, of ``teacher`` on ``data`` (split ``split``,
        made as ``identity`` says: data set, subset, normalization, limit, code), predicted in
        batches of ``batch_size``; made (and written into the folder of network ``member``) only
        when no intact file has them."""
        return self._cached(teacher, member, split, {"batch_size": batch_size, **identity},
                            (len(data), data.num_classes),
                            lambda: predict(teacher.model, data, batch_size, self.device))

    def views(self, teacher: Teacher, member: str, data: ImageTensors, identity: dict[str, Any],
              recipe: Recipe, batch_size: int) -> Tensor:
        """Float32 logits (N, views, classes), on the CPU, of ``teacher`` on every view of the
        training split ``data`` under ``recipe``'s augmentation: its view bank, made only when no
        intact file has it."""
        augment = {"augment": list(recipe.augment), "crop_padding": recipe.crop_padding}
        shape = (len(data), view_count(recipe.augment, recipe.crop_padding), data.num_classes)
        return self._cached(teacher, member, "train-views", {"batch_size": batch_size, **augment, **identity},
                            shape, lambda: make_bank(teacher.model, data, recipe, batch_size, self.device))

    def _cached(self, teacher: Teacher, member: str, split: str, identity: dict[str, Any],
                shape: tuple[int, ...], make: Callable[[], Tensor]) -> Tensor:
        key = hashlib.sha256(json.dumps({"teacher": teacher.teacher_id, "split": split, **identity},
                                        sort_keys=True).encode()).hexdigest()
        if teacher.teacher_id != self._teacher_id:
            self._memo.clear()
            self._teacher_id = teacher.teacher_id
        memo = (key, teacher.sha256)
        if memo not in self._memo:
            path = self.path(member, split, key)
            with held(self.cache, "logits", key[:32]):
                logits = read(path, key, teacher.sha256, shape)
                if logits is None:
                    logits = make()
                    write(path, key, teacher.sha256, logits)
            self._memo[memo] = logits
        return self._memo[memo]


def write(path: Path, key: str, teacher_sha256: str, logits: Tensor) -> None:
    """Write ``logits`` (float32, CPU) to ``path`` atomically, with what ``read`` checks."""
    logits = logits.contiguous()
    metadata = {"format": FORMAT, "key": key, "teacher_sha256": teacher_sha256,
                "sha256": tensor_sha256(logits)}
    write_bytes_atomic(path, safetensors.torch.save({"logits": logits}, metadata=metadata))


def read(path: Path, key: str, teacher_sha256: str, shape: tuple[int, ...]) -> Tensor | None:
    """The logits in ``path`` when it holds exactly what ``write`` wrote for ``key`` and these
    teacher weights, of ``shape``; else None, after moving a file that is there aside."""
    if not path.exists():
        return None
    try:
        logits = _checked(path, key, teacher_sha256, shape)
    except Exception as error:  # truncated, garbage, forged, stale: every way a file can be bad
        problem = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        move_aside(path, problem)
        return None
    return logits


def _checked(path: Path, key: str, teacher_sha256: str, shape: tuple[int, ...]) -> Tensor:
    with safetensors.safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
        names = list(handle.keys())
        if names != ["logits"]:
            raise ValueError(f"it holds {names}, not one tensor 'logits'")
        logits = handle.get_tensor("logits")
    for field, expected in (("format", FORMAT), ("key", key), ("teacher_sha256", teacher_sha256)):
        if metadata.get(field) != expected:
            raise ValueError(f"its {field} is not {expected[:16]}")
    if logits.dtype != torch.float32 or tuple(logits.shape) != shape:
        raise ValueError(f"it holds {logits.dtype} {tuple(logits.shape)}, not float32 {shape}")
    if tensor_sha256(logits) != metadata.get("sha256"):
        raise ValueError("its logits do not match the sha256 it records")
    if not bool(torch.isfinite(logits).all()):
        raise ValueError("its logits are not all finite")
    return logits
