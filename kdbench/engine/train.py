"""The training loop shared by teachers and students: one ``Distiller``, one recipe, one seed.

Each epoch's state is checkpointed (when a path is given), so an interrupted run resumes from its
last finished epoch with the same batches and learning rates it would have had. A checkpoint that
cannot be read or does not fit is moved aside (``<name>.corrupt``) and training starts over.
"""

from __future__ import annotations

import copy
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from kdbench.cost import TeacherForwards
from kdbench.data.split import Split
from kdbench.engine.distributed import Group, Replica
from kdbench.engine.evaluate import predict
from kdbench.engine.metrics import accuracy
from kdbench.engine.optim import lr_at, make_optimizer, set_lr
from kdbench.engine.precision import autocast
from kdbench.engine.step import DEFAULT_OPTIONS, EngineOptions, TrainStep
from kdbench.fileio import move_aside, write_bytes_atomic
from kdbench.methods import Distiller
from kdbench.specs import Recipe

EpochCallback = Callable[[int, dict[str, Any]], None]


def _resume(checkpoint: Path, distiller: Distiller, optimizer: torch.optim.Optimizer,
            generator: torch.Generator, device: torch.device,
            scaler: torch.amp.GradScaler | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Load ``checkpoint`` into the three; the next epoch and the history so far. Raises (and
    leaves the three as they were) when the file is unreadable or does not fit."""
    state = torch.load(checkpoint, map_location=device, weights_only=True)
    if not isinstance(state, dict) or not isinstance(state.get("epoch"), int) \
            or not isinstance(state.get("history"), list) or len(state["history"]) != state["epoch"] + 1:
        raise ValueError("not a kdbench checkpoint")
    before = copy.deepcopy((distiller.state_dict(), optimizer.state_dict(), generator.get_state()))
    try:
        missing, unexpected = distiller.load_state_dict(state["model"], strict=False)
        if unexpected or any(not key.startswith("teacher.") for key in missing):
            raise ValueError("missing or unexpected keys")
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
    except Exception as error:
        distiller.load_state_dict(before[0])
        optimizer.load_state_dict(before[1])
        generator.set_state(before[2])
        raise ValueError("it does not fit the model") from error
    return state["epoch"] + 1, state["history"]


def _save(checkpoint: Path, epoch: int, distiller: Distiller, optimizer: torch.optim.Optimizer,
          generator: torch.Generator, history: list[dict[str, Any]],
          scaler: torch.amp.GradScaler | None = None) -> None:
    buffer = io.BytesIO()  # serialised first, so that a full disk is an OSError of the write
    state = {"epoch": epoch, "model": distiller.student_state_dict(),
             "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
             "history": history}
    if scaler is not None and scaler.is_enabled():  # fp16: the loss scale it has reached
        state["scaler"] = scaler.state_dict()
    torch.save(state, buffer)
    write_bytes_atomic(checkpoint, buffer.getvalue())


def _start(checkpoint: Path | None, distiller: Distiller, optimizer: torch.optim.Optimizer,
           generator: torch.Generator, device: torch.device,
           scaler: torch.amp.GradScaler | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Where training starts: after the checkpoint's epoch, or at 0 when there is none or when it
    is unreadable (then it is moved aside with a warning)."""
    if checkpoint is None or not checkpoint.exists():
        return 0, []
    try:
        return _resume(checkpoint, distiller, optimizer, generator, device, scaler)
    except Exception as error:  # truncated, garbage, another model's: every way a file can be bad
        problem = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        move_aside(checkpoint, problem)
        return 0, []


def fit(distiller: Distiller, train: Split, recipe: Recipe, seed: int,
        device: torch.device, test: Split | None = None, checkpoint: Path | None = None,
        on_epoch: EpochCallback | None = None,
        before_checkpoint: Callable[[int], None] | None = None,
        group: Group | None = None,
        options: EngineOptions = DEFAULT_OPTIONS) -> list[dict[str, Any]]:
    """Train ``distiller`` for ``recipe.epochs``; return the per-epoch history.

    ``before_checkpoint(epoch)`` runs after each epoch and before its checkpoint, to save what a
    resumed run could not make again (a teacher's snapshot of that epoch); ``on_epoch`` runs after.
    With a ``group`` (torchrun), every rank trains on its shard of each batch under DDP and only
    rank 0 saves checkpoints (see ``kdbench.engine.distributed``).
    ``options`` say how steps run (memory format, compile); ``recipe.precision`` what they compute.
    """
    data = train.to(device)
    distiller.to(device)
    distiller.prepare(data)
    distiller.to(device)
    optimizer = make_optimizer(distiller.trainable_parameters(), recipe)
    generator = torch.Generator().manual_seed(seed)
    step = TrainStep(distiller, optimizer, recipe.precision, device, options)
    start, history = _start(checkpoint, distiller, optimizer, generator, device, step.scaler)
    forwards = TeacherForwards(distiller.teacher, options.compile is not None)  # what each epoch ran it on
    if group is not None:  # each rank trains on its shard; DDP averages the gradients
        step.forward = Replica(distiller, group, device)
    for epoch in range(start, recipe.epochs):
        torch.manual_seed(seed * 100_003 + epoch)  # dropout and the like, repeatable on resume
        set_lr(optimizer, lr_at(recipe, epoch))
        distiller.train()
        sums: dict[str, torch.Tensor] = {}
        seen, began = 0, time.perf_counter()
        with step.layout():
            for batch in data.train_batches(recipe.batch_size, generator, recipe.augment,
                                            recipe.crop_padding):
                terms = step(batch, epoch)
                for name, value in terms.items():
                    sums[name] = sums.get(name, 0.0) + value.detach().float() * len(batch.labels)
                seen += len(batch.labels)
        bad = sorted(name for name, total in sums.items() if not bool(torch.isfinite(total)))
        if bad:
            raise FloatingPointError(f"loss term {bad[0]!r} is not finite in epoch {epoch}; the "
                                     "run diverged (try a lower lr or a warm-up)")
        entry: dict[str, Any] = {
            "epoch": epoch, "lr": lr_at(recipe, epoch), "teacher": distiller.uses_teacher(epoch),
            "loss": {name: float(total) / max(seen, 1) for name, total in sums.items()},
            "images": seen, "teacher_images": forwards.take(), "seconds": time.perf_counter() - began,
        }
        last = epoch == recipe.epochs - 1
        if test is not None and ((epoch + 1) % recipe.eval_every == 0 or last):
            with autocast(recipe.precision, device):
                logits = predict(distiller.student, test, recipe.eval_batch_size, device,
                                 options.memory_format)
            entry["test_acc"] = accuracy(logits, test.labels)
        history.append(entry)
        if before_checkpoint is not None:
            before_checkpoint(epoch)
        if checkpoint is not None and (group is None or group.main):
            _save(checkpoint, epoch, distiller, optimizer, generator, history, step.scaler)
        if on_epoch is not None:
            on_epoch(epoch, entry)
    forwards.close()
    return history
