"""The result of one run as a JSON file, and the store that writes them atomically and finds them.

Layout: ``<root>/<track>/<budget>/<run_id>.json``. A run whose result exists with status ``ok`` is
done; a failed one is run again.
"""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from kdbench.errors import KdbenchError
from kdbench.fileio import write_text_atomic
from kdbench.specs import RunSpec

SCHEMA_VERSION = 1


class RunResult(BaseModel):
    """Everything one run produced: its spec, status, metrics per split, history and provenance."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    run_id: str
    spec: RunSpec
    status: Literal["ok", "failed"]
    reason: str | None = None
    metrics: dict[str, dict[str, float | None]] = {}
    history: list[dict[str, Any]] = []
    teacher_id: str | None = None
    teacher_sha256: str | None = None
    student_sha256: str | None = None
    teacher_params: int | None = None
    student_params: int | None = None
    timing: dict[str, float] = {}
    provenance: dict[str, str | None] = {}

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def provenance(device: str) -> dict[str, str | None]:
    """Versions, device, git commit (when known) and date of a run."""
    import torch

    from kdbench import __version__

    return {"kdbench": __version__, "torch": torch.__version__,
            "python": platform.python_version(), "device": device, "git_commit": _git_commit(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


class ResultStore:
    """Result files under one root directory."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, spec: RunSpec) -> Path:
        return self.root / spec.track / spec.budget / f"{spec.run_id}.json"

    def get(self, spec: RunSpec) -> RunResult | None:
        path = self.path(spec)
        return self._read(path) if path.exists() else None

    def write(self, result: RunResult) -> Path:
        path = self.path(result.spec)
        write_text_atomic(path, result.model_dump_json(indent=1) + "\n")
        return path

    def scan(self, track: str | None = None) -> list[RunResult]:
        """Every result under the root (of one track), in a stable order."""
        pattern = f"{track}/*/*.json" if track else "*/*/*.json"
        return [self._read(path) for path in sorted(self.root.glob(pattern))]

    @staticmethod
    def _read(path: Path) -> RunResult:
        try:
            return RunResult.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError, ValueError) as error:
            first = str(error).splitlines()[0]
            raise KdbenchError(f"{path}: not a valid kdbench result file ({first})") from None
