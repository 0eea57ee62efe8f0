"""Command-line overrides of a track, hydra-style: ``--set student_recipe.lr=0.05``.

An override is a dotted path into the track's mapping (list entries by index,
``methods.1.params.temperature``) and a value read as YAML (``true``, ``0.05``, ``[0, 1]``,
``{name: kd}``). Overrides change the raw mapping before validation, so an overridden track is
validated, expanded and hashed exactly like a file that says the same; a problem in a field an
override set is reported with that override instead of a line of the file.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from kdbench.errors import KdbenchError
from kdbench.yamlload import TrackLoader, load_yaml


@dataclass(frozen=True)
class Override:
    """One ``PATH=VALUE``: the path's keys (list indices as digits) and the parsed value."""

    text: str
    path: tuple[str, ...]
    value: Any

    @property
    def option(self) -> str:
        return f"--set {self.text}"

    def covers(self, loc: Sequence[Any]) -> bool:
        """Whether a problem at field path ``loc`` concerns this override: the override set that
        field, a mapping around it, or a field inside a (non-top-level) field of the problem."""
        loc = tuple(str(part) for part in loc)
        shared = min(len(loc), len(self.path))
        return bool(loc) and loc[:shared] == self.path[:shared]


def _value(text: str, option: str) -> Any:
    """``text`` as one YAML flow value; anchors, aliases and tags are refused."""
    if not text.strip():
        raise KdbenchError(f"{option}: give a value after '=' (null for none)")
    try:
        tokens = list(yaml.scan(text, Loader=TrackLoader))
        if any(isinstance(t, (yaml.AnchorToken, yaml.AliasToken, yaml.TagToken)) for t in tokens):
            raise KdbenchError(f"{option}: anchors, aliases and tags are not allowed in a value")
        return load_yaml(text)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise KdbenchError(f"{option}: the value is not valid YAML ({problem}); quote the whole "
                           "option in the shell, e.g. --set 'seeds=[0, 1]'") from None


def parse_override(text: str) -> Override:
    """``"student_recipe.lr=0.05"`` -> ``Override(path=("student_recipe", "lr"), value=0.05)``."""
    option = f"--set {text}"
    path, sep, value = text.partition("=")
    if not sep:
        raise KdbenchError(f"{option}: expected PATH=VALUE, e.g. --set student_recipe.lr=0.05")
    keys = tuple(key.strip() for key in path.split("."))
    if not all(keys):
        raise KdbenchError(f"{option}: the path {path!r} has an empty part; write keys joined by "
                           "dots, e.g. methods.1.params.temperature")
    return Override(text, keys, _value(value, option))


def parse_overrides(texts: Sequence[str] | None) -> tuple[Override, ...]:
    """Every ``--set`` given, in order (a later one wins where two set the same field)."""
    return tuple(parse_override(text) for text in texts or ())


def _child(node: Any, key: str, walked: tuple[str, ...], override: Override) -> tuple[Any, Any]:
    """The container ``node`` and the key (an ``int`` in a list) to descend by at ``key``."""
    where = ".".join(walked) or "the top level"
    if isinstance(node, dict):
        return node, key
    if isinstance(node, list):
        if not key.isdigit() or int(key) >= len(node):
            raise KdbenchError(f"{override.option}: {where} is a list of {len(node)}; index it with "
                               f"0 to {len(node) - 1}, or set the whole list")
        return node, int(key)
    raise KdbenchError(f"{override.option}: {where} is {node!r}, which has no field {key!r}")


def apply_overrides(data: dict[str, Any], overrides: Sequence[Override]) -> dict[str, Any]:
    """A copy of ``data`` with each override applied in order; missing mappings on the way are
    created (the schema then rejects unknown ones), lists must already have the index."""
    data = copy.deepcopy(data)
    for override in overrides:
        node: Any = data
        for depth, key in enumerate(override.path):
            container, index = _child(node, key, override.path[:depth], override)
            if depth == len(override.path) - 1:
                container[index] = copy.deepcopy(override.value)
            elif isinstance(container, dict) and container.get(index) is None:
                container[index] = {}
            node = container[index]
    return data


class OverriddenRoot(yaml.MappingNode):
    """A track file's YAML node tree plus the overrides applied on top of it; field lines come
    from the file, except for fields an override set (see ``blame``)."""

    def __init__(self, root: yaml.MappingNode, overrides: Sequence[Override]):
        super().__init__(root.tag, root.value, root.start_mark, root.end_mark, root.flow_style)
        self.overrides = tuple(overrides)


def with_overrides(data: dict[str, Any], root: yaml.MappingNode, overrides: Sequence[Override]
                   ) -> tuple[dict[str, Any], yaml.MappingNode]:
    """``data`` with ``overrides`` applied, and a root that knows them (unchanged without any)."""
    if not overrides:
        return data, root
    return apply_overrides(data, overrides), OverriddenRoot(root, overrides)


def blame(root: yaml.Node | None, loc: Sequence[Any]) -> Override | None:
    """The last override of ``root`` that concerns field path ``loc``, if any."""
    return next((o for o in reversed(getattr(root, "overrides", ())) if o.covers(loc)), None)
