"""The plugin manager: loads entry points one by one, isolates broken plugins, looks names up.

A plugin that fails to import, declares an unknown hook or whose hook raises is reported in one
line and skipped, so the rest of kdbench keeps working; strict mode (``--strict-plugins`` or
``KDBENCH_STRICT_PLUGINS=1``) turns that into an error. Two plugins providing the same name are
always an error that names both distributions.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

import pluggy

from kdbench import hookspecs
from kdbench.errors import PluginError, UnknownNameError
from kdbench.types import DatasetInfo, MethodInfo, ModelInfo, TrackInfo

GROUP = "kdbench"
log = logging.getLogger("kdbench.plugins")

T = TypeVar("T", MethodInfo, ModelInfo, DatasetInfo, TrackInfo)

KINDS: dict[str, tuple[str, type]] = {
    "methods": ("kdbench_methods", MethodInfo),
    "models": ("kdbench_models", ModelInfo),
    "datasets": ("kdbench_datasets", DatasetInfo),
    "tracks": ("kdbench_tracks", TrackInfo),
}


@dataclass(frozen=True)
class Registered(Generic[T]):
    """A descriptor together with the plugin and distribution that provided it."""

    info: T
    plugin: str
    distribution: str


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that was skipped, and why (one line)."""

    plugin: str
    distribution: str
    reason: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} ({self.distribution}) skipped: {self.reason}"


class Catalog(Generic[T]):
    """The things of one kind (methods, models, ...) that all plugins provide, by name."""

    def __init__(self, kind: str, entries: list[Registered[T]]):
        self.kind = kind
        self.entries = sorted(entries, key=lambda entry: entry.info.name)

    def __iter__(self) -> Iterator[Registered[T]]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return [entry.info.name for entry in self.entries]

    def find(self, name: str) -> Registered[T]:
        """The entry whose name (or name pattern) matches, or an error suggesting close names."""
        for entry in self.entries:
            if entry.info.matches(name):
                return entry
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(self.names()) or "none installed"
        raise UnknownNameError(f"unknown {self.kind[:-1]} {name!r}{hint} (known: {known})")

    def get(self, name: str) -> T:
        return self.find(name).info


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus entry-point loading with failure isolation and typed catalogs."""

    def __init__(self, strict: bool = False, disabled: tuple[str, ...] = ()):
        super().__init__(GROUP)
        self.add_hookspecs(hookspecs)
        self.strict = strict
        self.failures: list[PluginFailure] = []
        self.distributions: dict[str, str] = {}
        for name in disabled:
            self.set_blocked(name)
        self._catalogs: dict[str, Catalog[Any]] = {}

    def fail(self, plugin: str, distribution: str, reason: str) -> None:
        """Record a broken plugin: fatal in strict mode, else a one-line warning."""
        failure = PluginFailure(plugin, distribution, reason)
        if self.strict:
            raise PluginError(f"{failure} (strict plugin mode)")
        self.failures.append(failure)
        log.warning("%s", failure)

    def add_plugin(self, plugin: object, name: str, distribution: str) -> None:
        """Register one plugin object; a plugin with an invalid or unknown hook is skipped."""
        if self.is_blocked(name):
            return
        try:
            self.register(plugin, name=name)
            self.check_pending()
        except Exception as error:  # pluggy.PluginValidationError and friends
            if self.get_plugin(name) is not None:
                self.unregister(name=name)
            self.fail(name, distribution, _one_line(error))
            return
        self.distributions[name] = distribution
        self._catalogs.clear()

    def load_entrypoints(self, group: str = GROUP) -> None:
        """Import and register every entry point of ``group``, each in isolation."""
        for ep in sorted(entry_points(group=group), key=lambda ep: ep.name):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
            if self.is_blocked(ep.name) or self.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as error:
                self.fail(ep.name, dist, f"import failed: {_one_line(error)}")
                continue
            self.add_plugin(plugin, ep.name, dist)

    def catalog(self, kind: str) -> Catalog[Any]:
        """Everything of ``kind`` ("methods", "models", "datasets", "tracks") the plugins provide."""
        if kind not in self._catalogs:
            self._catalogs[kind] = Catalog(kind, self._collect(kind))
        return self._catalogs[kind]

    def _collect(self, kind: str) -> list[Registered[Any]]:
        hook_name, info_type = KINDS[kind]
        entries: dict[str, Registered[Any]] = {}
        for impl in getattr(self.hook, hook_name).get_hookimpls():
            plugin = impl.plugin_name
            dist = self.distributions.get(plugin, plugin)
            try:
                infos = list(impl.function() or ())
                bad = [info for info in infos if not isinstance(info, info_type)]
                if bad:
                    raise TypeError(f"returned {type(bad[0]).__name__}, not {info_type.__name__}")
            except Exception as error:
                self.fail(plugin, dist, f"{hook_name} raised {_one_line(error)}")
                continue
            for info in infos:
                if info.name in entries:
                    other = entries[info.name]
                    raise PluginError(
                        f"{kind[:-1]} {info.name!r} is provided twice: by plugin {other.plugin!r} "
                        f"({other.distribution}) and by plugin {plugin!r} ({dist})"
                    )
                entries[info.name] = Registered(info, plugin, dist)
        return list(entries.values())

    @property
    def methods(self) -> Catalog[MethodInfo]:
        return self.catalog("methods")

    @property
    def models(self) -> Catalog[ModelInfo]:
        return self.catalog("models")

    @property
    def datasets(self) -> Catalog[DatasetInfo]:
        return self.catalog("datasets")

    @property
    def tracks(self) -> Catalog[TrackInfo]:
        return self.catalog("tracks")


_manager: PluginManager | None = None


def env_strict() -> bool:
    return os.environ.get("KDBENCH_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes"}


def env_disabled() -> tuple[str, ...]:
    raw = os.environ.get("KDBENCH_DISABLE_PLUGINS", "")
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def get_plugin_manager(strict: bool | None = None) -> PluginManager:
    """The process-wide manager with all entry points loaded (created on first use)."""
    global _manager
    if _manager is None:
        manager = PluginManager(strict=env_strict() if strict is None else strict,
                                disabled=env_disabled())
        manager.load_entrypoints()
        _manager = manager
    return _manager


def reset_plugin_manager() -> None:
    """Forget the process-wide manager so that the next call reloads entry points."""
    global _manager
    _manager = None
