"""``smoke_run``: a plugin's method through the whole pipeline (plan, teacher, training, result file)
on the built-in quickstart track at its smoke budget, in seconds."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from kdbench.testing.contract import ContractError


def smoke_run(method: str, folder: Path | str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run ``method`` (with ``params``) distilled from quickstart's first teacher at budget smoke,
    with results and cache under ``folder``; the result file's content. ``ContractError`` when the
    command fails or the run does not finish ``ok``."""
    from kdbench import cli
    from kdbench.plugins import get_plugin_manager

    folder = Path(folder)
    track = yaml.safe_load(get_plugin_manager().tracks.get("quickstart").path.read_text(encoding="utf-8"))
    track["teachers"] = track["teachers"][:1]
    track["methods"] = [{"name": method, "params": dict(params or {})}]
    track.pop("contrasts", None)  # they name the track's own methods
    spec = folder / f"{method}.yaml"
    spec.write_text(yaml.safe_dump(track), encoding="utf-8")
    code = cli.main(["run", "--spec", str(spec), "--budget", "smoke", "--results", str(folder / "results"),
                     "--cache-dir", str(folder / "cache"), "--device", "cpu"])
    if code != 0:
        raise ContractError("smoke_run", method, "exit code", f"kdbench run exited with {code}")
    results = [json.loads(path.read_text(encoding="utf-8"))
               for path in (folder / "results" / "quickstart" / "smoke").glob("*.json")]
    if len(results) != 1 or results[0]["status"] != "ok":
        raise ContractError("smoke_run", method, "result", "expected one ok result, found "
                            f"{[r['status'] for r in results]}")
    return results[0]
