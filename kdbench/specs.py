"""Pydantic models of tracks and runs. Every model forbids unknown keys and is immutable.

A ``TrackSpec`` is what a YAML track file holds. ``kdbench.expand`` checks its plugin names and
parameters and expands it, per budget, into fully resolved ``RunSpec`` objects whose sha256 is the
run id. Teachers get an id the same way, so every student of every method shares one teacher.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    create_model,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

BudgetName = Literal["full", "quick", "smoke"]
IntervalVariance = Literal["students only", "students and teachers"]
BUDGETS: tuple[str, ...] = ("full", "quick", "smoke")
Confidence = Literal["V", "V~", "S", "U"]
SPLITS: tuple[str, ...] = ("test", "train")
PERCENT = frozenset({"student_acc", "teacher_acc", "agreement", "kd_error", "student_ece",
                     "teacher_ece"})
NON_NEGATIVE = frozenset({"kl", "student_nll", "teacher_nll"})
TRACK_NAME = r"^[a-z0-9][a-z0-9-]*$"  # with at most 64 characters, a folder name on every system
PROBE_LABEL = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"  # no dot: it is the middle of ``test.<label>.<value>``
METRICS: tuple[str, ...] = (
    "student_acc", "teacher_acc", "agreement", "kl", "kd_error",
    "student_nll", "teacher_nll", "student_ece", "teacher_ece",
)


MAX_SEED = 2**32 - 1
MAX_EPOCHS = 10_000
MAX_BATCH = 2**17
MAX_EXAMPLES = 10**9

Seed = Annotated[int, Field(ge=0, le=MAX_SEED, description="0 to 2**32 - 1, the range every RNG accepts")]
Epochs = Annotated[int, Field(le=MAX_EPOCHS, description="at most 10,000: ten times the longest schedules")]
BatchSize = Annotated[int, Field(gt=0, le=MAX_BATCH, description="at most 131,072: twice the largest "
                                 "ImageNet batches in the literature")]


def listed(default: Any = (), **kwargs: Any) -> Any:
    """A tuple field that also takes a list (YAML has no tuples); its items stay strict."""
    return Field(default, strict=False, **kwargs)


class Strict(BaseModel):
    """Base of every spec model: unknown keys are errors, instances are immutable, types are
    strict (no bool for an int, no string for a number) and every float is finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _distinct(values: tuple[Any, ...] | None, what: str) -> None:
    given = list(values or ())
    repeated = sorted({value for value in given if given.count(value) > 1})
    if repeated:
        raise ValueError(f"{what} {repeated[0]} is given twice")


def digest(model: BaseModel, length: int = 16) -> str:
    """The first ``length`` hex digits of the sha256 of the model's canonical JSON."""
    canonical = json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:length]


class Ref(Strict):
    """A thing a plugin provides, by name, with the parameters its ``Params`` model validates."""

    name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)

    def signature(self) -> str:
        """``name(key=value, ...)``, or the bare name without parameters: how boards show a ref."""
        args = ", ".join(f"{key}={value}" for key, value in sorted(self.params.items()))
        return f"{self.name}({args})" if args else self.name


class Subset(Strict):
    """A fixed part of a split: ``per_class`` examples of every class, or a ``fraction``, drawn
    with ``seed``; ``complement`` takes everything else instead."""

    per_class: int | None = Field(None, gt=0, le=MAX_EXAMPLES)
    fraction: float | None = Field(None, gt=0, le=1)
    complement: bool = False
    seed: Seed = 0

    @model_validator(mode="after")
    def _one_kind(self) -> Subset:
        if (self.per_class is None) == (self.fraction is None):
            raise ValueError("give exactly one of per_class and fraction")
        return self


class DataRef(Ref):
    """Training data: a data set's train split, optionally a fixed ``subset``. With
    ``labels: false`` the labels are never used (distillation from the teacher alone)."""

    subset: Subset | None = None
    labels: bool = True


class Pair(Strict):
    """One teacher-student pairing, by label."""

    teacher: str
    student: str


class PairParams(Pair):
    """Parameters that replace a method's own for one teacher-student pair."""

    params: dict[str, Any] = Field(min_length=1)


class MethodRef(Ref):
    """A method in a track; ``label`` tells apart two entries of one method (kd at T=1 and T=4);
    ``teachers`` limits it to the teachers with those labels (default: every teacher);
    ``pair_params`` changes its parameters for some pairs (mdistiller's DKD beta per pair)."""

    label: str | None = None
    teachers: tuple[str, ...] | None = listed(None)
    pair_params: tuple[PairParams, ...] = listed(description="parameters that replace the "
                                                  "method's for these teacher-student pairs")


class ProbeRef(Ref):
    """A property probe a track reports for every run (``kdbench list probes``); ``label`` tells
    apart two entries of one probe (invariance under rotation and under colour) and names its
    values on boards and in contrasts: ``test.<label>.<value>``."""

    label: str | None = Field(None, pattern=PROBE_LABEL, max_length=64)
    splits: tuple[Literal["test", "train"], ...] = listed(("test",), min_length=1,
                                                          description="the splits it runs on")


def probe_metric(key: str) -> bool:
    """Whether ``key`` names a probe's value, ``<split>.<probe label>.<value>``; the track checks the
    label and the installed probe the value."""
    parts = key.split(".")
    return len(parts) == 3 and parts[0] in SPLITS and all(parts[1:])
ADDED_DEFAULTS: dict[str, Any] = {"precision": "fp32"}
"""Recipe fields added after results were published, with the default that keeps them out of ids."""


class Recipe(Strict):
    """How one network is trained. Epoch numbers count from 0; ``milestones`` multiply lr by gamma."""

    epochs: Epochs = Field(ge=0, description="0 uses the model as built (a pretrained teacher); at "
                           "most 10,000, ten times the longest schedules")
    batch_size: BatchSize = 128
    eval_batch_size: BatchSize = 1000
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = Field(0.1, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(5e-4, ge=0)
    schedule: Literal["constant", "multistep", "cosine"] = "multistep"
    milestones: tuple[int, ...] = listed()
    gamma: float = Field(0.1, gt=0, le=1)
    min_lr: float = Field(0.0, ge=0)
    warmup_epochs: Epochs = Field(0, ge=0, description="linear warm-up of the lr over N epochs (fewer "
                                  "than epochs)")
    augment: tuple[Literal["crop", "flip"], ...] = listed()
    crop_padding: int = Field(4, ge=0, le=256, description="pixels on each side; at most 256, "
                              "wider than the images kdbench crops")
    eval_every: Epochs = Field(1, gt=0, description="evaluate on the test split every N epochs "
                               "(at most 10,000, the most epochs)")
    precision: Literal["fp32", "bf16-mixed", "fp16-mixed"] = Field(
        "fp32", description="fp32, or training and evaluation under torch.autocast to bfloat16 or "
        "float16 (with a gradient scaler); part of the run id")

    @model_serializer(mode="wrap")
    def _without_added_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Fields added after results were published are left out at their default, so that a
        recipe that sets none of them keeps its run and teacher ids."""
        data: dict[str, Any] = handler(self)
        for name, default in ADDED_DEFAULTS.items():
            if data.get(name) == default:
                del data[name]
        return data

    @model_validator(mode="after")
    def _check_milestones(self) -> Recipe:
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError("milestones must be strictly increasing")
        if self.milestones and not 0 < self.milestones[-1] < self.epochs:
            raise ValueError(f"milestones must lie between 1 and epochs - 1 = {self.epochs - 1}")
        if self.warmup_epochs and self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs must be less than epochs ({self.epochs})")
        return self


def _patch_of(model: type[BaseModel]) -> type[BaseModel]:
    """A model with the same fields and constraints as ``model``, every one optional."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        patched = info._copy()
        patched.default = None
        patched.default_factory = None
        annotation: Any = info.annotation  # set on every field of a model class
        fields[name] = (annotation | None, patched)
    return create_model(f"{model.__name__}Patch", __base__=Strict, **fields)


RecipePatch = _patch_of(Recipe)


def patched(recipe: Recipe, patch: BaseModel) -> Recipe:
    """``recipe`` with the fields that ``patch`` sets replaced."""
    return Recipe.model_validate({**recipe.model_dump(), **patch.model_dump(exclude_unset=True)})


class Budget(Strict):
    """A compute budget: changes to the recipes and limits on the data and seeds."""

    teacher: RecipePatch = Field(default_factory=RecipePatch)  # type: ignore[valid-type]
    student: RecipePatch = Field(default_factory=RecipePatch)  # type: ignore[valid-type]
    train_limit: int | None = Field(None, gt=0, le=MAX_EXAMPLES, description="use at most N "
                                    "training images (at most a billion)")
    test_limit: int | None = Field(None, gt=0, le=MAX_EXAMPLES, description="use at most N test "
                                   "images (at most a billion)")
    seeds: tuple[Seed, ...] | None = listed(None, min_length=1, description="replaces track seeds")
    models: dict[str, Ref] = Field(default_factory=dict,
                                   description="teacher or student label to the model it uses here")
    pairs: tuple[Pair, ...] | None = listed(None, min_length=1, description="only these of the "
                                            "track's pairs, and their students (default: all)")

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: tuple[int, ...] | None) -> tuple[int, ...] | None:
        _distinct(seeds, "seed")
        return seeds


SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
CheckpointFormat = Literal["kdbench", "repdistiller"]


def _sha256_digest(value: str) -> str:
    """A sha256 digest as ``sha256sum`` prints it, lower-cased; anything else is one-line error."""
    if not SHA256_HEX.fullmatch(value):
        raise ValueError(f"a sha256 digest is 64 hexadecimal digits (as sha256sum prints it), "
                         f"not {value[:70]!r}")
    return value.lower()


class Checkpoint(Strict):
    """A teacher's weights read from a file instead of trained: its sha256 (part of the teacher's
    id) and its layout; ``path`` says where the file is on this machine and is not part of ids."""

    sha256: str = Field(description="sha256 of the file, 64 hex digits; checked before it is read")
    format: CheckpointFormat = Field("kdbench", description="kdbench: a safetensors file of the "
                                     "model's own state dict (a cached teacher's model.safetensors); "
                                     "repdistiller: a torch.save file with RepDistiller's state "
                                     "dict under 'model' (its train_teacher.py checkpoints)")
    path: str | None = Field(None, exclude=True, description="where the file is here (not hashed)")

    @field_validator("sha256")
    @classmethod
    def _digest(cls, value: str) -> str:
        return _sha256_digest(value)


class CheckpointEntry(Checkpoint):
    """A track's ``checkpoint`` of a teacher: ``path`` (``~`` and ``$VARS`` expand; a relative path
    is relative to the track file's folder), ``sha256`` and ``format``."""

    path: str = Field(min_length=1, description="the file; ~ and $VARS expand; relative to the "
                      "track file's folder")


class TeacherEntry(Strict):
    """A teacher of the track: a model trained with the teacher recipe on the teacher data, or
    loaded from a ``checkpoint`` file (then neither trained nor an ensemble nor a snapshot).

    ``ensemble: N`` trains N members with different seeds and predicts log(mean(softmax)).
    ``recipe`` patches the teacher recipe for this teacher alone, which is then trained as a
    teacher of its own (Cho & Hariharan's early-stopped teacher: a shorter schedule with its own
    decays, e.g. ``{epochs: 50, milestones: [15, 30, 40]}``); see ``entry_recipe`` for how a
    budget's teacher patch combines with it. ``snapshot_fraction: f`` uses the weights of the
    teacher's own run after round(f * epochs) of its epochs, saved while it trains: a snapshot of
    the full run, which before the first decay is an unannealed network, not an early-stopped one.
    """

    model: Ref
    label: str | None = None
    ensemble: int = Field(1, ge=1, le=64, description="members, at most 64")
    recipe: RecipePatch | None = Field(  # type: ignore[valid-type]
        None, description="this teacher's own changes to the teacher recipe (an early-stopped "
        "teacher's shorter schedule)")
    snapshot_fraction: float | None = Field(None, gt=0, le=1, description="use the snapshot of "
                                            "the teacher's run after this fraction of its epochs")
    checkpoint: CheckpointEntry | None = Field(None, description="load the weights from this file "
                                               "(path, sha256, format) instead of training them")

    @field_validator("checkpoint")
    @classmethod
    def _loaded_alone(cls, checkpoint: CheckpointEntry | None,
                      info: ValidationInfo) -> CheckpointEntry | None:
        """A loaded teacher is one network that is not trained: no ensemble, recipe or snapshot."""
        if checkpoint is None:
            return None
        if info.data.get("ensemble", 1) > 1:
            raise ValueError(f"a checkpoint is one network: it cannot be an ensemble of "
                             f"{info.data['ensemble']}; drop ensemble or checkpoint")
        for name in ("recipe", "snapshot_fraction"):
            if info.data.get(name) is not None:
                raise ValueError(f"a teacher loaded from a checkpoint is not trained: drop {name} "
                                 "or checkpoint")
        return checkpoint

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "checkpoint_fraction" in data:
            raise ValueError("checkpoint_fraction is now snapshot_fraction (a snapshot of the full "
                             "run); an early-stopped teacher is an entry with its own recipe")
        return data

    def describe(self) -> str:
        """What kind of teacher this is, in a few words, for track pages."""
        parts = [f"ensemble of {self.ensemble}"] if self.ensemble > 1 else []
        if self.recipe is not None:
            own = self.recipe.model_dump(exclude_unset=True)
            parts.append("own recipe: " + ", ".join(f"{key} {_plain(value)}" for key, value in own.items()))
        if self.snapshot_fraction:
            parts.append(f"snapshot of its run at {self.snapshot_fraction:g} of training")
        if self.checkpoint is not None:
            parts.append(f"loaded from a {self.checkpoint.format} checkpoint, sha256 "
                         f"{self.checkpoint.sha256[:12]}")
        return "; ".join(parts)


def _plain(value: Any) -> str:
    """A recipe value as people write it: ``[15, 30]`` -> ``15, 30``."""
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _scaled(epoch: int, factor: float) -> int:
    """``epoch * factor`` rounded half up (not to even, so 2.5 epochs become 3)."""
    return int(epoch * factor + 0.5)


def entry_recipe(track_recipe: Recipe, budgeted: Recipe, entry: BaseModel | None) -> Recipe:
    """A teacher entry's recipe at a budget: the budget-patched track recipe ``budgeted`` with the
    entry's own patch on top (the entry's fields win), except that a budget that shortens the
    track's teacher epochs by a factor (30 of 200: 0.15) shortens the epochs and milestones the
    entry sets by the same factor, rounded, at least 1 epoch, milestones outside 1..epochs-1
    dropped; so quick and smoke budgets shrink an early-stopped teacher as they shrink the rest."""
    if entry is None:
        return budgeted
    own = entry.model_dump(exclude_unset=True)
    factor = budgeted.epochs / track_recipe.epochs if track_recipe.epochs else 1.0
    if factor != 1.0 and "epochs" in own:
        own["epochs"] = max(1, _scaled(own["epochs"], factor))
    if factor != 1.0 and "milestones" in own:
        epochs = own.get("epochs", budgeted.epochs)
        own["milestones"] = sorted({m for m in (_scaled(x, factor) for x in own["milestones"])
                                    if 0 < m < epochs})
    return Recipe.model_validate({**budgeted.model_dump(), **own})


class StudentEntry(Strict):
    """A student of the track; ``distill_data`` replaces the track's for this student (Stanton's
    students distilled on 25, 50 or 100% of EMNIST); ``recipe`` patches the student recipe for it
    alone, combined with a budget's as a teacher entry's is (``entry_recipe``)."""

    model: Ref
    label: str | None = None
    distill_data: DataRef | None = None
    recipe: RecipePatch | None = Field(  # type: ignore[valid-type]
        None, description="this student's own changes to the student recipe (RepDistiller's lr "
        "0.01 for MobileNet and ShuffleNet students)")


class Reference(Strict):
    """A published number shown beside ours, never as ours: what, where from, and how sure."""

    source: str = Field(min_length=1)
    confidence: Confidence
    teacher: str | None = None
    student: str | None = None
    method: str | None = None
    metrics: dict[str, float] = Field(min_length=1, description="'<split>.<metric>' to value")
    note: str = ""

    @model_validator(mode="after")
    def _check_metrics(self) -> Reference:
        known = {f"{split}.{metric}" for split in SPLITS for metric in METRICS}
        unknown = sorted(key for key in set(self.metrics) - known if not probe_metric(key))
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r}; use '<split>.<metric>' with split in "
                             f"{SPLITS} and metric in {METRICS}, or a probe's '<split>.<label>.<value>'")
        for key, value in self.metrics.items():
            metric = key.split(".", 1)[1]
            if metric in PERCENT and not 0 <= value <= 100:
                raise ValueError(f"metrics.{key}: {value:g} is not a percentage in [0, 100]")
            if metric in NON_NEGATIVE and value < 0:
                raise ValueError(f"metrics.{key}: {value:g} cannot be negative")
        return self


class CellSelector(Strict):
    """Board cells by label; a field left out matches any (a difference's ``b`` takes it from ``a``)."""

    method: str | None = None
    teacher: str | None = None
    student: str | None = None


class Contrast(Strict):
    """A comparison the track's page reports with a 95% interval over seeds, Holm-adjusted across
    the page: a ``difference`` of cells ``a`` minus ``b``, or the ``trend`` of ``method``'s
    students over its teachers, ``over`` log10 teacher parameters or teacher accuracy.
    ``expected`` is the sign the paper found (``source``), which the page checks."""

    name: str = Field(pattern=TRACK_NAME, max_length=64)
    kind: Literal["difference", "trend"]
    metric: str = Field("test.student_acc", description="'<split>.<metric>'")
    a: CellSelector | None = None
    b: CellSelector | None = None
    method: str | None = Field(None, description="trend: the method's label")
    student: str | None = Field(None, description="trend: one student's label (default: each)")
    teachers: tuple[str, ...] | None = listed(None, min_length=2, description="trend: the ladder "
                                              "(default: every teacher of the method)")
    over: Literal["teacher_params", "teacher_acc"] | None = None
    expected: Literal["positive", "negative"] | None = None
    source: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _check_kind(self) -> Contrast:
        if self.metric not in {f"{split}.{metric}" for split in SPLITS for metric in METRICS} \
                and not probe_metric(self.metric):
            raise ValueError(f"metric {self.metric!r} is not '<split>.<metric>' with split in {SPLITS} "
                             f"and metric in {METRICS}, nor a probe's '<split>.<label>.<value>'")
        needs = {"difference": ("a", "b"), "trend": ("method", "over")}[self.kind]
        foreign = {"difference": ("method", "student", "teachers", "over"), "trend": ("a", "b")}[self.kind]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} needs {' and '.join(needs)}")
        extra = [name for name in foreign if getattr(self, name) is not None]
        if extra:
            raise ValueError(f"{extra[0]} is not a field of a {self.kind}")
        if (self.expected is None) != (self.source is None):
            raise ValueError("give expected and source together (what the paper found, and where)")
        if self.kind == "difference" and self.a == self.b:
            raise ValueError("a and b select the same cells")
        return self


def contrast_problems(track: TrackSpec) -> list[tuple[tuple[Any, ...], str]]:
    """(field path, message) for each label a contrast names that the track does not have, and for
    a trend whose method meets fewer than two of its teachers."""
    labels = {"method": [track.method_label(m) for m in track.methods],
              "teacher": [track.teacher_label(t) for t in track.teachers],
              "student": [track.student_label(s) for s in track.students]}
    problems = []
    names = [contrast.name for contrast in track.contrasts]
    for i, contrast in enumerate(track.contrasts):
        loc: tuple[Any, ...] = ("contrasts", i)
        if names.index(contrast.name) != i:
            problems.append(((*loc, "name"), f"name {contrast.name!r} is used twice"))
        named: list[tuple[tuple[Any, ...], str | None]] = [
            ((side, role), getattr(getattr(contrast, side), role))
            for side in ("a", "b") if getattr(contrast, side) for role in labels]
        named += [(("method",), contrast.method), (("student",), contrast.student)]
        named += [(("teachers", j), label) for j, label in enumerate(contrast.teachers or ())]
        for path, label in named:
            role = "teacher" if path[0] == "teachers" else path[-1]
            if label is not None and label not in labels[role]:
                problems.append(((*loc, *path), f"no {role} labelled {label!r} (the track has: "
                                 f"{', '.join(labels[role]) or 'none'})"))
        method = next((m for m in track.methods if track.method_label(m) == contrast.method), None)
        if contrast.kind == "trend" and method is not None and method.teachers is not None:
            ladder = set(contrast.teachers or labels["teacher"]) & set(method.teachers)
            if len(ladder) < 2:
                problems.append(((*loc, "method"), f"method {track.method_label(method)!r} has "
                                 f"{len(ladder)} of the trend's teachers; a trend needs at least two"))
    return problems


def probe_problems(track: TrackSpec) -> list[tuple[tuple[Any, ...], str]]:
    """(field path, message) for a track with probes that lacks what they compare against (one ce
    method; one teacher per student), for a probe label used twice, and for a contrast or reference
    naming a probe label the track does not have."""
    if not track.probes:
        named: list[tuple[tuple[Any, ...], str]] = [
            (("contrasts", i, "metric"), c.metric) for i, c in enumerate(track.contrasts)]
        named += [(("references", i, "metrics", key), key) for i, r in enumerate(track.references)
                  for key in r.metrics]
        return [(loc, f"{key!r} names a probe, but the track lists no probes")
                for loc, key in named if probe_metric(key)]
    problems: list[tuple[tuple[Any, ...], str]] = []
    labels = [track.probe_label(probe) for probe in track.probes]
    for i, label in enumerate(labels):
        if labels.index(label) != i:
            problems.append((("probes", i, "label"), f"probe label {label!r} is used twice"))
    ce = [i for i, method in enumerate(track.methods) if method.name == "ce"]
    if len(ce) != 1:
        problems.append((("methods",), f"probes compare with the student trained without a teacher: "
                         f"the track needs exactly one ce method, it has {len(ce)}"))
    for student in track.students:
        teachers = {track.teacher_label(t) for t, s in track.pairings() if s is student}
        if len(teachers) > 1:
            problems.append((("probes",), f"student {track.student_label(student)!r} has "
                             f"{len(teachers)} teachers; a track with probes pairs each student "
                             "with one teacher (pairs), whose properties its ce student is probed "
                             "against"))
    for i, contrast in enumerate(track.contrasts):
        problems += _probe_label_problems(track, contrast.metric, ("contrasts", i, "metric"))
    for i, reference in enumerate(track.references):
        for key in reference.metrics:
            problems += _probe_label_problems(track, key, ("references", i, "metrics", key))
    return problems


def _probe_label_problems(track: TrackSpec, key: str,
                          loc: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str]]:
    """A problem when ``key`` names a probe label the track does not list."""
    labels = [track.probe_label(probe) for probe in track.probes]
    if probe_metric(key) and key.split(".")[1] not in labels:
        return [(loc, f"{key!r}: no probe labelled {key.split('.')[1]!r} (the track has: "
                 f"{', '.join(labels)})")]
    return []


def _full_only() -> dict[BudgetName, Budget]:
    """The budgets of a track that declares none: the paper's protocol alone."""
    return {"full": Budget()}


class TrackSpec(Strict):
    """A benchmark track: data, teachers, students, methods, recipes, seeds, budgets, references."""

    name: str = Field(pattern=TRACK_NAME, max_length=64,
                      description="at most 64 characters: it names the track's results folder")
    title: str = Field(min_length=1)
    description: str = ""
    citation: str | None = None
    dataset: Ref = Field(description="its test split evaluates; its train split trains by default")
    teacher_data: DataRef | None = Field(None, description="default: the dataset's train split")
    distill_data: DataRef | None = Field(None, description="default: the dataset's train split")
    teachers: tuple[TeacherEntry, ...] = listed()
    students: tuple[StudentEntry, ...] = listed(..., min_length=1)
    pairs: tuple[Pair, ...] | None = listed(None, description="default: every teacher x student")
    methods: tuple[MethodRef, ...] = listed(..., min_length=1)
    teacher_recipe: Recipe | None = None
    student_recipe: Recipe
    teacher_seed: Seed | None = Field(None, description="one teacher for all seeds (0 to 2**32 - 1); "
                                      "default: per seed")
    teacher_seeds: tuple[Seed, ...] | None = listed(
        None, min_length=1, description="teachers rotated over the student seeds: seed s gets "
        "teacher_seeds[s mod n] (gnosis's rotation of teacher checkpoints by trial)")
    seeds: tuple[Seed, ...] = listed((0,), min_length=1)
    protocol_version: int = Field(1, ge=1, le=10_000, description="bump it when a fix changes "
                                  "the protocol: part of every run id and teacher id, so old "
                                  "results are run again")
    budgets: dict[BudgetName, Budget] = Field(default_factory=_full_only)
    references: tuple[Reference, ...] = listed()
    contrasts: tuple[Contrast, ...] = listed(description="comparisons the page reports (default: "
                                              "each method against ce)")
    probes: tuple[ProbeRef, ...] = listed(description="property probes run on every finished run "
                                          "(needs a ce method: the students trained without a teacher)")

    def teacher_label(self, entry: TeacherEntry) -> str:
        return entry.label or entry.model.signature()

    def student_label(self, entry: StudentEntry) -> str:
        return entry.label or entry.model.signature()

    def method_label(self, entry: MethodRef) -> str:
        return entry.label or entry.name

    def probe_label(self, entry: ProbeRef) -> str:
        return entry.label or entry.name

    def teacher_seed_for(self, seed: int) -> int:
        """The seed of the teacher that student seed ``seed`` learns from: ``teacher_seeds[seed mod
        n]`` (student seed s of a trial pairs with its own teacher, as gnosis rotates teacher
        checkpoints by trial id), else the fixed ``teacher_seed``, else ``seed`` itself."""
        if self.teacher_seeds:
            return self.teacher_seeds[seed % len(self.teacher_seeds)]
        return seed if self.teacher_seed is None else self.teacher_seed

    def interval_variance(self, seeds: tuple[int, ...] | None = None) -> IntervalVariance:
        """Which variance intervals over ``seeds`` (default: the track's) include: "students and
        teachers" when those seeds meet more than one trained teacher seed (a teacher loaded
        from a checkpoint is one for every seed), else "students only"."""
        teacher_seeds = {self.teacher_seed_for(seed) for seed in seeds or self.seeds}
        trained = self.teacher_recipe is not None and self.teacher_recipe.epochs > 0
        if any(t.checkpoint is None for t in self.teachers) and trained and len(teacher_seeds) > 1:
            return "students and teachers"
        return "students only"

    def describe_teacher_seeds(self) -> str:
        """How teachers are seeded, in a few words, for track pages."""
        if self.teacher_seeds:
            return f"teachers: seeds {', '.join(map(str, self.teacher_seeds))}, rotated per seed"
        if self.teacher_seed is None:
            return "teachers: one per seed"
        return f"teachers: seed {self.teacher_seed}"

    def pairings(self, budget: str | None = None) -> list[tuple[TeacherEntry, StudentEntry]]:
        """The (teacher, student) pairs, in track order; at ``budget``, those its ``pairs`` keep."""
        teachers = {self.teacher_label(t): t for t in self.teachers}
        students = {self.student_label(s): s for s in self.students}
        if self.pairs is None:
            found = [(t, s) for s in self.students for t in self.teachers]
        else:
            found = [(teachers[p.teacher], students[p.student]) for p in self.pairs]
        kept = self.budgets[budget].pairs if budget in self.budgets else None
        if kept is None:
            return found
        chosen = {(p.teacher, p.student) for p in kept}
        return [(t, s) for t, s in found if (self.teacher_label(t), self.student_label(s)) in chosen]

    @field_validator("teachers", "students", "methods")
    @classmethod
    def _unique_labels(cls, entries: tuple[Any, ...]) -> tuple[Any, ...]:
        labels = [e.label or (e.name if isinstance(e, MethodRef) else e.model.signature()) for e in entries]
        dupes = sorted({label for label in labels if labels.count(label) > 1})
        if dupes:
            raise ValueError(f"label {dupes[0]!r} is used twice; give the entries distinct labels")
        return entries

    @field_validator("seeds", "teacher_seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: tuple[int, ...] | None) -> tuple[int, ...] | None:
        _distinct(seeds, "seed")
        return seeds

    @field_validator("teacher_seeds")
    @classmethod
    def _one_teacher_seeding(cls, seeds: tuple[int, ...] | None,
                             info: ValidationInfo) -> tuple[int, ...] | None:
        if seeds is not None and info.data.get("teacher_seed") is not None:
            raise ValueError("give teacher_seed (one teacher for every seed) or teacher_seeds "
                             "(teachers rotated over the seeds), not both")
        return seeds

    @model_validator(mode="after")
    def _check_pairs_and_budgets(self) -> TrackSpec:
        for pair in self.pairs or ():
            if pair.teacher not in {self.teacher_label(t) for t in self.teachers}:
                raise ValueError(f"pairs: no teacher labelled {pair.teacher!r}")
            if pair.student not in {self.student_label(s) for s in self.students}:
                raise ValueError(f"pairs: no student labelled {pair.student!r}")
        if self.teachers and self.teacher_recipe is None:
            raise ValueError("teacher_recipe is required when the track has teachers")
        if "full" not in self.budgets:
            raise ValueError("budgets must define 'full' (the paper's protocol)")
        teachers = {self.teacher_label(t) for t in self.teachers}
        labels = teachers | {self.student_label(s) for s in self.students}
        for method in self.methods:
            unknown = sorted(set(method.teachers or ()) - teachers)
            if unknown:
                raise ValueError(f"method {self.method_label(method)!r}: no teacher labelled {unknown[0]!r}")
            _check_pair_params(self, method)
        pairings = {(self.teacher_label(t), self.student_label(s)) for t, s in self.pairings()}
        for name, budget in self.budgets.items():
            unknown = sorted(set(budget.models) - labels)
            if unknown:
                raise ValueError(f"budgets.{name}.models: no teacher or student labelled "
                                 f"{unknown[0]!r}")
            strange = [p for p in budget.pairs or () if (p.teacher, p.student) not in pairings]
            if strange:
                raise ValueError(f"budgets.{name}.pairs: {strange[0].teacher} -> {strange[0].student} "
                                 "is not one of the track's pairs")
        return self

    @model_validator(mode="after")
    def _check_contrasts(self) -> TrackSpec:
        problems = contrast_problems(self) + probe_problems(self)
        if problems:
            raise ValidationError.from_exception_data("TrackSpec", [
                InitErrorDetails(type=PydanticCustomError("label", "{message}", {"message": message}),
                                 loc=loc, input=None)
                for loc, message in problems])
        return self


def _check_pair_params(track: TrackSpec, method: MethodRef) -> None:
    """Each of ``method``'s ``pair_params`` names, once, a pair the method runs."""
    runs = {(track.teacher_label(t), track.student_label(s)) for t, s in track.pairings()
            if method.teachers is None or track.teacher_label(t) in method.teachers}
    seen: set[tuple[str, str]] = set()
    for entry in method.pair_params:
        pair = (entry.teacher, entry.student)
        if pair not in runs:
            raise ValueError(f"method {track.method_label(method)!r}: pair_params names "
                             f"{entry.teacher} -> {entry.student}, which is not one of its pairs")
        if pair in seen:
            raise ValueError(f"method {track.method_label(method)!r}: pair_params names "
                             f"{entry.teacher} -> {entry.student} twice")
        seen.add(pair)


MEMBER_SEED_STRIDE = 1000


class TeacherSpec(Strict):
    """One fully resolved teacher: what ``teacher_id`` hashes and the teacher cache is keyed by."""

    model: Ref
    dataset: DataRef
    recipe: Recipe
    seed: int
    train_limit: int | None = None
    ensemble: int = 1
    checkpoint_epoch: int | None = Field(None, description="the snapshot of the run after this "
                                         "many epochs (a snapshot_fraction teacher)")
    protocol_version: int = Field(1, ge=1, description="its track's protocol_version")
    code: tuple[str, ...] = Field((), description="code versions of its model family and data set")
    checkpoint: Checkpoint | None = Field(None, description="the file its weights are loaded from "
                                          "instead of trained; its sha256 is part of the id")

    @model_serializer(mode="wrap")
    def _without_checkpoint(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A trained teacher's dump (and so its id) has no ``checkpoint`` key: ids made before
        checkpoints existed stay as they are."""
        data: dict[str, Any] = handler(self)
        if data.get("checkpoint") is None:
            data.pop("checkpoint", None)
        return data

    @property
    def teacher_id(self) -> str:
        return digest(self)

    def members(self) -> list[TeacherSpec]:
        """The single networks to train: member i has seed ``seed + 1000 * i``, so member 0 is the
        single teacher of the same seed and ensembles of 1, 3 and 5 share their members."""
        return [self.model_copy(update={"ensemble": 1, "checkpoint_epoch": None,
                                        "seed": self.seed + MEMBER_SEED_STRIDE * i})
                for i in range(self.ensemble)]


class RunSpec(Strict):
    """One fully resolved run, every default filled in; ``run_id`` is its sha256.

    ``dataset`` is evaluated on its test split and fixes the classes; the student is distilled on
    ``distill_data`` (whose un-augmented examples are the "train" split of the metrics).
    """

    track: str = Field(pattern=TRACK_NAME, max_length=64)
    budget: BudgetName
    dataset: Ref
    distill_data: DataRef
    train_limit: int | None = None
    test_limit: int | None = None
    teacher: TeacherSpec | None
    teacher_label: str | None
    student: Ref
    student_label: str
    method: Ref
    method_label: str
    recipe: Recipe
    seed: int
    protocol_version: int = Field(1, ge=1, description="its track's protocol_version")
    code: tuple[str, ...] = Field((), description="code versions of its method, student and data")

    @property
    def run_id(self) -> str:
        return digest(self)
