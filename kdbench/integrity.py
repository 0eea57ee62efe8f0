"""Checks a result file must pass before anything uses it (skip-if-done, boards, ``verify``).

A result is evidence, not input to trust: its name, folder and run id must agree with the hash of
its own spec, and its metrics must be finite, in range and consistent with each other.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from kdbench.specs import METRICS, NON_NEGATIVE, PERCENT, SPLITS

TEACHER_METRICS = {"teacher_acc", "teacher_nll", "teacher_ece", "agreement", "kl", "kd_error"}
FIDELITY = ["agreement", "kl", "kd_error"]  # every run with a teacher has them, on both splits
SHA256 = re.compile(r"^[0-9a-f]{64}$")
UNITS = {"student_acc": "%", "teacher_acc": "%", "agreement": "%", "kd_error": "%",
         "student_ece": "%", "teacher_ece": "%", "kl": "nats", "student_nll": "nats",
         "teacher_nll": "nats"}


def location_problem(path: Path, root: Path, track: str, budget: str, run_id: str) -> str | None:
    """Why ``path`` is not where a result of (track, budget, run_id) belongs under ``root``."""
    expected = Path(root) / track / budget / f"{run_id}.json"
    if Path(path).resolve() != expected.resolve():
        return f"it belongs at {track}/{budget}/{run_id}.json (its spec says so)"
    return None


def metric_problems(metrics: dict[str, dict[str, float | None]], has_teacher: bool) -> list[str]:
    """Non-finite, out-of-range or inconsistent metrics, one line each."""
    problems = []
    for split in SPLITS:
        if split not in metrics:
            problems.append(f"metrics.{split} is missing")
    for split, values in metrics.items():
        if split not in SPLITS:
            problems.append(f"metrics.{split}: unknown split")
            continue
        for name, value in values.items():
            where = f"metrics.{split}.{name}"
            if name not in METRICS:
                problems.append(f"{where}: unknown metric")
            elif value is None:
                continue
            elif not math.isfinite(value):
                problems.append(f"{where}: {value} is not a finite number")
            elif name in PERCENT and not 0 <= value <= 100:
                problems.append(f"{where}: {value} is not a percentage in [0, 100]")
            elif name in NON_NEGATIVE and value < 0:
                problems.append(f"{where}: {value} is negative")
            elif name in TEACHER_METRICS and not has_teacher:
                problems.append(f"{where}: a run without a teacher has no {name}")
        agree, error = values.get("agreement"), values.get("kd_error")
        if agree is not None and error is not None and abs(agree + error - 100) > 1e-6:
            problems.append(f"metrics.{split}: agreement {agree} and kd_error {error} do not add "
                            "up to 100")
        needed = (["student_acc"] if split == "test" else []) + (FIDELITY if has_teacher else [])
        problems += [f"metrics.{split}.{name} is missing" for name in needed
                     if values.get(name) is None]
    return problems
