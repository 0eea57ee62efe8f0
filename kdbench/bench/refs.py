"""Models and methods on the ``kdbench bench`` command line, written as boards show them:
``lenet5``, ``lenet5(width=2)``, ``kd(temperature=2)``."""

from __future__ import annotations

import re

import yaml

from kdbench.errors import KdbenchError
from kdbench.specs import Ref

SIGNATURE = re.compile(r"([^()\s]+)(?:\((.*)\))?")


def parse_ref(text: str, option: str) -> Ref:
    """``name`` or ``name(key=value, ...)`` with YAML values -> a ``Ref``; a one-line error
    naming ``option`` otherwise."""
    match = SIGNATURE.fullmatch(text.strip())
    if match is None:
        raise KdbenchError(f"{option} {text!r}: write NAME or NAME(key=value, ...), e.g. lenet5(width=2)")
    name, args = match.group(1), (match.group(2) or "").strip()
    if not args:
        return Ref(name=name)
    try:
        params = yaml.safe_load("{" + re.sub(r"(\w+)\s*=", r"\1: ", args) + "}")
    except yaml.YAMLError:
        params = None
    if not isinstance(params, dict) or not all(isinstance(key, str) for key in params):
        raise KdbenchError(f"{option} {text!r}: the parameters are not key=value pairs, e.g. "
                           f"{name}(width=2)")
    return Ref(name=name, params=params)
