"""Both phases of validation for a track file, across all of its budgets (``kdbench validate``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kdbench.errors import SpecError
from kdbench.expand import expand
from kdbench.overrides import Override
from kdbench.plugins import PluginManager
from kdbench.specfile import load_track_file
from kdbench.specs import TrackSpec


def validate_file(path: str | Path, pm: PluginManager, overrides: Sequence[Override] = ()) -> TrackSpec:
    """Both phases for a track file with command-line ``overrides``, across all of its budgets;
    raises ``SpecError``."""
    track, root = load_track_file(path, overrides)
    found: dict[str, list[str]] = {}
    for budget in track.budgets:
        try:
            expand(track, budget, pm, source=str(path), root=root)
        except SpecError as error:
            for problem in error.problems:
                found.setdefault(problem, []).append(budget)
    if found:
        raise SpecError(str(path), [
            problem if len(budgets) == len(track.budgets) else f"{problem} (budget {', '.join(budgets)})"
            for problem, budgets in found.items()])
    return track
