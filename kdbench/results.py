"""The result of one run as a JSON file, and the store that writes them atomically and reads them
back only after checking them (``kdbench.integrity``).

Layout: ``<root>/<track>/<budget>/<run_id>.json``. A run whose valid result exists with status
``ok`` is done; a failed one is run again, and so is one whose file does not pass its checks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kdbench.errors import KdbenchError
from kdbench.fileio import write_text_atomic
from kdbench.integrity import SHA256, UNITS, location_problem, metric_problems
from kdbench.specs import RunSpec

SCHEMA_VERSION: Final = 1
MAX_BYTES = 64 << 20  # a result with a 10,000-epoch history is under 10 MB
log = logging.getLogger("kdbench.results")


class RunResult(BaseModel):
    """Everything one run produced: its spec, status, metrics per split, history and provenance."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    run_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    spec: RunSpec
    status: Literal["ok", "failed"]
    reason: str | None = None
    metrics: dict[str, dict[str, float | None]] = {}
    units: dict[str, str] = Field(default_factory=lambda: dict(UNITS))
    history: list[dict[str, Any]] = []
    teacher_id: str | None = None
    teacher_sha256: str | None = None
    student_sha256: str | None = None
    teacher_params: int | None = None
    student_params: int | None = None
    method_params: int | None = None  # the method's own trainable modules; None in older results
    timing: dict[str, float] = {}
    provenance: dict[str, Any] = {}

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class InvalidResult(KdbenchError):
    """A result file that does not pass its checks; never used."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = Path(path), printable(reason)
        super().__init__(f"{printable(str(path))}: {self.reason}")


M = TypeVar("M", bound=BaseModel)


def read_json_model(path: Path, model: type[M], what: str) -> M:
    """``path`` (at most ``MAX_BYTES``) parsed and validated as ``model``, or ``InvalidResult``
    naming the first problem; ``what`` names the kind of file in the message."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InvalidResult(path, f"{path.stat().st_size:,} bytes; a {what} is under {MAX_BYTES:,}")
        return model.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidResult(path, f"cannot read it ({error})") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "<top level>"
        raise InvalidResult(path, f"not a valid kdbench {what} ({where}: {first['msg']})") from None


def printable(text: str) -> str:
    """``text`` with line breaks and other control characters escaped, so a report stays one line
    whatever a file (or its name) holds."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def problems(result: RunResult) -> list[str]:
    """What is wrong inside a parsed result, one line each (empty when it can be used)."""
    spec, found = result.spec, []
    if "protocol_version" not in spec.model_fields_set:
        found.append("made before runs carried their track's protocol_version; run the track again")
    elif result.run_id != spec.run_id:
        found.append(f"run_id {result.run_id} is not the hash of its spec ({spec.run_id})")
    if spec.teacher is not None and result.teacher_id not in (None, spec.teacher.teacher_id):
        found.append(f"teacher_id {result.teacher_id} is not its spec's ({spec.teacher.teacher_id})")
    for name in ("teacher_sha256", "student_sha256"):
        value = getattr(result, name)
        if value is not None and not SHA256.match(value):
            found.append(f"{name} is not a sha256 digest")
    if result.ok:
        found += metric_problems(result.metrics, spec.teacher is not None)
    elif not result.reason:
        found.append("a failed run must say why (reason)")
    return found


def protocol_id(spec: RunSpec) -> str:
    """The hash of ``spec`` without its code versions: equal for runs of the same protocol made by
    different code (what ``--reuse-stale`` looks for)."""
    data = spec.model_dump(mode="json")
    data.pop("code", None)
    if data.get("teacher"):
        data["teacher"].pop("code", None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def provenance(machine: dict[str, Any], distributions: dict[str, str]) -> dict[str, Any]:
    """Versions (kdbench, torch, python, the plugin distributions that made the run), the machine
    (``kdbench.machine.describe``), git commit when known, and date."""
    import torch

    from kdbench import __version__

    return {"kdbench": __version__, "torch": torch.__version__,
            "python": platform.python_version(), "distributions": distributions, **machine,
            "git_commit": _git_commit(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


@dataclass
class Scan:
    """The usable results under a root, and the files that were refused with their reasons."""

    results: list[RunResult] = field(default_factory=list)
    rejected: list[InvalidResult] = field(default_factory=list)


class ResultStore:
    """Result files under one root directory."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, spec: RunSpec) -> Path:
        return self.root / spec.track / spec.budget / f"{spec.run_id}.json"

    def get(self, spec: RunSpec) -> RunResult | None:
        """The valid result of ``spec``, or None (a file that fails its checks is reported)."""
        path = self.path(spec)
        if not path.exists():
            return None
        try:
            return self.read(path)
        except InvalidResult as error:
            log.warning("%s; the run will be made again", error)
            return None

    def write(self, result: RunResult) -> Path:
        path = self.path(result.spec)
        if location_problem(path, self.root, result.spec.track, result.spec.budget, result.run_id):
            raise KdbenchError(f"refusing to write a result outside {self.root}: {path}")
        write_text_atomic(path, result.model_dump_json(indent=1) + "\n")
        return path

    def scan(self, track: str | None = None) -> Scan:
        """Every result file under the root (of one track), checked, in a stable order. A root that
        is a track's folder (``<budget>/<run_id>.json`` inside) is a one-line error: its files
        would be read a level too deep (probe records taken for results)."""
        if track is None and any(self.root.glob("*/*.json")):
            raise KdbenchError(f"{self.root} looks like a track's folder (<budget>/<run_id>.json inside); "
                               f"give the results folder above it, {self.root.parent}")
        scan = Scan()
        for path in sorted(self.root.glob(f"{track}/*/*.json" if track else "*/*/*.json")):
            try:
                scan.results.append(self.read(path))
            except InvalidResult as error:
                scan.rejected.append(error)
        return scan

    def same_protocol(self, spec: RunSpec) -> list[RunResult]:
        """Valid finished results in ``spec``'s folder that ran its protocol with other code, the
        newest first."""
        wanted = protocol_id(spec)
        found = [result for result in self.scan(spec.track).results
                 if result.ok and result.spec.budget == spec.budget
                 and result.run_id != spec.run_id and protocol_id(result.spec) == wanted]
        return sorted(found, key=lambda result: (str(result.provenance.get("date", "")),
                                                 self.path(result.spec).stat().st_mtime), reverse=True)

    def read(self, path: Path) -> RunResult:
        """The result in ``path`` after every check, or ``InvalidResult`` saying what failed."""
        result = read_json_model(path, RunResult, "result file")
        found = problems(result)
        misplaced = location_problem(path, self.root, result.spec.track, result.spec.budget,
                                     result.run_id)
        if misplaced:
            found.insert(0, misplaced)
        if found:
            raise InvalidResult(path, "; ".join(found))
        return result


def check_results_dir(path: Path) -> None:
    """A results folder to read must exist: say so in one line, with what makes one."""
    if not Path(path).is_dir():
        raise KdbenchError(f"results directory not found: {path} (run `kdbench run` first, or give "
                           "--results)")
