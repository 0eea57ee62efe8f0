"""``kdbench show probe NAME``: a probe's summary, values with their units, and parameters."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from kdbench.plugins import Registered
from kdbench.types import ProbeInfo


def probe_view(entry: Registered[ProbeInfo]) -> str:
    """What a track gets from listing the probe, and the parameters it may set."""
    info = entry.info
    lines = [f"probe {info.name} ({entry.distribution}): {info.summary}",
             "compares with the track's ce student of the same seed" if info.needs_reference
             else "needs no reference student", ""]
    lines.append(tabulate([[name, unit] for name, unit in info.units.items()],
                          headers=["value", "unit"], tablefmt="simple"))
    rows: list[list[Any]] = []
    for name, field in info.Params.model_fields.items():
        default = "(required)" if field.is_required() else repr(field.get_default())
        rows.append([name, default, field.description or ""])
    lines += ["", tabulate(rows, headers=["parameter", "default", "description"], tablefmt="simple")
              if rows else "no parameters"]
    return "\n".join(lines) + "\n"
