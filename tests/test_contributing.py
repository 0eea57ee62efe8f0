"""CONTRIBUTING.md's tutorial, "Your first method plugin", works as written: its files are
extracted from the fenced blocks, installed as a real distribution without pip (a ``*.dist-info``
folder with METADATA and entry_points.txt on sys.path), listed, validated and run."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from kdbench import cli
from kdbench.errors import DataNotFoundError
from kdbench.plugins import PluginManager, get_plugin_manager, reset_plugin_manager
from kdbench.testing import check_dataset

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

CONTRIBUTING = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"
SECTION = "## Your first method plugin"
BLOCK = re.compile(r'^```(\w+) title="([^"]+)"\n(.*?)^```$', re.MULTILINE | re.DOTALL)
PACKAGE = "kdbench_logit_mse"
FILES = ["pyproject.toml", f"{PACKAGE}/__init__.py", f"{PACKAGE}/plugin.py",
         f"{PACKAGE}/logit-mse.yaml", f"{PACKAGE}/npz.py", "tests/test_logit_mse.py"]
PUBLIC = {"kdbench.plugin", "kdbench.testing"}


def section() -> str:
    text = CONTRIBUTING.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start:end if end >= 0 else None]


def blocks() -> dict[str, str]:
    """The tutorial's files: each fenced block with a title, by that title."""
    return {title: code for _, title, code in BLOCK.findall(section())}


def extra_entry_point() -> str:
    """The line the tutorial says to add to register the data set module."""
    match = re.search(r"one more line under `\[project.entry-points.kdbench\]`:\s*`([^`]+)`", section())
    assert match, "the tutorial no longer says how to register the data set module"
    return match.group(1)


def install(project: Path, monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...] = ()) -> str:
    """Write the tutorial into ``project`` and make it an installed distribution; returns its
    "name version" as the plugin manager reports it."""
    for title, code in blocks().items():
        path = project / title
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    info = project / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\n"
                                   f"Version: {meta['version']}\n", encoding="utf-8")
    points = [f'{name} = {target}' for name, target in meta["entry-points"]["kdbench"].items()]
    points += [line.replace('"', "") for line in extra]
    (info / "entry_points.txt").write_text("[kdbench]\n" + "\n".join(points) + "\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(project))
    reset_plugin_manager()
    return f"{meta['name']} {meta['version']}"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "kdbench-logit-mse"
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]
    reset_plugin_manager()


def test_the_tutorial_gives_every_file_of_its_layout() -> None:
    assert sorted(blocks()) == sorted(FILES)
    layout = section().split("```text", 1)[1].split("```", 1)[0]
    for name in ("pyproject.toml", "__init__.py", "plugin.py", "logit-mse.yaml"):
        assert name in layout


def test_the_plugin_is_listed_with_its_distribution(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    distribution = install(project, monkeypatch)
    pm = PluginManager(strict=True)
    pm.load_entrypoints()
    for hook in (pm.hook.kdbench_methods, pm.hook.kdbench_tracks):
        assert "logit-mse" in {impl.plugin_name for impl in hook.get_hookimpls()}
    assert pm.methods.find("logit-mse").distribution == distribution
    assert pm.tracks.find("logit-mse").distribution == distribution
    assert cli.main(["list", "methods"]) == 0
    assert re.search(r"^logit-mse\s.*\skdbench-logit-mse$", capsys.readouterr().out, re.MULTILINE)
    assert cli.main(["validate", str(project / PACKAGE / "logit-mse.yaml")]) == 0


@pytest.mark.slow
def test_the_one_test_a_plugin_needs_passes(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(project, monkeypatch)
    spec = importlib.util.spec_from_file_location("test_logit_mse", project / "tests" / "test_logit_mse.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.test_logit_mse_keeps_the_contract()


def test_every_example_imports_only_the_public_api() -> None:
    code = "\n".join(code for language, _, code in re.findall(r'^```(\w+)(?: title="([^"]+)")?\n(.*?)^```$',
                                                           CONTRIBUTING.read_text(encoding="utf-8"),
                                                           re.MULTILINE | re.DOTALL) if language == "python")
    imported = set(re.findall(r"^\s*(?:from|import) (kdbench[\w.]*)", code, re.MULTILINE))
    assert imported and imported <= PUBLIC, imported - PUBLIC


def test_the_loss_is_the_formula(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(project, monkeypatch)
    plugin = importlib.import_module(f"{PACKAGE}.plugin")
    s = np.array([[1.0, -2.0, 0.5], [0.0, 0.5, 3.0]])
    t = np.array([[0.0, -1.0, 0.5], [1.0, 1.5, 1.0]])
    expected = np.mean([sum((a - b) ** 2 for a, b in zip(x, y, strict=True))
                        for x, y in zip(s, t, strict=True)])
    got = plugin.logit_mse_loss(torch.tensor(s), torch.tensor(t)).item()
    assert got == pytest.approx(expected, rel=1e-12) and got == pytest.approx((2 + 6) / 2)
    assert plugin.logit_mse_loss(torch.tensor(t), torch.tensor(t)).item() == 0.0
    assert plugin.LogitMSEParams().model_dump() == {"ce_weight": 0.0, "mse_weight": 1.0}


@pytest.mark.slow
def test_the_smoke_run_of_the_tutorial_track(project: Path, monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    install(project, monkeypatch)
    results = tmp_path / "results"
    code = cli.main(["run", "--track", "logit-mse", "--budget", "smoke", "--results", str(results),
                     "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"])
    assert code == 0
    runs = [json.loads(p.read_text()) for p in (results / "logit-mse" / "smoke").glob("*.json")]
    assert sorted(run["spec"]["method"]["name"] for run in runs) == ["ce", "kd", "logit-mse"]
    assert all(run["status"] == "ok" for run in runs)
    [ours] = [run for run in runs if run["spec"]["method"]["name"] == "logit-mse"]
    assert set(ours["history"][-1]["loss"]) == {"ce", "mse"}


def test_a_mistyped_parameter_is_reported_as_the_tutorial_says(
        project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    install(project, monkeypatch)
    claim = re.search(r"\(`([\w.-]+): (methods\.2\.params\.(\w+) \(line \d+\): unknown field)`\)",
                      section())
    assert claim, "the tutorial no longer shows the error of a mistyped parameter"
    path = project / PACKAGE / claim.group(1)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{ce_weight: 0.1}", f"{{ce_weight: 0.1, {claim.group(3)}: 1}}"),
                    encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 2
    assert f"{path}: {claim.group(2)}" in capsys.readouterr().err


def test_the_data_set_example(project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    distribution = install(project, monkeypatch, extra=(extra_entry_point(),))
    pm = get_plugin_manager(strict=True)
    assert "npz" in {impl.plugin_name for impl in pm.hook.kdbench_datasets.get_hookimpls()}
    entry = pm.datasets.find("npz")
    assert entry.distribution == distribution and entry.plugin == "npz"
    info = entry.info
    params = info.Params.model_validate({"folder": "tiny", "num_classes": 3})
    with pytest.raises(DataNotFoundError, match="tiny/train.npz does not exist"):
        info.factory(params, "train", root=tmp_path / "data")
    (tmp_path / "data" / "tiny").mkdir(parents=True)
    images = np.arange(6 * 1 * 4 * 4).reshape(6, 1, 4, 4) % 256
    np.savez(tmp_path / "data" / "tiny" / "train.npz", images=images, labels=np.arange(6) % 3)
    data = info.factory(params, "train", root=tmp_path / "data")
    assert len(data) == 6 and data.num_classes == 3 and data.images.dtype == torch.uint8
    assert data.in_channels == 1 and data.image_size == 4
    check_dataset("npz", {"folder": "tiny", "num_classes": 3}, root=tmp_path / "data", splits=("train",))
