"""``kdbench bench``: it times the engine's own step and says so in one JSON object; bad input is
one line and exit code 2, before anything is timed."""

from __future__ import annotations

import json

import pytest
import torch

from kdbench.bench.data import synthetic
from kdbench.bench.refs import parse_ref
from kdbench.cli import main
from kdbench.errors import KdbenchError
from kdbench.specs import Ref

TINY = ["--teacher", "mlp(hidden=[32])", "--student", "mlp(hidden=[8])", "--dataset", "digits",
        "--batch-size", "32", "--steps", "2", "--warmup", "1"]


def bench(capsys, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``kdbench bench ARGS`` (argparse's errors exit)."""
    try:
        code = main(["bench", *args])
    except SystemExit as stop:
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_reports_throughput_teacher_work_machine_and_settings(capsys) -> None:
    code, out, err = bench(capsys, *TINY, "--json", "--augment", "crop", "--memory-format", "channels_last")
    assert code == 0, err
    result = json.loads(out)
    assert result["images_per_s"] > 0 and result["steady_s"] > 0 and result["warmup_s"] > 0
    assert result["teacher_forwards_per_image"] == 1.0  # kd runs the teacher on every batch
    assert result["teacher_table_s"] is None  # augmented: no table of its logits
    assert result["device"] == "cpu" and result["threads"] == torch.get_num_threads()
    assert result["torch"] == torch.__version__ and result["hardware"]["cpu"]["model"]
    assert (result["teacher"], result["student"], result["method"]) == \
        ("mlp(hidden=[32])", "mlp(hidden=[8])", "kd")
    assert (result["batch_size"], result["augment"], result["precision"]) == (32, ["crop"], "fp32")
    assert result["memory_format"] == "channels_last"
    assert (result["steps"], result["warmup"], result["compile"], result["synthetic"]) == (2, 1, None, False)


def test_a_method_without_teacher_does_no_teacher_work_and_text_is_one_line(capsys) -> None:
    code, out, err = bench(capsys, *TINY, "--method", "ce", "--augment", "none")
    assert code == 0, err
    assert out.count("\n") == 1 and "0 teacher forwards per image" in out and "images/s" in out


def test_unaugmented_kd_is_timed_on_the_teacher_logits_table_as_kdbench_run_serves_it(capsys) -> None:
    code, out, err = bench(capsys, *TINY, "--json", "--augment", "none")
    assert code == 0, err
    result = json.loads(out)
    assert result["teacher_forwards_per_image"] == 0.0 and result["teacher_table_s"] > 0
    code, out, err = bench(capsys, *TINY, "--json", "--augment", "none", "--method", "hint")
    assert code == 0, err  # a feature method keeps its teacher live
    assert json.loads(out)["teacher_forwards_per_image"] == 1.0


def test_view_bank_serves_an_augmented_teacher_made_before_the_timing(capsys) -> None:
    code, out, err = bench(capsys, *TINY, "--json", "--augment", "crop", "--view-bank", "--examples", "100")
    assert code == 0, err
    result = json.loads(out)
    assert result["teacher_forwards_per_image"] == 0.0 and result["teacher_bank_s"] > 0
    assert (result["bank_views"], result["examples"], result["view_bank"]) == (81, 100, True)
    code, out, err = bench(capsys, *TINY, "--json", "--augment", "crop")
    assert code == 0, err
    live = json.loads(out)  # without the flag the teacher runs on every batch, over all 1,300 digits
    assert (live["teacher_forwards_per_image"], live["teacher_bank_s"], live["examples"]) == (1.0, None, 1300)


def test_synthetic_images_have_the_data_sets_shape() -> None:
    data = synthetic("cifar100", 6)
    assert data.images.shape == (6, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.num_classes == 100 and int(data.labels.max()) < 100
    with pytest.raises(KdbenchError, match="^--synthetic --dataset nope: its shape is not known"):
        synthetic("nope", 6)


def test_models_and_methods_are_written_as_boards_show_them() -> None:
    assert parse_ref("lenet5", "--teacher") == Ref(name="lenet5")
    assert parse_ref("lenet5(width=2)", "--teacher") == Ref(name="lenet5", params={"width": 2})
    assert parse_ref("kd(temperature=2, kd_weight=0.5)", "--method") == \
        Ref(name="kd", params={"temperature": 2, "kd_weight": 0.5})
    assert parse_ref("mlp(hidden=[64, 32])", "--student") == Ref(name="mlp", params={"hidden": [64, 32]})


@pytest.mark.parametrize(("args", "message"), [
    (["--teacher", "lenet6"], "--teacher lenet6: unknown model 'lenet6'; did you mean 'lenet5'"),
    (["--teacher", "mlp(hiden=[3])"], "--teacher mlp(hiden=[3]): params.hiden: unknown field"),
    (["--teacher", "mlp(hidden=[3]"], "--teacher 'mlp(hidden=[3]': write NAME or NAME(key=value, ...)"),
    (["--method", "kd(temperature=-1)"],
     "--method kd(temperature=-1): params.temperature: Input should be greater than 0"),
    (["--steps", "0"], "--steps 0: give 1 or more"),
    (["--warmup", "-1"], "--warmup -1: give 0 or more"),
    (["--batch-size", "5000"], "--batch-size 5000: digits has only"),
    (["--augment", "rotate"], "argument --augment: 'rotate': use crop, flip, crop,flip or none"),
    (["--precision", "fp8"], "argument --precision: invalid choice: 'fp8'"),
    (["--compile", "nope"], "--compile nope: not a torch.compile backend"),
    (["--dataset", "cifar10"], "cifar10: train pickles"),
    (["--dataset", "nope", "--synthetic"], "--synthetic --dataset nope: its shape is not known"),
    (["--examples", "0"], "--examples 0: give 1 or more"),
    (["--examples", "10"], "--batch-size 32: --examples 10 gives only 10 training images"),
    (["--view-bank", "--augment", "none"], "--view-bank: the images are not augmented"),
    (["--view-bank", "--method", "hint"], "--view-bank: Hint reads the teacher's features"),
    (["--view-bank", "--method", "ce"], "--view-bank: CE has no teacher"),
    (["--view-bank", "--synthetic", "--dataset", "cifar100", "--examples", "20000"],
     "--view-bank: the bank would take 1.2 GiB, more than 1 GiB"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, message) -> None:
    code, out, err = bench(capsys, *TINY, *args)
    assert code == 2 and out == ""
    errors = [line for line in err.splitlines() if not line.startswith("kdbench: warning: ")]
    assert len(errors) == 1 and errors[0].startswith("kdbench: error: ") and message in errors[0]
