"""The post-step of a sweep: once every run of a budget exists, each finished run's probes are
computed from the kept weights of its student, its teacher and its reference student, and stored
(``kdbench.probes.store``); a run whose record still answers the track is not probed again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from kdbench.data.split import Split
from kdbench.errors import KdbenchError
from kdbench.execution.context import Context, Worker, worker
from kdbench.messages import one_line
from kdbench.plugins import PluginManager
from kdbench.probes.plan import Partners, ProbeSpec, partners, resolve_probes
from kdbench.probes.store import ProbeRecord, ProbeStore
from kdbench.resolve import Resolver
from kdbench.results import InvalidResult, ResultStore, RunResult
from kdbench.specs import RunSpec, TrackSpec
from kdbench.verify import Mismatch, load_student


def track_probes(track: TrackSpec, pm: PluginManager) -> list[ProbeSpec]:
    """The track's probes, resolved (the track passed validation, so nothing is reported)."""
    check = Resolver(f"track {track.name}", None)
    specs = resolve_probes(track, pm, check, {"student": {}, "teacher": {}})
    check.raise_if_any()
    return specs


def measure(pm: PluginManager, probes: list[ProbeSpec], student: nn.Module, teacher: nn.Module,
            reference: nn.Module | None, splits: dict[str, Split], device: torch.device,
            seed: int) -> tuple[dict[str, dict[str, float | None]], dict[str, str]]:
    """Every probe's values on each of its splits, and their units, by ``<label>.<value>``."""
    values: dict[str, dict[str, float | None]] = {}
    units: dict[str, str] = {}
    for network in (student, teacher, reference):
        if network is not None:
            network.to(device).eval()
    for spec in probes:
        info = pm.probes.get(spec.name)
        params = info.Params.model_validate(spec.params)
        units.update({f"{spec.label}.{name}": unit for name, unit in info.units.items()})
        for split in spec.splits:
            found = info.factory(student, teacher, reference if info.needs_reference else None,
                                 splits[split], params, device=device,
                                 generator=torch.Generator().manual_seed(seed))
            if set(found) != set(info.units):
                raise KdbenchError(f"probe {spec.name!r} returned {sorted(found)}, not the values it "
                                   f"declares ({sorted(info.units)})")
            values.setdefault(split, {}).update(
                {f"{spec.label}.{name}": None if value is None else float(value)
                 for name, value in found.items()})
    return values, units


def probe_sweep(track: TrackSpec, runs: list[RunSpec], results: list[RunResult], context: Context,
                say: Callable[[str], object] = print) -> dict[str, ProbeRecord]:
    """Probe every finished run of the sweep that has no current record; run id -> record."""
    if not track.probes:
        return {}
    tools = worker(context)
    probes = track_probes(track, tools.pm)
    done = {result.run_id: result for result in results if result.ok}
    store, results_store = ProbeStore(context.results), ResultStore(context.results)
    records, table = {}, partners(runs)
    for spec in runs:
        partner = table.get(spec.run_id)
        if spec.run_id not in done or partner is None:
            continue
        reference = partner.reference
        reference_id = reference.run_id if reference is not None else None
        try:
            record = store.read(spec)
        except InvalidResult as error:
            say(f"kdbench: {error}; probing the run again")
            record = None
        if record is not None and record.made_with(probes, partner.teacher.teacher_id, reference_id):
            records[spec.run_id] = record
            continue
        if reference is not None and reference.run_id not in done:
            say(f"kdbench: run {spec.run_id} is not probed: its reference run {reference.run_id} "
                "did not finish")
            continue
        try:
            record = _probe(tools, probes, spec, partner, done, results_store)
        except Exception as error:  # noqa: BLE001 - a probe that fails costs its values, not the sweep
            why = str(error) if isinstance(error, (Mismatch, KdbenchError)) else \
                f"{type(error).__name__}: {one_line(error)}"
            say(f"kdbench: run {spec.run_id} is not probed: {why}")
            continue
        store.write(record, spec)
        records[spec.run_id] = record
        say(f"probed {spec.method_label}: {spec.student_label}, seed {spec.seed}")
    return records


def _probe(tools: Worker, probes: list[ProbeSpec], spec: RunSpec, partner: Partners,
           done: dict[str, RunResult], store: ResultStore) -> ProbeRecord:
    """The record of ``spec``'s run: its student, reference and teacher loaded (weights checked
    against their digests) and probed."""
    splits = {"test": tools.data.evaluation(spec.dataset, spec.test_limit),
              "train": tools.data.training(spec.distill_data, spec.dataset, spec.train_limit)}
    student = load_student(tools.pm, done[spec.run_id], _weights(store, spec), splits["test"])
    reference = None
    if partner.reference is not None:
        reference = load_student(tools.pm, done[partner.reference.run_id],
                                 _weights(store, partner.reference), splits["test"])
    teacher = tools.teachers.get(partner.teacher).model
    values, units = measure(tools.pm, probes, student, teacher, reference, splits, tools.device, spec.seed)
    return ProbeRecord(run_id=spec.run_id, probes=tuple(probes), teacher_id=partner.teacher.teacher_id,
                       reference_run_id=partner.reference.run_id if partner.reference else None,
                       values=values, units=units)


def _weights(store: ResultStore, spec: RunSpec) -> Path:
    """The kept student of ``spec``'s run, beside its result file."""
    return store.path(spec).with_suffix(".safetensors")
