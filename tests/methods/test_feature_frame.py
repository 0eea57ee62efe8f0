"""The frame the feature methods share: which taps they read by default (RepDistiller's stages,
last stage or penultimate feature), how student and teacher taps are paired, pooling of maps of
different sizes, the CE and KD terms, and the one-line errors for taps they cannot use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from kdbench.cli import main
from kdbench.errors import KdbenchError
from kdbench.methods.at import AT, ATParams
from kdbench.methods.cc import CC, CCParams
from kdbench.methods.feature import match_sizes, stage_taps
from kdbench.methods.pkt import PKT, PKTParams
from kdbench.methods.rkd import RKD, RKDParams
from kdbench.methods.sp import SP, SPParams
from kdbench.methods.vid import VID, VIDParams
from kdbench.plugins import get_plugin_manager

from .conftest import first_batch, lenet_pair, tiny_data
from .feature_helpers import cifar_data, model
from .reference import cross_entropy, kd


@pytest.mark.parametrize(("name", "stages"), [
    ("resnet20", ["stage1", "stage2", "stage3"]),      # RepDistiller resnet feat[1:-1]: layer1-3
    ("wrn-16-2", ["stage1", "stage2", "stage3"]),      # wrn feat[1:-1]: block1-3
    ("vgg8", ["stage2", "stage3", "stage4", "stage5"]),  # vgg feat[1:-1]: block1-4, not block0
])
def test_the_stages_are_repdistillers_features_after_the_stem(name, stages) -> None:
    data = cifar_data()
    assert stage_taps(model(name, data), first_batch(data, 2).images) == stages


def test_without_declared_stages_every_map_tap_is_a_stage() -> None:
    data = tiny_data()
    student, _ = lenet_pair(data)  # taps conv1, conv2 (maps), fc1, fc2, penultimate (vectors)
    assert stage_taps(student, first_batch(data).images) == ["conv1", "conv2"]


def build(method, params, student_name: str, teacher_name: str, data=None):
    data = data or cifar_data()
    distiller = method(model(student_name, data), model(teacher_name, data), params)
    distiller.prepare(data)
    return distiller, data


def taps(distiller) -> tuple[list[str], list[str]]:
    return list(distiller.student_taps.taps), list(distiller.teacher_taps.taps)


@pytest.mark.parametrize(("method", "params", "expected"), [
    (AT, ATParams(), (["stage1", "stage2", "stage3"], ["stage1", "stage2", "stage3"])),
    (SP, SPParams(), (["stage3"], ["stage3"])),                 # RepDistiller feat[-2]
    (RKD, RKDParams(), (["penultimate"], ["penultimate"])),     # feat[-1]
    (PKT, PKTParams(), (["penultimate"], ["penultimate"])),
    (CC, CCParams(), (["penultimate"], ["penultimate"])),
])
def test_each_method_reads_the_references_features(method, params, expected) -> None:
    distiller, _ = build(method, params, "resnet20", "resnet32")
    assert taps(distiller) == expected


def test_default_stages_of_different_counts_pair_up_to_the_shorter_list() -> None:
    distiller, _ = build(AT, ATParams(), "resnet20", "vgg8")  # 3 stages and 4, zipped
    assert taps(distiller) == (["stage1", "stage2", "stage3"], ["stage2", "stage3", "stage4"])
    distiller, _ = build(SP, SPParams(), "resnet20", "vgg8")  # the last of each
    assert taps(distiller) == (["stage3"], ["stage5"])


def test_named_taps_are_paired_in_order() -> None:
    params = ATParams(student_taps=["stage3", "stage1"], teacher_taps=["stage2", "stage1"])
    distiller, _ = build(AT, params, "resnet20", "resnet32")
    assert taps(distiller) == (["stage3", "stage1"], ["stage2", "stage1"])


def test_named_taps_must_pair_one_to_one() -> None:
    with pytest.raises(ValidationError, match="student_taps names 1 taps and teacher_taps 2"):
        ATParams(student_taps=["stage1"], teacher_taps=["stage1", "stage2"])
    with pytest.raises(ValidationError, match="student_taps names a tap twice"):
        ATParams(student_taps=["stage1", "stage1"])
    with pytest.raises(ValidationError):
        ATParams(student_taps=[])
    with pytest.raises(KdbenchError, match=r"at: 1 student taps \(stage2\) and 3 teacher taps") as error:
        build(AT, ATParams(student_taps=["stage2"]), "resnet20", "resnet32")
    assert "\n" not in str(error.value)


def test_map_methods_refuse_vectors_in_one_line() -> None:
    with pytest.raises(KdbenchError, match=r"at compares feature maps .* tap 'penultimate' of "
                                           r"CifarResNet gives shape \(2, 64\)") as error:
        build(AT, ATParams(student_taps=["penultimate"], teacher_taps=["penultimate"]),
              "resnet20", "resnet32")
    assert "\n" not in str(error.value)


def test_a_model_without_maps_is_named_with_its_taps() -> None:
    data = tiny_data()
    with pytest.raises(KdbenchError, match=r"MLP has no feature maps .* among its taps \(hidden0, "
                                           r"penultimate\); name the taps") as error:
        build(VID, VIDParams(), "mlp", "mlp", data)
    assert "\n" not in str(error.value)


def test_the_larger_map_is_average_pooled_to_the_smaller() -> None:
    big, small = torch.randn(2, 3, 8, 8), torch.randn(2, 5, 4, 4)
    for s, t in (match_sizes(big, small), match_sizes(small, big)[::-1]):
        assert torch.equal(s, F.avg_pool2d(big, 2)) and t is small


def test_forward_before_prepare_says_what_to_do() -> None:
    data = tiny_data()
    with pytest.raises(RuntimeError, match=r"at: call prepare\(data\) before training"):
        AT(*lenet_pair(data), ATParams())(first_batch(data), 0)


def test_every_feature_method_needs_a_teacher() -> None:
    with pytest.raises(ValueError, match="pkt needs a teacher"):
        PKT(lenet_pair(tiny_data())[0], None, PKTParams())


def test_ce_and_the_optional_kd_term_follow_their_weights() -> None:
    data = tiny_data()
    distiller = SP(*lenet_pair(data), SPParams(ce_weight=0.5, kd_weight=0.25, temperature=2.0))
    distiller.prepare(data)
    batch = first_batch(data)
    terms = distiller(batch, 0)
    assert set(terms) == {"ce", "sp", "kd"}
    with torch.no_grad():
        s = distiller.student(batch.images).double().numpy()
        t = distiller.teacher(batch.images).double().numpy()
    assert terms["ce"].item() == pytest.approx(0.5 * cross_entropy(s, batch.labels.numpy()), rel=1e-4)
    assert terms["kd"].item() == pytest.approx(0.25 * kd(s, t, 2.0), rel=1e-4)
    distiller = SP(*lenet_pair(data), SPParams())
    distiller.prepare(data)
    assert set(distiller(batch, 0)) == {"ce", "sp"}  # RepDistiller's -a 0: no KD


def test_validate_names_a_tap_the_student_lacks(capsys, tiny_track, write_track) -> None:
    tiny_track["methods"].append({"name": "nst", "params": {"student_taps": ["block9"],
                                                            "teacher_taps": ["hidden0"]}})
    code = main(["validate", str(write_track(tiny_track))])
    lines = capsys.readouterr().err.splitlines()
    assert code == 2 and lines and all("methods.3.params.student_taps" in line for line in lines)
    assert "no feature tap 'block9'" in lines[0]


def test_the_readme_states_each_feature_methods_default_weight() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| [^|]+ \| ([\d.]+) \|$", readme, re.M)
    methods = get_plugin_manager().methods
    assert {name for name, _ in rows} >= {"at", "sp", "rkd", "pkt", "vid", "nst", "cc", "ft"}
    for name, weight in rows:
        params = methods.get(name).Params()
        assert getattr(params, f"{name}_weight") == float(weight), name
