"""The paper tracks: they validate, show and list, hold their papers' protocol values, and run end
to end at their smoke budget on tiny files in the real on-disk formats."""

from __future__ import annotations

import pytest

from kdbench.cli import main
from kdbench.expand import expand
from kdbench.plugins import get_plugin_manager
from kdbench.specfile import load_track_file

PAPER_TRACKS = ("capacity-gap", "eskd-imagenet", "fidelity-mnist", "fidelity-emnist", "fidelity-cifar100",
                "cifar100-pairs")


def track(name: str):
    pm = get_plugin_manager()
    return load_track_file(pm.tracks.get(name).path)[0], pm


def early_stopped(label: str | None) -> bool:
    """Whether a capacity-gap teacher label names an early-stopped teacher."""
    return label is not None and label.endswith("-es")


def ok_with_fidelity(result: dict) -> None:
    """Status ok, and agreement, KL and KD error against the run's teacher on both splits."""
    assert result["status"] == "ok", result.get("reason")
    for split in ("test", "train"):
        metrics = result["metrics"][split]
        assert 0 <= metrics["agreement"] <= 100 and metrics["kl"] >= 0
        assert metrics["kd_error"] == pytest.approx(100 - metrics["agreement"])


def test_list_tracks_lists_every_paper_track(capsys):
    assert main(["list", "tracks"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()[2:] if line.strip()}
    assert set(PAPER_TRACKS) <= listed


@pytest.mark.parametrize("name", PAPER_TRACKS)
def test_track_validates_and_shows_every_budget(name, capsys):
    path = get_plugin_manager().tracks.get(name).path
    assert main(["validate", str(path)]) == 0
    assert main(["show", name]) == 0
    out = capsys.readouterr().out
    assert out.count("runs:") == 3  # full, quick and smoke
    spec, _ = track(name)
    assert spec.citation and spec.description and "(label U" in spec.description


@pytest.mark.parametrize("name", PAPER_TRACKS)
def test_references_name_the_tracks_labels(name):
    spec, _ = track(name)
    teachers = {spec.teacher_label(t) for t in spec.teachers}
    students = {spec.student_label(s) for s in spec.students}
    assert spec.references
    for ref in spec.references:
        assert ref.teacher is None or ref.teacher in teachers
        assert ref.student is None or ref.student in students


def test_full_budgets_hold_the_papers_protocols():
    spec, pm = track("capacity-gap")
    runs = expand(spec, "full", pm)
    assert {(r.teacher.model.name, r.student.name) for r in runs if r.teacher} == {
        (f"wrn-{d}-{k}", f"wrn-{d}-1") for d in (16, 28) for k in (1, 2, 3, 4, 6, 8)}
    early = [r for r in runs if early_stopped(r.teacher_label)]
    # the paper's early-stopped teachers: their own shorter schedule, not a snapshot of the full run
    assert {(r.teacher.recipe.epochs, r.teacher.recipe.milestones, r.teacher.checkpoint_epoch)
            for r in early} == {(50, (15, 30, 40), None)}
    assert {r.method.name for r in early} == {"kd", "eskd"}  # ESKD with early-stopped teachers too
    assert {r.method.params.get("stop_epoch") for r in runs if r.method.name == "eskd"} == {60}
    assert runs[0].recipe.milestones == (60, 120, 160) and runs[0].recipe.epochs == 200
    assert {r.seed for r in runs} == {0, 1, 2, 3, 4} and {r.protocol_version for r in runs} == {2}

    spec, pm = track("eskd-imagenet")
    runs = expand(spec, "full", pm)
    assert {r.teacher.recipe.epochs for r in runs if r.teacher} == {0}
    assert {r.teacher.model.params["weights"] for r in runs if r.teacher} == {"IMAGENET1K_V1"}
    assert runs[0].recipe.milestones == (30, 60) and runs[0].recipe.batch_size == 256

    spec, pm = track("fidelity-cifar100")
    runs = expand(spec, "full", pm)
    assert {r.teacher.ensemble for r in runs if r.teacher} == {1, 3, 5}
    assert {r.method.params["temperature"] for r in runs if r.method.name == "kd"} == {1, 4}
    assert {(r.teacher.recipe.epochs, r.teacher.recipe.batch_size, r.teacher.recipe.nesterov)
            for r in runs if r.teacher} == {(200, 256, True)}
    assert (runs[0].recipe.epochs, runs[0].recipe.nesterov, runs[0].recipe.min_lr) == (300, True, 1e-6)


@pytest.mark.parametrize("name, teachers", [("capacity-gap", 4), ("eskd-imagenet", 1)])
def test_kd_weights_sensitivity_arm(name, teachers):
    """ce/kd 0.1/0.9, 0.5/0.5, 0.9/0.1 at T 1 and 4, labelled as kdbench's addition."""
    spec, pm = track(name)
    runs = [r for r in expand(spec, "full", pm) if r.method.name == "kd" and r.seed == 0]
    cells = {(r.method.params["ce_weight"], r.method.params["kd_weight"], r.method.params["temperature"])
             for r in runs}
    assert cells == {(ce, round(1 - ce, 1), t) for ce in (0.1, 0.5, 0.9) for t in (1, 4)}
    arms = [r for r in runs if r.method_label.startswith("kd-ce")]
    assert len(arms) == 5 * teachers and "kdbench's addition" in spec.description


@pytest.mark.parametrize("name", ["fidelity-mnist", "fidelity-emnist", "fidelity-cifar100"])
def test_stanton_tracks_run_as_the_authors_did(name):
    """Inputs in [-1, 1], EMNIST as torchvision loads it, a teacher of its own per trial."""
    spec, pm = track(name)
    runs = expand(spec, "full", pm)
    data = {r.dataset.params["normalize"] for r in runs} | {r.distill_data.params["normalize"] for r in runs}
    assert data | {r.teacher.dataset.params["normalize"] for r in runs if r.teacher} == {"unitcube"}
    assert {r.distill_data.params.get("orientation", "torchvision") for r in runs} == {"torchvision"}
    assert {(r.seed, r.teacher.seed) for r in runs if r.teacher} == {(0, 0), (1, 1), (2, 2)}
    assert {r.protocol_version for r in runs} == {2}


@pytest.mark.parametrize("name", PAPER_TRACKS)
def test_each_page_says_whose_variance_its_intervals_hold(name):
    spec, _ = track(name)
    if len(spec.seeds) > 1:
        assert f"intervals include the variance of {spec.interval_variance()}" in \
            " ".join(spec.description.split())


def test_mnist_and_emnist_tracks_share_one_teacher():
    """The fidelity-emnist description promises the fidelity-mnist teachers (one per trial), in
    every budget."""
    mnist, pm = track("fidelity-mnist")
    emnist, _ = track("fidelity-emnist")
    for budget in ("full", "quick", "smoke"):
        ids = [{(r.seed, r.teacher.teacher_id) for r in expand(spec, budget, pm) if r.teacher}
               for spec in (mnist, emnist)]
        assert ids[0] == ids[1] and len(ids[0]) == len(mnist.budgets[budget].seeds or mnist.seeds)
    teacher = next(r.teacher for r in expand(mnist, "full", pm) if r.teacher)
    assert teacher.dataset.subset.per_class == 20 and teacher.recipe.epochs == 100


@pytest.mark.slow
def test_capacity_gap_smoke_run(tmp_path, data_files, run_smoke):
    data_files.write_cifar(tmp_path / "data", "cifar10", per_file=16)
    results = run_smoke("capacity-gap")
    assert len(results) == 70 and all(r["status"] == "ok" for r in results)
    for result in results:
        if result["spec"]["teacher_label"] is not None:
            ok_with_fidelity(result)
    early = [r for r in results if early_stopped(r["spec"]["teacher_label"])]
    assert len(early) == 24 and all(r["spec"]["teacher"]["recipe"]["epochs"] == 1 for r in early)
    full_ids = {r["spec"]["teacher_label"]: r["teacher_id"] for r in results
                if r["spec"]["teacher_label"] and not early_stopped(r["spec"]["teacher_label"])}
    assert all(r["teacher_id"] != full_ids[r["spec"]["teacher_label"][:-3]] for r in early)


@pytest.mark.slow
def test_eskd_imagenet_smoke_run(tmp_path, data_files, run_smoke):
    data_files.write_imagenet(tmp_path / "data")
    results = run_smoke("eskd-imagenet")
    assert len(results) == 12 and all(r["status"] == "ok" for r in results)
    for result in results:
        if result["spec"]["method"]["name"] == "kd":
            ok_with_fidelity(result)
    assert {r["spec"]["teacher_label"] for r in results} == {
        None, "resnet18-pretrained", "resnet34-pretrained", "resnet50-pretrained"}


def test_fidelity_mnist_smoke_run(tmp_path, data_files, run_smoke):
    data_files.write_mnist(tmp_path / "data", train_per_class=25)
    results = run_smoke("fidelity-mnist")
    assert len(results) == 2 and all(r["status"] == "ok" for r in results)
    kd = next(r for r in results if r["spec"]["method"]["name"] == "kd")
    ok_with_fidelity(kd)
    assert kd["spec"]["teacher"]["dataset"]["subset"]["per_class"] == 20
    assert kd["metrics"]["test"]["teacher_acc"] is not None


def test_fidelity_emnist_smoke_run(tmp_path, data_files, run_smoke):
    data_files.write_mnist(tmp_path / "data", train_per_class=25)
    data_files.write_emnist(tmp_path / "data", "byclass", classes=62, train_per_class=2)
    results = run_smoke("fidelity-emnist")
    assert len(results) == 3 and all(r["status"] == "ok" for r in results)
    for result in results:
        ok_with_fidelity(result)
        assert result["spec"]["distill_data"]["name"] == "emnist"
        assert not result["spec"]["distill_data"]["labels"]
        assert result["metrics"]["train"]["student_acc"] is None  # hidden labels: no accuracy
        assert result["metrics"]["test"]["student_acc"] is not None
    fractions = {(r["spec"]["distill_data"]["subset"] or {}).get("fraction") for r in results}
    assert fractions == {0.25, 0.5, None}


def test_fidelity_cifar100_smoke_run(tmp_path, data_files, run_smoke):
    data_files.write_cifar(tmp_path / "data", "cifar100", per_file=64)
    results = run_smoke("fidelity-cifar100")
    assert len(results) == 7 and all(r["status"] == "ok" for r in results)
    distilled = [r for r in results if r["spec"]["method"]["name"] == "kd"]
    for result in distilled:
        ok_with_fidelity(result)
    assert {(r["spec"]["teacher"]["ensemble"], r["spec"]["method_label"]) for r in distilled} == {
        (n, label) for n in (1, 3, 5) for label in ("kd-t1", "kd-t4")}
    members = list((tmp_path / "cache" / "teachers").iterdir())
    assert len(members) == 5  # the ensembles of 1, 3 and 5 share their members
