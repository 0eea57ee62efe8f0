"""The plugin manager: loads entry points one by one, isolates broken plugins, looks names up.

A plugin that fails to import, implements no kdbench hook, declares an unknown hook or whose hook
raises is reported in one line and skipped, so the rest of kdbench keeps working; strict mode
(``--strict-plugins`` or ``KDBENCH_STRICT_PLUGINS=1``) turns that into an error. Two plugins that
provide the same name, or model families of two plugins whose name patterns overlap (one matches
the other's name or ``example``), are a conflict: reported in one line that names both and how to
disable one, and an error wherever a name of either is used (always, in strict mode).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

import pluggy

from kdbench import hookspecs
from kdbench.errors import PluginError, UnknownNameError
from kdbench.messages import close_names, did_you_mean, one_line
from kdbench.plugin import API_VERSION
from kdbench.types import (
    DatasetInfo,
    ExecutorInfo,
    LoggerInfo,
    MethodInfo,
    ModelInfo,
    ProbeInfo,
    TrackInfo,
)

GROUP = "kdbench"
log = logging.getLogger("kdbench.plugins")

T = TypeVar("T", MethodInfo, ModelInfo, DatasetInfo, TrackInfo, LoggerInfo, ExecutorInfo, ProbeInfo)

KINDS: dict[str, tuple[str, type]] = {
    "methods": ("kdbench_methods", MethodInfo),
    "models": ("kdbench_models", ModelInfo),
    "datasets": ("kdbench_datasets", DatasetInfo),
    "tracks": ("kdbench_tracks", TrackInfo),
    "loggers": ("kdbench_loggers", LoggerInfo),
    "executors": ("kdbench_executors", ExecutorInfo),
    "probes": ("kdbench_probes", ProbeInfo),
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


@dataclass(frozen=True)
class Conflict:
    """A name that several plugins provide; none of them gets it until all but one are disabled."""

    kind: str
    name: str
    providers: tuple[Registered[Any], ...]

    def __str__(self) -> str:
        by = [f"plugin {p.plugin!r} ({p.distribution})" for p in self.providers]
        times = "twice" if len(by) == 2 else f"{len(by)} times"
        keep = next((p for p in self.providers if p.distribution.split(" ")[0] == "kdbench"),
                    self.providers[0])
        others = ",".join(p.plugin for p in self.providers if p is not keep)
        return (f"{self.kind[:-1]} {self.name!r} is provided {times}: by {', by '.join(by[:-1])} and "
                f"by {by[-1]}; to use the one from {keep.plugin!r}, set "
                f"KDBENCH_DISABLE_PLUGINS={others}")

    def covers(self, name: str) -> bool:
        return any(p.info.matches(name) for p in self.providers)


def shared_name(a: Any, b: Any) -> str | None:
    """A name that both descriptors match, from their names and declared ``example`` names; the
    registry's test for two model families whose name patterns overlap."""
    witnesses = (a.name, getattr(a, "example", None), b.name, getattr(b, "example", None))
    return next((w for w in witnesses if w and a.matches(w) and b.matches(w)), None)


def overlaps(kind: str, entries: list[Registered[Any]]) -> tuple[Conflict, ...]:
    """Conflicts between entries of different plugins that match a shared name: a name pattern
    that overlaps another plugin's is ambiguous, like a name provided twice."""
    found = []
    for i, a in enumerate(entries):
        for b in entries[i + 1:]:
            name = shared_name(a.info, b.info) if a.plugin != b.plugin else None
            if name is not None:
                found.append(Conflict(kind, name, (a, b)))
    return tuple(found)


def naming(pattern: str) -> str:
    """A name pattern for people: ``wrn-(?P<depth>\\d+)-(?P<k>\\d+)`` -> ``wrn-{depth}-{k}``."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern).replace("\\", "")


def spelled(info: Any) -> str:
    """How to write a name of ``info``: ``'kd'``, or ``'wrn-{depth}-{k}' (e.g. 'wrn-16-2')``."""
    pattern = getattr(info, "pattern", None)
    if pattern is None:
        return repr(info.name)
    example = getattr(info, "example", None)
    return repr(naming(pattern)) + (f" (e.g. {example!r})" if example else "")


class Catalog(Generic[T]):
    """The things of one kind (methods, models, ...) that all plugins provide, by name; a name
    that several plugins provide is a ``Conflict`` and an error where it is used."""

    def __init__(self, kind: str, entries: list[Registered[T]], conflicts: tuple[Conflict, ...] = (),
                 broken: tuple[PluginFailure, ...] = ()):
        self.kind = kind
        self.entries: list[Registered[T]] = sorted(entries, key=lambda entry: entry.info.name)
        self.conflicts = conflicts
        self.broken = broken  # plugins that were skipped: an unknown name may be theirs

    def __iter__(self) -> Iterator[Registered[T]]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return [entry.info.name for entry in self.entries]

    def find(self, name: str) -> Registered[T]:
        """The entry whose name (or name pattern) matches, or an error suggesting close names."""
        for conflict in self.conflicts:
            if conflict.covers(name):
                raise PluginError(str(conflict))
        for entry in self.entries:
            if entry.info.matches(name):
                return entry
        candidates = {entry.info.name: entry.info for entry in self.entries}
        for entry in self.entries:
            info = entry.info
            if isinstance(info, ModelInfo) and info.example:
                candidates[info.example] = info
        hint = did_you_mean(spelled(candidates[c]) for c in close_names(name, candidates, cutoff=0.5))
        known = ", ".join(naming(e.info.pattern) if isinstance(e.info, ModelInfo) and e.info.pattern
                          else e.info.name for e in self.entries) or "none installed"
        skipped = "".join(f"; plugin {failure.plugin!r} ({failure.distribution}) was skipped "
                          f"({failure.reason}), which may be why" for failure in self.broken)
        raise UnknownNameError(f"unknown {self.kind[:-1]} {name!r}{hint} (known: {known}){skipped}")

    def get(self, name: str) -> T:
        return self.find(name).info


HOOKS = tuple(sorted(name for name in dir(hookspecs) if name.startswith("kdbench_")))


def unknown_hooks(plugin: object) -> str | None:
    """Why ``plugin`` cannot load when it marks a function that is no kdbench hook (a misspelling)."""
    for name in sorted(dir(plugin)):
        if hasattr(getattr(plugin, name, None), f"{GROUP}_impl") and name not in HOOKS:
            hint = did_you_mean(repr(c) for c in close_names(name, HOOKS, n=1)) \
                or f" (the hooks: {', '.join(HOOKS)})"
            return f"{name!r} is marked @kdbench.hookimpl but is no kdbench hook{hint}"
    return None


def unmarked_hooks(plugin: object) -> list[str]:
    """Functions of ``plugin`` named like a hook but not marked as one (pluggy ignores them)."""
    return [name for name in sorted(dir(plugin)) if name in HOOKS
            and callable(getattr(plugin, name)) and not hasattr(getattr(plugin, name), f"{GROUP}_impl")]


def api_mismatch(plugin: object) -> str | None:
    """Why ``plugin`` cannot load when its ``KDBENCH_API`` names another major version of the plugin
    API, or a newer minor one, than ``API_VERSION``; None when it fits or declares nothing."""
    declared = getattr(plugin, "KDBENCH_API", None)
    if declared is None:
        return None
    if not isinstance(declared, str) or not re.fullmatch(r"\d+(\.\d+)?", declared):
        return f"KDBENCH_API must be a version string such as '1' or '1.0', not {declared!r}"
    major, _, minor = declared.partition(".")
    ours_major, ours_minor = (int(part) for part in API_VERSION.split("."))
    if int(major) != ours_major or (minor and int(minor) > ours_minor):
        return (f"built for kdbench plugin API {declared}, but this kdbench provides {API_VERSION}; "
                "install a release of the plugin made for it")
    return None


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus entry-point loading with failure isolation and typed catalogs."""

    def __init__(self, strict: bool = False, disabled: tuple[str, ...] = ()):
        super().__init__(GROUP)
        self.add_hookspecs(hookspecs)
        self.strict = strict
        self.failures: list[PluginFailure] = []
        self.distributions: dict[str, str] = {}
        self.blocked = tuple(disabled)
        self.disabled: dict[str, str] = {}  # installed plugins that ``blocked`` names: distribution
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
        """Register one plugin object; a plugin with an invalid, unknown or no hook is skipped."""
        if self.is_blocked(name):
            return
        refused = api_mismatch(plugin) or unknown_hooks(plugin)
        if refused:
            self.fail(name, distribution, refused)
            return
        try:
            self.register(plugin, name=name)
            self.check_pending()
        except Exception as error:  # pluggy.PluginValidationError and friends
            if self.get_plugin(name) is not None:
                self.unregister(name=name)
            self.fail(name, distribution, one_line(error))
            return
        if not self.get_hookcallers(plugin):
            self.unregister(name=name)
            self.fail(name, distribution, "registers no kdbench hook (no function marked "
                                          "@kdbench.hookimpl)")
            return
        for function in unmarked_hooks(plugin):
            log.warning("plugin %r (%s): %s is not marked @kdbench.hookimpl, so kdbench ignores it",
                        name, distribution, function)
        self.distributions[name] = distribution
        self._catalogs.clear()

    def load_entrypoints(self, group: str = GROUP) -> None:
        """Import and register every entry point of ``group``, each in isolation."""
        for ep in sorted(entry_points(group=group), key=lambda ep: ep.name):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
            if self.is_blocked(ep.name):
                self.disabled[ep.name] = dist
                continue
            if self.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as error:
                self.fail(ep.name, dist, f"import failed: {one_line(error)}")
                continue
            self.add_plugin(plugin, ep.name, dist)

    def catalog(self, kind: str) -> Catalog[Any]:
        """Everything of ``kind`` (a key of ``KINDS``) the plugins provide."""
        if not self._catalogs:
            self._catalogs = self._collect_all()
        return self._catalogs[kind]

    @property
    def conflicts(self) -> list[Conflict]:
        """Every name that several plugins provide, over all kinds."""
        return [conflict for kind in KINDS for conflict in self.catalog(kind).conflicts]

    def _collect_all(self) -> dict[str, Catalog[Any]]:
        """Call every hook of every plugin; a plugin whose hook fails is unregistered and the
        collection starts again without it, so that no catalog holds anything of a skipped plugin."""
        while True:
            failed = len(self.failures)
            catalogs = {kind: self._collect(kind) for kind in KINDS}
            if len(self.failures) == failed:
                break
        for catalog in catalogs.values():
            catalog.broken = tuple(self.failures)
            for conflict in catalog.conflicts:
                if self.strict:
                    raise PluginError(f"{conflict} (strict plugin mode)")
                log.warning("%s", conflict)
        return catalogs

    def _collect(self, kind: str) -> Catalog[Any]:
        hook_name, info_type = KINDS[kind]
        providers: dict[str, list[Registered[Any]]] = {}
        for impl in getattr(self.hook, hook_name).get_hookimpls():
            plugin = impl.plugin_name
            dist = self.distributions.get(plugin, plugin)
            try:
                infos = list(impl.function() or ())
                bad = [info for info in infos if not isinstance(info, info_type)]
                if bad:
                    raise TypeError(f"returned {type(bad[0]).__name__}, not {info_type.__name__}")
            except Exception as error:
                self.unregister(name=plugin)
                self.fail(plugin, dist, f"{hook_name} raised {one_line(error)}")
                continue
            for info in infos:
                providers.setdefault(info.name, []).append(Registered(info, plugin, dist))
        entries = [found[0] for found in providers.values() if len(found) == 1]
        conflicts = tuple(Conflict(kind, name, tuple(found)) for name, found in sorted(providers.items())
                          if len(found) > 1)
        return Catalog(kind, entries, conflicts + overlaps(kind, entries))

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

    @property
    def loggers(self) -> Catalog[LoggerInfo]:
        return self.catalog("loggers")

    @property
    def executors(self) -> Catalog[ExecutorInfo]:
        return self.catalog("executors")

    @property
    def probes(self) -> Catalog[ProbeInfo]:
        return self.catalog("probes")

_manager: PluginManager | None = None


def env_strict() -> bool:
    return os.environ.get("KDBENCH_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes"}


def env_disabled() -> tuple[str, ...]:
    raw = os.environ.get("KDBENCH_DISABLE_PLUGINS", "")
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def get_plugin_manager(strict: bool | None = None) -> PluginManager:
    """The process-wide manager with all entry points loaded (created on first use, and again
    when strict mode is asked of a lenient one)."""
    global _manager
    strict = env_strict() if strict is None else strict
    if _manager is None or (strict and not _manager.strict):
        manager = PluginManager(strict=strict, disabled=env_disabled())
        manager.load_entrypoints()
        _manager = manager
    return _manager


def reset_plugin_manager() -> None:
    """Forget the process-wide manager so that the next call reloads entry points."""
    global _manager
    _manager = None
