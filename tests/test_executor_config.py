"""``--executor-config FILE``: an executor and its options from a YAML file, checked by the
executor's own Params, with --executor-opt on top; every problem one line naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdbench.cli import main
from kdbench.errors import KdbenchError
from kdbench.execution.config import read_executor_config


@pytest.fixture
def track(tiny_track, write_track) -> Path:
    tiny_track["methods"] = [{"name": "ce"}]
    tiny_track["seeds"] = [0]
    return write_track(tiny_track)


def test_a_file_names_the_executor_and_its_checked_options(tmp_path, pm) -> None:
    path = tmp_path / "ray.yaml"
    path.write_text("name: ray\noptions: {address: auto, num_gpus: 1}\n")
    config = read_executor_config(path, pm)
    assert config.name == "ray" and config.options == {"address": "auto", "num_gpus": 1}


@pytest.mark.parametrize("text, named", [
    ("name: ray\noptions: {num_gpus: -1}\n", "ex.yaml: options.num_gpus: Input should be greater than "
                                             "or equal to 0 (executor 'ray'"),
    ("name: slurm\noptions: {partition: gpu, gpu: 1}\n",
     "ex.yaml: options.gpu: Extra inputs are not permitted"),
    ("name: rya\n", "ex.yaml: name: "),
    ("name: local\njobs: 2\n", "ex.yaml: jobs: Extra inputs are not permitted"),
    ("options: {jobs: 2}\n", "ex.yaml: name: Field required"),
    ("- ray\n", "ex.yaml: (top level): Input should be a valid dictionary"),
    ("name: [ray\n", "ex.yaml: not valid YAML"),
    ("name: slurm\nname: local\n", "ex.yaml: name (line 2): duplicate key 'name', also on line 1")])
def test_a_bad_file_is_one_line_naming_file_and_field(tmp_path, pm, text, named) -> None:
    path = tmp_path / "ex.yaml"
    path.write_text(text)
    with pytest.raises(KdbenchError) as caught:
        read_executor_config(path, pm)
    assert named in str(caught.value) and len(str(caught.value).splitlines()) == 1, caught.value


def test_the_command_line_reads_the_file_and_its_options_win(track, tmp_path, capsys) -> None:
    path = tmp_path / "ex.yaml"
    path.write_text("name: local\noptions: {jobs: 0}\n")
    code = main(["run", "--spec", str(track), "--budget", "smoke", "--plan", "--executor-config", str(path)])
    assert code == 2 and "ex.yaml: options.jobs: Input should be greater than or equal to 1" \
        in capsys.readouterr().err
    path.write_text("name: local\noptions: {jobs: 2}\n")
    code = main(["run", "--spec", str(track), "--budget", "smoke", "--plan", "--executor-config", str(path),
                 "--executor-opt", "jobs=0"])
    assert code == 2 and "--executor-opt jobs=0: Input should be greater than or equal to 1" \
        in capsys.readouterr().err
    code = main(["run", "--spec", str(track), "--budget", "smoke", "--plan", "--executor-config", str(path),
                 "--executor", "ray"])
    err = capsys.readouterr().err
    assert code == 2 and f"--executor ray, but {path} names executor 'local'" in err
    assert len(err.splitlines()) == 1
    code = main(["run", "--spec", str(track), "--budget", "smoke", "--plan", "--executor-config", str(path)])
    assert code == 0 and "1 run" in capsys.readouterr().out


def test_a_missing_file_is_one_line(track, tmp_path, capsys) -> None:
    code = main(["run", "--spec", str(track), "--executor-config", str(tmp_path / "none.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and "--executor-config" in err and "none.yaml" in err and len(err.splitlines()) == 1
