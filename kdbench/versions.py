"""Which code made a run: the distribution, name and version behind each plugin name it uses.

A code version reads ``<distribution>:<name>@<version>`` (``kdbench-dkd:dkd@0.2.0``), where the
version is the one the descriptor declares, else its distribution's. Code versions are part of
``TeacherSpec`` and ``RunSpec`` and so of their ids.
"""

from __future__ import annotations

from kdbench.plugins import PluginManager
from kdbench.specs import Ref


def distribution_of(registered_distribution: str) -> tuple[str, str]:
    """``"kdbench-dkd 0.2.0"`` -> ``("kdbench-dkd", "0.2.0")``; no version -> ``(name, "unknown")``."""
    name, _, version = registered_distribution.rpartition(" ")
    return (name, version) if name else (registered_distribution, "unknown")


def code_version(pm: PluginManager, kind: str, name: str) -> str:
    """The code version of the method, model or data set ``name`` (``kind`` as in ``pm.catalog``)."""
    entry = pm.catalog(kind).find(name)
    distribution, version = distribution_of(entry.distribution)
    return f"{distribution}:{entry.info.name}@{entry.info.version or version}"


def code_versions(pm: PluginManager, **refs: tuple[str, Ref | None]) -> tuple[str, ...]:
    """Sorted, distinct code versions of ``refs`` (role -> (kind, ref)); ``None`` refs are skipped."""
    return tuple(sorted({code_version(pm, kind, ref.name) for kind, ref in refs.values()
                         if ref is not None}))


def distributions(pm: PluginManager, code: tuple[str, ...]) -> dict[str, str]:
    """Distribution -> installed version, for the distributions named in ``code``."""
    installed = {distribution_of(e.distribution)[0]: distribution_of(e.distribution)[1]
                 for kind in ("methods", "models", "datasets") for e in pm.catalog(kind)}
    names = {item.split(":", 1)[0] for item in code}
    return {name: installed.get(name, "unknown") for name in sorted(names)}
