"""Read a YAML track file into a ``TrackSpec``; every problem becomes one line naming the file,
the field path and, where known, the line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kdbench.errors import SpecError
from kdbench.overrides import Override, blame, with_overrides
from kdbench.specs import TrackSpec
from kdbench.yamlload import TrackLoader, load_yaml


def field_path(loc: tuple[Any, ...]) -> str:
    """``("budgets", "quick", "teacher", "epochs")`` -> ``budgets.quick.teacher.epochs``."""
    return ".".join(str(part) for part in loc) or "<top level>"


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc``, or of its nearest existing parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((value for key, value in node.value if key.value == str(part)), None)
            if child is None:  # an unknown key: point at the key itself
                child = next((key for key, _ in node.value if key.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if 0 <= part < len(node.value) else None
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "finite_number":
        return "must be a finite number"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"].endswith("_type"):  # strict types: say what came instead
        message += f", not {_kind(error['input'])}"
    return message


def _kind(value: Any) -> str:
    """What a YAML value is, for people: ``a boolean``, ``a string``, ``a list``..."""
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "a mapping", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def where(loc: tuple[Any, ...], root: yaml.Node | None) -> str:
    """``field.path (line N)``, without the line when it is not known, or ``field.path (--set
    PATH=VALUE)`` when a command-line override set the field."""
    override = blame(root, loc)
    if override is not None:
        return f"{field_path(loc)} ({override.option})"
    line = _line_of(root, loc)
    return f"{field_path(loc)} (line {line})" if line else field_path(loc)


def problems_of(error: ValidationError, root: yaml.Node | None = None,
                prefix: tuple[Any, ...] = ()) -> list[str]:
    """One line per pydantic error: ``field.path (line N): message``. A list found too short only
    because its items failed is not reported again (the items' own errors say why)."""
    errors = [(prefix + tuple(part for part in item["loc"] if not str(part).startswith("function-")),
               item) for item in error.errors()]
    lines = []
    for loc, item in errors:
        if item["type"] == "too_short" and any(len(other) > len(loc) and other[:len(loc)] == loc
                                               for other, _ in errors):
            continue
        lines.append(f"{where(loc, root)}: {_message(item)}")
    return lines


MAX_VALUES = 100_000


def _too_large(node: yaml.Node) -> bool:
    """Whether the document expands to more than ``MAX_VALUES`` values once aliases are followed
    (a few nested aliases can expand to billions: a "billion laughs" file must not hang)."""
    count, stack = 0, [node]
    while stack:
        current = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return True
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            stack.extend(part for pair in current.value for part in pair)
    return False


def duplicate_keys(root: yaml.Node) -> list[str]:
    """One line per key given twice in one mapping (YAML would silently keep the last):
    ``field.path (line N): duplicate key 'k', also on line M``."""
    problems: list[tuple[int, str]] = []
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, (*loc, i)) for i, child in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    continue
                line = key.start_mark.line + 1
                if (key.tag, key.value) in first:
                    problems.append((line, f"{field_path((*loc, key.value))} (line {line}): duplicate "
                                           f"key {key.value!r}, also on line {first[key.tag, key.value]}; "
                                           "give each key once"))
                first.setdefault((key.tag, key.value), line)
                stack.append((value, (*loc, key.value)))
    return [problem for _, problem in sorted(problems)]


def read_yaml(path: Path) -> tuple[dict[str, Any], yaml.MappingNode]:
    """Parse a YAML mapping and its node tree, or raise a one-line ``SpecError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(str(path), [f"cannot read file: {error}"]) from None
    try:
        root = yaml.compose(text, Loader=TrackLoader)
        if root is not None and _too_large(root):
            raise SpecError(str(path), [f"the file expands to more than {MAX_VALUES:,} values "
                                        "(check its aliases); a track is far smaller"])
        duplicates = duplicate_keys(root) if root is not None else []
        if duplicates:
            raise SpecError(str(path), duplicates)
        data = load_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SpecError(str(path), [f"{where}invalid YAML: {problem}"]) from None
    if data is None:
        raise SpecError(str(path), ["the file is empty; expected a track mapping"])
    if not isinstance(data, dict):
        raise SpecError(str(path), [f"expected a mapping at the top level, got {type(data).__name__}"])
    assert isinstance(root, yaml.MappingNode)  # the node tree of the mapping ``data`` was loaded from
    return data, root


def load_track_file(path: str | Path, overrides: Sequence[Override] = ()
                    ) -> tuple[TrackSpec, yaml.MappingNode]:
    """Read a track file, apply command-line ``overrides`` and validate the result (phase one:
    structure and values, before plugins)."""
    path = Path(path)
    data, root = with_overrides(*read_yaml(path), overrides)
    try:
        return TrackSpec.model_validate(data), root
    except ValidationError as error:
        raise SpecError(str(path), problems_of(error, root)) from None
