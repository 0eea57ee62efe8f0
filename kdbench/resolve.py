"""Phase two of validation: a track's references resolved against the installed plugins.

Every method, model and data set name is looked up, its parameters are validated by the plugin's
own ``Params`` model and filled in with their defaults, and every feature tap a method names is
found on its models; problems are collected with their field paths, not raised one by one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, TypeVar

import torch
import yaml
from pydantic import BaseModel, ValidationError

from kdbench.errors import KdbenchError, ParamError, SpecError
from kdbench.methods.taps import resolve_tap
from kdbench.plugins import Catalog, PluginManager
from kdbench.specfile import problems_of, where
from kdbench.specs import DataRef, Recipe, Ref, TrackSpec, entry_recipe, patched

T = TypeVar("T")

TAP_FIELDS = {"student_tap": ("student",), "teacher_tap": ("teacher",),
              "student_taps": ("student",), "teacher_taps": ("teacher",),
              "tap": ("student", "teacher"), "taps": ("student", "teacher")}
"""Method parameters that name feature taps (a name, or a list of names) of the student, of the
teacher, or of both (hint and CRD's ``student_tap``; an attention method's ``taps``)."""


def non_finite(value: Any, loc: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The paths of the NaN and infinite floats inside ``value`` (nested dicts and lists)."""
    if isinstance(value, float) and not math.isfinite(value):
        yield loc
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from non_finite(item, (*loc, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from non_finite(item, (*loc, i))


def meta_model(pm: PluginManager, ref: Ref, members: int = 1) -> torch.nn.Module | None:
    """``ref``'s model (an ensemble of ``members`` of them, as teachers are) built on the meta
    device (shapes only, no memory, no weights) for 3-channel 224-pixel images, or None when it
    cannot be built that way."""
    from kdbench.teachers import Ensemble

    info = pm.models.get(ref.name)
    try:
        with torch.device("meta"):
            models = [info.factory(ref.name, info.Params.model_validate(ref.params), in_channels=3,
                                   image_size=224, num_classes=10) for _ in range(members)]
    except Exception:  # noqa: BLE001 - a model that needs real data is checked when it is built
        return None
    return models[0] if members == 1 else Ensemble(models)


def known(value: T | None) -> T:
    """A resolved value after ``Resolver.raise_if_any`` passed: only a reported problem leaves None."""
    if value is None:
        raise AssertionError("a reference failed to resolve but no problem was reported")
    return value


class Resolver:
    """Collects problems with their field paths instead of stopping at the first."""

    def __init__(self, source: str, root: yaml.Node | None):
        self.source, self.root = source, root
        self.problems: list[str] = []
        self._meta: dict[tuple[str, int], torch.nn.Module | None] = {}

    def params(self, catalog: Catalog[Any], ref: Ref, loc: tuple[Any, ...],
               context: dict[str, Any] | None = None) -> BaseModel | None:
        try:
            info = catalog.get(ref.name)
        except KdbenchError as error:
            self.problems.append(f"{where(loc + ('name',), self.root)}: {error}")
            return None
        try:
            params = info.Params.model_validate(ref.params, context=context)
        except ValidationError as error:
            self.problems.extend(problems_of(error, self.root, loc + ("params",)))
            return None
        bad = [f"{where(loc + ('params', *path), self.root)}: must be a finite number"
               for path in non_finite(params.model_dump())]
        if bad:  # plugins whose Params allow NaN or infinity
            self.problems.extend(bad)
            return None
        try:
            if getattr(info, "check", None) is not None:
                info.check(ref.name, params)
        except ParamError as error:
            self.problems.append(f"{where(loc + ('params', error.field), self.root)}: {error}")
            return None
        except KdbenchError as error:
            self.problems.append(f"{where(loc + ('name',), self.root)}: {error}")
            return None
        return params

    def ref(self, catalog: Catalog[Any], ref: Ref, loc: tuple[Any, ...],
            context: dict[str, Any] | None = None) -> Ref | None:
        """``ref`` with its parameters validated and every default filled in."""
        params = self.params(catalog, ref, loc, context)
        return None if params is None else Ref(name=ref.name, params=params.model_dump(mode="json"))

    def data(self, catalog: Catalog[Any], ref: DataRef, loc: tuple[Any, ...]) -> DataRef | None:
        """``ref`` with its data set's parameters validated and filled in."""
        resolved = self.ref(catalog, ref, loc)
        return None if resolved is None else DataRef(name=ref.name, params=resolved.params,
                                                      subset=ref.subset, labels=ref.labels)

    def recipe(self, base: Recipe, patch: BaseModel, loc: tuple[Any, ...]) -> Recipe | None:
        try:
            return patched(base, patch)
        except ValidationError as error:
            self.problems.extend(problems_of(error, self.root, loc))
            return None

    def entry_recipe(self, track: Recipe, budgeted: Recipe, patch: BaseModel | None,
                     loc: tuple[Any, ...]) -> Recipe | None:
        """A teacher entry's recipe at a budget (``kdbench.specs.entry_recipe``); a problem is
        reported at the entry's ``recipe``, naming the budget."""
        try:
            return entry_recipe(track, budgeted, patch)
        except ValidationError as error:
            self.problems.extend(problems_of(error, self.root, loc))
            return None

    def taps(self, pm: PluginManager, method: Ref, loc: tuple[Any, ...],
             models: dict[str, dict[str, tuple[Ref | None, int]]]) -> None:
        """Every feature tap that ``method`` names exists in the students and teachers it meets
        (``models``: "student" and "teacher" to {label: (model, members)}), on meta-device builds."""
        for field, roles in TAP_FIELDS.items():
            value = method.params.get(field)
            taps = [value] if isinstance(value, str) else value if isinstance(value, list) else []
            for role in roles:
                for label, (ref, members) in models[role].items():
                    if ref is None:  # the model's own problem is reported already
                        continue
                    for tap in (tap for tap in taps if isinstance(tap, str)):
                        self._tap(pm, tap, ref, members, loc + ("params", field), f"{role} {label}")

    def _tap(self, pm: PluginManager, tap: str, ref: Ref, members: int, loc: tuple[Any, ...],
             who: str) -> None:
        """Report ``tap`` at ``loc`` when the model of ``ref`` (a meta-device build) lacks it."""
        key = (ref.model_dump_json(), members)
        if key not in self._meta:
            self._meta[key] = meta_model(pm, ref, members)
        model = self._meta[key]
        if model is None:
            return
        try:
            resolve_tap(model, tap)
        except KdbenchError as error:
            self.problems.append(f"{where(loc, self.root)}: {who} ({ref.name}): {error}")

    def raise_if_any(self) -> None:
        if self.problems:
            raise SpecError(self.source, self.problems)


def unlabelled(track: TrackSpec, method: int, root: yaml.Node | None) -> list[str]:
    """Problems for a method that trains on labels, on each distillation data without them."""
    name = track.methods[method].name
    fields: list[tuple[tuple[Any, ...], DataRef]] = [
        (("students", i, "distill_data"), s.distill_data) for i, s in enumerate(track.students)
        if s.distill_data is not None]
    if any(s.distill_data is None for s in track.students) and track.distill_data is not None:
        fields.append((("distill_data",), track.distill_data))
    return [f"{where(('methods', method, 'name'), root)}: method {name!r} trains on labels, but "
            f"{where((*loc, 'labels'), root)} is false" for loc, data in fields if not data.labels]
