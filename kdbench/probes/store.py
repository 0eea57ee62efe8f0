"""Probe values of one run, in a small file of their own beside the run's result:
``<results>/<track>/<budget>/probes/<run_id>.json``. The run's result (and so its id) does not
change when a track adds probes; the record says what it was computed with, and is used only
while that is still what the track asks for, and after its values pass their checks."""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from kdbench.fileio import write_text_atomic
from kdbench.probes.plan import ProbeSpec
from kdbench.results import InvalidResult, read_json_model
from kdbench.specs import SPLITS, RunSpec


class ProbeRecord(BaseModel):
    """What a run's probes measured: per split, ``<label>.<value>`` -> number (None: undefined)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    probes: tuple[ProbeSpec, ...]
    teacher_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    reference_run_id: str | None = Field(None, pattern=r"^[0-9a-f]{16}$")
    values: dict[str, dict[str, float | None]]
    units: dict[str, str]

    def made_with(self, probes: list[ProbeSpec], teacher_id: str, reference_run_id: str | None) -> bool:
        """Whether these values answer what the track asks now of the same networks."""
        return (list(self.probes) == probes and self.teacher_id == teacher_id
                and self.reference_run_id == reference_run_id)


def value_problems(record: ProbeRecord) -> list[str]:
    """Values that are unknown, on a split their probe does not run on, non-finite or out of range."""
    found = []
    labels = {spec.label: spec.splits for spec in record.probes}
    if any(name.split(".", 1)[0] not in labels for name in record.units):
        found.append("units name a value of no probe of the record")
    expected = {split: {name for name in record.units if split in labels.get(name.split(".", 1)[0], ())}
                for split in SPLITS}
    for split, values in record.values.items():
        if split not in SPLITS:
            found.append(f"values.{split}: unknown split")
            continue
        if set(values) != expected[split]:
            found.append(f"values.{split} has {sorted(values)}, not its probes' {sorted(expected[split])}")
        for name, value in values.items():
            if value is None:
                continue
            if not math.isfinite(value):
                found.append(f"values.{split}.{name}: {value} is not a finite number")
            elif record.units.get(name) == "%" and not 0 <= value <= 100:
                found.append(f"values.{split}.{name}: {value} is not a percentage in [0, 100]")
    missing = [split for spec in record.probes for split in spec.splits if split not in record.values]
    if missing:
        found.append(f"values.{missing[0]} is missing")
    return found


class ProbeStore:
    """Probe records under a results root."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, spec: RunSpec) -> Path:
        return self.root / spec.track / spec.budget / "probes" / f"{spec.run_id}.json"

    def write(self, record: ProbeRecord, spec: RunSpec) -> Path:
        path = self.path(spec)
        write_text_atomic(path, record.model_dump_json(indent=1) + "\n")
        return path

    def read(self, spec: RunSpec) -> ProbeRecord | None:
        """The checked record of ``spec``'s run, None when there is none; ``InvalidResult`` when
        the file does not pass its checks."""
        path = self.path(spec)
        if not path.is_file():
            return None
        record = read_json_model(path, ProbeRecord, "probe record")
        problems = value_problems(record)
        if record.run_id != spec.run_id:
            problems.insert(0, f"it holds run {record.run_id}'s probes, not {spec.run_id}'s")
        if problems:
            raise InvalidResult(path, "; ".join(problems))
        return record
