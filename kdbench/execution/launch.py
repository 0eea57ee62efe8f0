"""``kdbench run --nproc-per-node N``: the same command under torchrun, N processes on this
machine, each run trained by all of them (DDP); checked here first, so a problem is one line."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from kdbench.engine import distributed
from kdbench.engine.distributed import Group
from kdbench.errors import KdbenchError
from kdbench.execution import ddp
from kdbench.plugins import PluginManager
from kdbench.specs import RunSpec

OPTION = "--nproc-per-node"


def without_option(argv: list[str]) -> list[str]:
    """``argv`` without ``--nproc-per-node N`` (or ``--nproc-per-node=N``)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == OPTION:
            skip = True
        elif not arg.startswith(f"{OPTION}="):
            kept.append(arg)
    return kept


def torchrun(processes: int, argv: list[str], runs: list[RunSpec], pm: PluginManager, executor: str,
             options: dict[str, Any], device: str) -> int:
    """Run ``kdbench ARGV`` (without the option) under torchrun with ``processes`` processes on
    this machine; its exit code. What torchrun could not run is refused before it starts."""
    if distributed.from_environ() is not None:
        raise KdbenchError(f"{OPTION} under torchrun: give one or the other")
    last = Group(processes - 1, processes - 1, processes)
    ddp.check(last, executor, options, runs, pm)
    distributed.device_for(last, device)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={processes}", "-m", "kdbench", *without_option(argv)]
    return subprocess.call(command)
