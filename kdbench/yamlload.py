"""The YAML loader that track files and ``--set`` values are read with."""

from __future__ import annotations

import re
from typing import Any

import yaml


class TrackLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``1e-6`` as the number YAML 1.2 says it is (YAML 1.1, which
    PyYAML follows, wants ``1.0e-6`` and makes the string "1e-6" of it)."""


TrackLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def load_yaml(text: str) -> Any:
    """One YAML document, read safely with ``TrackLoader`` (no tags that build objects)."""
    return yaml.load(text, Loader=TrackLoader)
