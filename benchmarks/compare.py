"""``kdbench bench`` against the plain PyTorch KD loop (``reference_kd.py``) on identical work:
the same networks, data shape, batch and augmentation, run alternately (ABBA order, each in its
own process) ``--repeats`` times; prints each figure and the ratio of medians.

Run it on a machine that is otherwise idle, or with both sides equally ``nice``d; the ratio,
measured alternately in one sitting, is what holds up on a shared machine, not the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measured(command: list[str]) -> dict[str, float]:
    """The JSON object that ``command`` prints last; its stderr is shown on failure."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", required=True)
    p.add_argument("--student", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--augment", default="crop,flip")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--synthetic", action="store_true")
    p.add_argument("--device", default=None, help="both sides' device (default: each one's own)")
    p.add_argument("--engine-arg", action="append", default=[], metavar="ARG",
                   help="passed on to kdbench bench, e.g. --engine-arg=--precision=bf16-mixed")
    p.add_argument("--reference-arg", action="append", default=[], metavar="ARG",
                   help="passed on to reference_kd.py, e.g. --reference-arg=--workers=0")
    args = p.parse_args(argv)
    common = ["--teacher", args.teacher, "--student", args.student, "--dataset", args.dataset,
              "--batch-size", str(args.batch_size), "--augment", args.augment,
              "--steps", str(args.steps), "--warmup", str(args.warmup), "--json"]
    common += ["--synthetic"] if args.synthetic else []
    common += ["--device", args.device] if args.device else []
    sides = {"reference": [sys.executable, str(HERE / "reference_kd.py"), *common, *args.reference_arg],
             "kdbench": [sys.executable, "-m", "kdbench", "bench", *common, *args.engine_arg]}
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for repeat in range(args.repeats):
        order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
        for name in order:
            rates[name].append(measured(sides[name])["images_per_s"])
        print(f"repeat {repeat + 1}: " + ", ".join(f"{name} {rates[name][-1]:,.0f} images/s"
                                                 for name in sides), flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(f"median images/s: reference {medians['reference']:,.0f}, kdbench {medians['kdbench']:,.0f}; "
          f"ratio of medians {medians['kdbench'] / medians['reference']:.2f}x")


if __name__ == "__main__":
    main()
