"""The JSON Schema of a track file, with the parameters of every installed plugin spelled out."""

from __future__ import annotations

from types import GenericAlias
from typing import Any, Literal, Union

from pydantic import Field, create_model

from kdbench.plugins import Catalog, PluginManager
from kdbench.specs import Strict, StudentEntry, TeacherEntry, TrackSpec


def _ref_union(catalog: Catalog[Any], extra: dict[str, Any] | None = None) -> Any:
    """One schema variant per installed thing: its name (or name pattern) and its own Params."""
    variants = []
    for entry in catalog:
        info = entry.info
        pattern = getattr(info, "pattern", None)
        json_pattern = f"^{pattern.replace('(?P<', '(?<')}$" if pattern else None  # ECMA syntax
        name = (str, Field(pattern=json_pattern)) if pattern else (Literal[info.name], ...)
        variants.append(create_model(
            f"{catalog.kind[:-1].title()}_{info.name.replace('-', '_')}", __base__=Strict,
            __doc__=info.summary, name=name, params=(info.Params, None), **(extra or {})))
    return Union[tuple(variants)] if variants else dict  # noqa: UP007


def track_schema(pm: PluginManager) -> dict[str, Any]:
    """JSON Schema of ``TrackSpec`` where methods, models and data sets are the installed ones."""
    model = _ref_union(pm.models)
    teacher = create_model("TeacherEntry", __base__=TeacherEntry, model=(model, ...))
    student = create_model("StudentEntry", __base__=StudentEntry, model=(model, ...))
    methods = _ref_union(pm.methods, {"label": (str | None, None)})
    probes = _ref_union(pm.probes, {"label": (str | None, None),
                                    "splits": (tuple[Literal["test", "train"], ...], ("test",))})
    track = create_model(
        "TrackSpec", __base__=TrackSpec, __doc__=TrackSpec.__doc__,
        dataset=(_ref_union(pm.datasets), ...),
        teachers=(tuple[teacher, ...], ()),
        students=(tuple[student, ...], Field(min_length=1)),
        methods=(GenericAlias(tuple, (methods, ...)), Field(min_length=1)),
        probes=(GenericAlias(tuple, (probes, ...)), ()),
    )
    return track.model_json_schema(mode="validation")
