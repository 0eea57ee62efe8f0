"""A track named on the command line: a name from the plugin registry, or a path to a YAML file."""

from __future__ import annotations

from pathlib import Path

from kdbench.errors import KdbenchError
from kdbench.plugins import PluginManager


def track_path(name_or_path: str, pm: PluginManager) -> Path:
    """A track name from the registry, or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        if not candidate.is_file():
            raise KdbenchError(f"track file not found: {candidate}")
        return candidate
    return pm.tracks.get(name_or_path).path
