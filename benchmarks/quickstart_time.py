"""Time ``kdbench run --track quickstart`` from an empty cache, for one or more ways of running it
(another checkout's ``kdbench``, ``--jobs 2``...) taken in turn (ABBA order) ``--repeats`` times;
prints each time, the median per way and its ratio to the first way's, then the time of a second
run of the last way that finds every run done.

    python benchmarks/quickstart_time.py --repeats 2 \\
        --way "before=/path/to/old-venv/bin/kdbench run" --way "jobs1=kdbench run" \\
        --way "jobs2=kdbench run --jobs 2"
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def timed(command: list[str], folder: Path) -> float:
    """Seconds ``command`` took with its results and cache in ``folder``."""
    env = {**os.environ, "KDBENCH_CACHE_DIR": str(folder / "cache")}
    began = time.perf_counter()
    subprocess.run([*command, "--results", str(folder / "results")], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", default="full")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--way", action="append", metavar="NAME=COMMAND",
                   help="a name and the command that runs a track (default: kdbench=kdbench run)")
    args = p.parse_args(argv)
    ways = dict(way.split("=", 1) for way in args.way or ["kdbench=kdbench run"])
    times: dict[str, list[float]] = {name: [] for name in ways}
    for repeat in range(args.repeats):
        for name in list(ways) if repeat % 2 == 0 else list(reversed(ways)):
            command = [*shlex.split(ways[name]), "--track", "quickstart", "--budget", args.budget]
            with tempfile.TemporaryDirectory() as folder:
                times[name].append(timed(command, Path(folder)))
            print(f"repeat {repeat + 1}: {name} {times[name][-1]:.1f} s", flush=True)
    first = statistics.median(times[next(iter(ways))])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name}: median {median:.1f} s over {len(values)}, {first / median:.2f}x the first way")
    with tempfile.TemporaryDirectory() as folder:
        last = [*shlex.split(list(ways.values())[-1]), "--track", "quickstart", "--budget", args.budget]
        timed(last, Path(folder))
        print(f"a second run of the last way, every run done: {timed(last, Path(folder)):.1f} s")


if __name__ == "__main__":
    main()
