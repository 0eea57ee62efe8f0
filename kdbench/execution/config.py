"""An executor and its options from a file (``--executor-config FILE``), so that a cluster's
settings are written once and kept beside the track::

    name: slurm
    options: {partition: gpu, gpus: 1, time: 600, folder: /shared/slurm}

The options are checked against the executor's own ``Params``; a problem is one line naming the
file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kdbench.errors import KdbenchError
from kdbench.plugins import PluginManager, one_line
from kdbench.specfile import duplicate_keys
from kdbench.yamlload import TrackLoader, load_yaml


class ExecutorConfig(BaseModel):
    """What an executor config file holds: the executor's name and its options."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="the executor: local, ray, slurm or a plugin's")
    options: dict[str, Any] = Field(default_factory=dict, description="the executor's options")


def first_error(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> str:
    """A pydantic error's first problem as ``field: message``."""
    problem = error.errors()[0]
    where = ".".join(str(part) for part in (*prefix, *problem["loc"])) or "(top level)"
    return f"{where}: {problem['msg']}"


def read_executor_config(path: Path, pm: PluginManager) -> ExecutorConfig:
    """The executor and options of ``path``, checked; any problem is one line naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=TrackLoader)
        data = load_yaml(text)
    except OSError as error:
        raise KdbenchError(f"--executor-config {path}: cannot read it ({one_line(error)})") from None
    except Exception as error:  # YAML's errors, undecodable bytes
        raise KdbenchError(f"{path}: not valid YAML ({one_line(error)})") from None
    duplicates = duplicate_keys(root) if root is not None else []
    if duplicates:  # YAML keeps the last silently: `name: slurm` then `name: local` ran locally
        raise KdbenchError(f"{path}: {duplicates[0]}")
    try:
        config = ExecutorConfig.model_validate(data)
    except ValidationError as error:
        raise KdbenchError(f"{path}: {first_error(error)} (give name: and options:)") from None
    try:
        entry = pm.executors.find(config.name)
    except KdbenchError as error:
        raise KdbenchError(f"{path}: name: {error}") from None
    try:
        entry.info.Params.model_validate(config.options)
    except ValidationError as error:
        raise KdbenchError(f"{path}: {first_error(error, ('options',))} (executor {config.name!r}; "
                           "`kdbench list executors`)") from None
    return config
