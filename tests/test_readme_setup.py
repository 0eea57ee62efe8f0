"""The README's two set-up commands are the whole installation: the test command installs every
plugin package in plugins/ whose tests it runs, and CI runs those commands as written."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[1]


def setup_commands() -> list[str]:
    """The commands CI runs: what .ci/run's own extraction prints from README.md."""
    script = (ROOT / ".ci" / "run").read_text()
    extract = re.search(r"< <\((awk .*?README\.md)\)", script, re.S).group(1)
    out = subprocess.run(["bash", "-c", extract], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_ci_runs_the_readme_commands_and_nothing_else() -> None:
    commands = setup_commands()
    assert len(commands) == 2
    assert commands[0].startswith("pip install -e . && kdbench run --track quickstart")
    assert commands[1].endswith("python -m pytest tests plugins")
    script = (ROOT / ".ci" / "run").read_text()
    assert "pytest" not in script and "pip install" not in script


def test_the_test_command_installs_every_plugin_package() -> None:
    test_command = setup_commands()[1]
    for plugin in sorted(ROOT.glob("plugins/*/pyproject.toml")):
        assert f"-e ./plugins/{plugin.parent.name}" in test_command, (
            f"README's test command does not install plugins/{plugin.parent.name}")
