"""The cifar100-pairs track: CRD's 13 pairs with RepDistiller's recipe and its lr exception,
mdistiller's DKD beta per pair, labelled reference rows for every pair, and a smoke run on tiny
CIFAR-100 files in the real format."""

from __future__ import annotations

from kdbench.build import count_parameters
from kdbench.expand import expand
from kdbench.leaderboard import Page, track_files
from kdbench.plugins import get_plugin_manager
from kdbench.specfile import load_track_file

SAME = {("wrn-40-2", "wrn-16-2"), ("wrn-40-2", "wrn-40-1"), ("resnet56", "resnet20"),
        ("resnet110", "resnet20"), ("resnet110", "resnet32"), ("resnet32x4", "resnet8x4"),
        ("vgg13", "vgg8")}
CROSS = {("vgg13", "mobilenetv2-w0.5"), ("resnet50-cifar", "mobilenetv2-w0.5"),
         ("resnet50-cifar", "vgg8"), ("resnet32x4", "shufflenetv1"), ("resnet32x4", "shufflenetv2"),
         ("wrn-40-2", "shufflenetv1")}
LIGHT = {"mobilenetv2-w0.5", "shufflenetv1", "shufflenetv2"}  # RepDistiller's lr 0.01 students


def track():
    pm = get_plugin_manager()
    return load_track_file(pm.tracks.get("cifar100-pairs").path)[0], pm


def test_full_budget_runs_the_13_pairs_with_repdistillers_recipe():
    spec, pm = track()
    runs = expand(spec, "full", pm)
    assert {(r.teacher_label, r.student_label) for r in runs if r.teacher} == SAME | CROSS
    assert len(runs) == 3 * (13 * 5 + 9) and {r.seed for r in runs} == {0, 1, 2}
    for run in runs:
        recipe = run.recipe
        assert (recipe.epochs, recipe.batch_size, recipe.milestones) == (240, 64, (150, 180, 210))
        assert recipe.gamma == 0.1
        assert (recipe.momentum, recipe.weight_decay, recipe.augment) == (0.9, 5e-4, ("crop", "flip"))
        assert recipe.lr == (0.01 if run.student_label in LIGHT else 0.05)
        if run.teacher:
            assert run.teacher.recipe.lr == 0.05 and run.teacher.seed == 0
    assert {r.teacher.model.params.get("shortcut") for r in runs
            if r.teacher and r.teacher.model.name.startswith("resnet1")} == {"B"}


def test_methods_take_their_reference_defaults_and_dkd_its_beta_per_pair():
    spec, pm = track()
    runs = [r for r in expand(spec, "full", pm) if r.seed == 0]
    params = {(r.method_label, r.teacher_label, r.student_label): r.method.params for r in runs}
    kd = params[("kd", "vgg13", "vgg8")]
    assert (kd["ce_weight"], kd["kd_weight"], kd["temperature"]) == (0.1, 0.9, 4)
    crd = params[("crd", "vgg13", "vgg8")]
    assert (crd["crd_weight"], crd["kd_weight"], crd["nce_k"], crd["feat_dim"]) == (0.8, 0, 16384, 128)
    assert params[("crd-kd", "vgg13", "vgg8")]["kd_weight"] == 1
    hint = params[("hint", "vgg13", "vgg8")]
    assert (hint["hint_weight"], hint["student_tap"]) == (100, "hint")
    beta = {(t, s): p["nckd_weight"] for (m, t, s), p in params.items() if m == "dkd"}
    assert {pair for pair, b in beta.items() if b == 2} == {
        ("resnet56", "resnet20"), ("resnet110", "resnet32")}
    assert {pair for pair, b in beta.items() if b == 6} == {
        ("wrn-40-2", "wrn-16-2"), ("wrn-40-2", "wrn-40-1"), ("vgg13", "vgg8"), ("vgg13", "mobilenetv2-w0.5")}
    assert len([b for b in beta.values() if b == 8]) == 7
    assert {p["warmup_epochs"] for (m, *_), p in params.items() if m == "dkd"} == {20}


def test_quick_budget_runs_three_pairs_for_60_epochs():
    spec, pm = track()
    runs = expand(spec, "quick", pm)
    assert {(r.teacher_label, r.student_label) for r in runs if r.teacher} == {
        ("resnet32x4", "resnet8x4"), ("vgg13", "vgg8"), ("resnet32x4", "shufflenetv2")}
    assert {(r.recipe.epochs, r.recipe.milestones) for r in runs} == {(60, (38, 45, 53))}
    assert {r.teacher.recipe.epochs for r in runs if r.teacher} == {60}
    assert {r.student_label for r in runs if r.method.name == "ce"} == {"resnet8x4", "vgg8", "shufflenetv2"}


def test_every_pair_has_labelled_reference_rows_and_the_models_their_published_sizes():
    spec, pm = track()
    refs = {(r.teacher, r.student, r.method): r for r in spec.references}
    for pair in SAME | CROSS:
        for method in ("kd", "hint", "crd", "crd-kd", None):
            assert (*pair, method) in refs, (pair, method)
        assert refs[(*pair, "kd")].confidence == "V"
        assert refs[(*pair, "crd-kd")].confidence == "V~"
    assert refs[("resnet32x4", "resnet8x4", "dkd")].metrics == {"test.student_acc": 76.32}
    assert refs[(None, "mobilenetv2-w0.5", "ce")].metrics == {"test.student_acc": 64.60}
    assert refs[("resnet50-cifar", "vgg8", None)].metrics == {"test.teacher_acc": 79.34}
    assert all("CRD" in r.source or "DKD" in r.source for r in spec.references)
    sizes = {"resnet50-cifar": 23.71e6, "mobilenetv2-w0.5": 0.81e6, "resnet20": 0.28e6}
    for entry in (*spec.teachers, *spec.students):
        if entry.label in sizes:
            info = pm.models.get(entry.model.name)
            model = info.factory(entry.model.name, info.Params.model_validate(entry.model.params),
                                 in_channels=3, image_size=32, num_classes=100)
            assert abs(count_parameters(model) - sizes[entry.label]) < 0.01 * sizes[entry.label]


def test_page_lists_every_pair_recipe_reference_and_the_command():
    spec, _ = track()
    page = track_files(Page("cifar100-pairs", spec))["cifar100-pairs.md"]
    assert isinstance(page, str)
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in page.splitlines()]
    for teacher, student in SAME | CROSS:
        budgets = "full, quick, smoke" if student in {"resnet8x4", "vgg8", "shufflenetv2"} and \
            teacher in {"resnet32x4", "vgg13"} else "full"
        assert [teacher, student, budgets] in rows
    assert "own recipe: lr 0.01" in page and "resnet56 -> resnet20: nckd_weight=2" in page
    assert "kdbench run --track cifar100-pairs" in page and "76.32" in page and "(V~)" in page


def test_smoke_run_on_tiny_cifar100_files(tmp_path, data_files, run_smoke):
    data_files.write_cifar(tmp_path / "data", "cifar100", per_file=64)
    results = run_smoke("cifar100-pairs")
    assert len(results) == 3 * 5 + 3 and all(r["status"] == "ok" for r in results)
    assert {r["spec"]["method_label"] for r in results} == {"ce", "kd", "hint", "crd", "crd-kd", "dkd"}
    light = [r for r in results if r["spec"]["student_label"] == "shufflenetv2"]
    assert {r["spec"]["recipe"]["lr"] for r in light} == {0.01}
