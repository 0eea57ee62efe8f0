"""``--teacher-checkpoints DIR``: a folder of teacher checkpoint files, each named by a teacher's
label or model, as the ``--set teachers.<i>.checkpoint=...`` options that point the track's
teachers at them, so a packaged track is not edited.

``<name>.safetensors`` is format ``kdbench``, ``<name>.pth`` and ``<name>.pt`` are format
``repdistiller``. Each file's sha256 is the one the track's own ``checkpoint`` gives for that
teacher, else the one ``DIR/SHA256SUMS`` lists for the file (``sha256sum``'s output); a file with
neither is an error. Teachers with no file are trained as the track says.
"""

from __future__ import annotations

import re
from pathlib import Path

from kdbench.errors import KdbenchError
from kdbench.overrides import Override
from kdbench.specs import TeacherEntry, TrackSpec

FORMATS = {".safetensors": "kdbench", ".pth": "repdistiller", ".pt": "repdistiller"}
SUMS = "SHA256SUMS"
SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def read_sums(path: Path) -> dict[str, str]:
    """File name -> sha256 from a ``sha256sum`` listing; none when there is no such file."""
    if not path.is_file():
        return {}
    sums = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = SUM_LINE.match(line.strip())
        if line.strip() and match is None:
            raise KdbenchError(f"{path}, line {number}: expected '<sha256>  <file name>' as "
                               "sha256sum prints it")
        if match:
            sums[Path(match.group(2)).name] = match.group(1).lower()
    return sums


def file_for(folder: Path, names: list[str]) -> Path | None:
    """The one checkpoint file in ``folder`` named by the first of ``names`` that has one."""
    for name in names:
        if "/" in name or name.startswith("."):
            continue
        found = [folder / f"{name}{suffix}" for suffix in FORMATS if (folder / f"{name}{suffix}").is_file()]
        if len(found) > 1:
            raise KdbenchError(f"--teacher-checkpoints {folder}: {' and '.join(p.name for p in found)} "
                               f"both name {name}; keep one")
        if found:
            return found[0]
    return None


def loadable(entry: TeacherEntry) -> bool:
    """Whether a teacher may be matched by its model's name: one network of the track's recipe."""
    return entry.ensemble == 1 and entry.recipe is None and entry.snapshot_fraction is None


def checkpoint_overrides(folder: Path, track: TrackSpec) -> tuple[Override, ...]:
    """The ``--set`` options that load ``track``'s teachers from the files in ``folder``."""
    folder = folder.expanduser()
    if not folder.is_dir():
        raise KdbenchError(f"--teacher-checkpoints {folder}: no such folder")
    sums = read_sums(folder / SUMS)
    overrides = []
    for i, entry in enumerate(track.teachers):
        label = track.teacher_label(entry)
        path = file_for(folder, [label, *([entry.model.name] if loadable(entry) else [])])
        if path is None:
            continue
        sha256 = entry.checkpoint.sha256 if entry.checkpoint else sums.get(path.name)
        if sha256 is None:
            raise KdbenchError(f"--teacher-checkpoints {folder}: no sha256 for {path.name} (teacher "
                               f"{label}): list it in {SUMS} there (sha256sum {path.name} >> {SUMS})")
        fmt = entry.checkpoint.format if entry.checkpoint else FORMATS[path.suffix]
        value = {"path": str(path.resolve()), "sha256": sha256, "format": fmt}
        text = f"teachers.{i}.checkpoint={{path: {value['path']}, sha256: {sha256}, format: {fmt}}}"
        overrides.append(Override(text, ("teachers", str(i), "checkpoint"), value))
    if not overrides:
        example = track.teacher_label(track.teachers[0]) if track.teachers else "LABEL"
        raise KdbenchError(f"--teacher-checkpoints {folder}: no file there is named by a teacher's "
                           f"label or model (e.g. {example}.pth or {example}.safetensors)")
    return tuple(overrides)
