"""Fixtures of the track tests: tiny data files in the real formats (from ``tests/data/files.py``)
and a ``kdbench run`` of one built-in track at its smoke budget on them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "data"))  # the writers of tiny data files

import files  # noqa: E402

from kdbench.cli import main  # noqa: E402


@pytest.fixture(autouse=True)
def tiny_run_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Streamed sets (ImageNet) decode in this process, and torch uses one thread: tiny batches
    gain nothing from more, and on a busy machine thread hand-offs cost more than the work."""
    monkeypatch.setenv("KDBENCH_DATA_WORKERS", "0")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def data_files() -> Any:
    """The module of writers: ``write_cifar``, ``write_mnist``, ``write_emnist``, ``write_imagenet``."""
    return files


@pytest.fixture
def run_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[[str], list[dict]]:
    """``run_smoke(track)``: ``kdbench run --track TRACK --budget smoke`` on the data written
    under ``tmp_path / "data"``; asserts exit 0 and returns the result files, parsed."""
    def run(track: str) -> list[dict]:
        code = main(["run", "--track", track, "--budget", "smoke", "--device", "cpu",
                     "--data-dir", str(tmp_path / "data"), "--results", str(tmp_path / "results"),
                     "--cache-dir", str(tmp_path / "cache")])
        out, err = capsys.readouterr()
        assert code == 0, err[-3000:]
        assert "Traceback" not in err
        folder = tmp_path / "results" / track / "smoke"
        return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]

    return run
