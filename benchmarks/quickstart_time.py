"""Time ``kdbench run --track quickstart`` from an empty cache, then again with every run done."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def main() -> None:
    import os

    budget = sys.argv[1] if len(sys.argv) > 1 else "full"
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "KDBENCH_CACHE_DIR": str(Path(folder) / "cache")}
        command = ["kdbench", "run", "--track", "quickstart", "--budget", budget,
                   "--results", str(Path(folder) / "results")]
        first = timed(command, env)
        second = timed(command, env)
    print(f"quickstart ({budget}): first run {first:.1f} s, second run (all skipped) {second:.1f} s")


if __name__ == "__main__":
    main()
