"""kdbench: run knowledge-distillation benchmark tracks and render their leaderboards.

The command line. Errors a user can fix print one line each and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from kdbench.errors import KdbenchError, UnknownNameError

if TYPE_CHECKING:
    from kdbench.overrides import Override
    from kdbench.plugins import PluginManager
    from kdbench.specs import TrackSpec


class _WarningLine(logging.Handler):
    """Plugin and other warnings as one ``kdbench: warning:`` line on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"kdbench: warning: {record.getMessage()}", file=sys.stderr)


def _setup_logging() -> None:
    logger = logging.getLogger("kdbench")
    if not any(isinstance(handler, _WarningLine) for handler in logger.handlers):
        logger.addHandler(_WarningLine(logging.WARNING))


MAX_SEED = 2**32 - 1
DEVICES = "auto, cpu, cuda, cuda:N or mps"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line the kdbench way: one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"kdbench: error: {message} (see {self.prog} --help)\n")


def _seeds(text: str) -> tuple[int, ...]:
    """``0,1,2`` -> (0, 1, 2): distinct integers in 0..2**32-1, none left empty."""
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"empty seed in {text!r}; give integers separated by commas")
    try:
        seeds = tuple(int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be integers separated by commas: {text!r}") from None
    outside = [seed for seed in seeds if not 0 <= seed <= MAX_SEED]
    if outside:
        raise argparse.ArgumentTypeError(f"seed {outside[0]} is outside 0..{MAX_SEED}")
    repeated = [seed for i, seed in enumerate(seeds) if seed in seeds[:i]]
    if repeated:
        raise argparse.ArgumentTypeError(f"seed {repeated[0]} is given twice")
    return seeds


def _global_options(p: argparse.ArgumentParser, default: object) -> None:
    """Options every command takes, before or after its name; given in either place, they hold."""
    p.add_argument("--strict-plugins", action="store_true", default=default,
                   help="fail when a plugin cannot be loaded or two plugins provide one name "
                        "(also KDBENCH_STRICT_PLUGINS=1)")


def _device(text: str) -> str:
    """A device name of a form kdbench accepts (whether it exists is checked at run time)."""
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use {DEVICES}")
    return text


class _Help(argparse.HelpFormatter):
    """Help that ends each option with its default, unless the text already states it (the path
    options say which environment variable sets theirs) or the option is a flag."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        no_default = action.default in (None, argparse.SUPPRESS) or action.default == []
        if "default" in text or not action.option_strings or action.nargs == 0 or no_default:
            return text
        return f"{text} (default: %(default)s)"


SET_HELP = ("set a field of the track before it is validated, as PATH=VALUE with a dotted PATH "
            "(list entries by index) and a YAML VALUE: student_recipe.lr=0.05, seeds=[0,1,2], "
            "methods.1.params.temperature=2; repeatable, a later one wins")
DATA_DIR_HELP = "data sets root (default: $KDBENCH_DATA_DIR, else <cache dir>/data)"
CACHE_DIR_DEFAULT = "(default: $KDBENCH_CACHE_DIR, else $XDG_CACHE_HOME/kdbench or ~/.cache/kdbench)"


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kdbench", description=__doc__.splitlines()[0])
    _global_options(p, default=False)
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a track (or a track file) and print its boards")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--track", help="name of an installed track (required, or --spec)")
    source.add_argument("--spec", type=Path, help="path to a track YAML file (required, or --track)")
    run.add_argument("--budget", choices=["full", "quick", "smoke"], default="full",
                     help="full: the protocol; quick: reduced; smoke: seconds, checks the pipeline")
    run.add_argument("--seeds", type=_seeds, help="comma-separated seeds, replacing the track's "
                     "(default: the budget's seeds, else the track's)")
    run.add_argument("--set", action="append", dest="overrides", metavar="PATH=VALUE",
                     help=f"{SET_HELP} (default: none)")
    run.add_argument("--results", type=Path, default=None, metavar="DIR",
                     help="where result files go (default: $KDBENCH_RESULTS, else ./results)")
    run.add_argument("--data-dir", type=Path, metavar="DIR", help=DATA_DIR_HELP)
    run.add_argument("--cache-dir", type=Path, metavar="DIR",
                     help=f"teachers, students and checkpoints {CACHE_DIR_DEFAULT}")
    run.add_argument("--device", type=_device, default="auto", help=DEVICES)
    run.add_argument("--download", action="store_true", help="download missing data sets")
    run.add_argument("--rerun", action="store_true", help="run again even when a result exists")
    run.add_argument("--reuse-stale", action="store_true",
                     help="reuse a result made by other plugin code (another version of the "
                          "method, model or data set) instead of running it again; it is marked "
                          "stale and left off boards")
    run.add_argument("--log", action="append", default=[], metavar="LOGGER",
                     help="log every epoch's losses, lr, test accuracy and throughput with LOGGER "
                          "(tensorboard, csv, or any in `kdbench list loggers`); repeatable (default: none)")
    run.add_argument("--log-dir", type=Path, default=Path("runs"),
                     help="root of the loggers' folders, one per trained network (default: runs, "
                          "as TensorBoard's SummaryWriter)")
    run.add_argument("--plan", action="store_true",
                     help="print the jobs left to do (teachers to train, runs to make), what each "
                          "waits for and its epochs, and exit")
    run.add_argument("--executor", metavar="NAME",
                     help="where the jobs run: local, ray, slurm or any in `kdbench list executors` "
                          "(default: the --executor-config file's, else local)")
    run.add_argument("--nproc-per-node", type=int, metavar="N",
                     help="train each run on N processes of this machine, one GPU each, with "
                          "DistributedDataParallel: starts torchrun for you (default: 1, no torchrun)")
    run.add_argument("--executor-config", type=Path, metavar="FILE",
                     help="a YAML file naming the executor and its options ({name: ray, options: "
                          "{num_gpus: 1}}); --executor-opt adds to and overrides them (default: none)")
    run.add_argument("--executor-opt", action="append", default=[], metavar="KEY=VALUE",
                     help="an option of the executor, e.g. jobs=2, address=auto, partition=gpu "
                          "(`kdbench list executors` names them); repeatable (default: none)")
    run.add_argument("--jobs", type=int, metavar="N",
                     help="worker processes of the local executor (spawned; CPU threads split "
                          "between them, one GPU each) (default: 1, in this process)")

    run.add_argument("--teacher-checkpoints", type=Path, metavar="DIR",
                     help="load teachers from the files in DIR instead of training them: "
                          "<label or model>.pth (RepDistiller's torch.save files) or .safetensors "
                          "(kdbench's), each checked against its sha256 from the track or from "
                          "DIR/SHA256SUMS (default: train every teacher as the track says)")
    run.add_argument("--precision", choices=PRECISION_CHOICES,
                     help="train and evaluate every network at this precision: --set "
                          "student_recipe.precision=P (and teacher_recipe's) (default: the track's)")
    _engine_options(run)
    run.add_argument("--view-bank", choices=["auto", "on", "off"], default="auto",
                     help="on augmented data, serve a logits method's teacher from the logits of "
                          "every view of every image, computed once per teacher; auto: where the "
                          "sweep's runs of that teacher pay for it (default: auto)")

    bench = sub.add_parser(
        "bench", help="time steady-state distillation steps of the engine (images/s)",
        description="Time the engine's own training step (the one `kdbench run` runs) on "
                    "randomly initialized networks, after --warmup steps timed apart, and print "
                    "images/s. Models and methods are NAME or NAME(key=value, ...).")
    bench.add_argument("--teacher", required=True, metavar="MODEL",
                       help="e.g. wrn-16-2, lenet5(width=2) (required)")
    bench.add_argument("--student", required=True, metavar="MODEL", help="e.g. wrn-16-1, lenet5 (required)")
    bench.add_argument("--dataset", required=True, metavar="NAME",
                       help="the training split it reads (with --synthetic: random images of its "
                            "shape) (required)")
    bench.add_argument("--method", default="kd", metavar="METHOD", help="e.g. kd(temperature=2)")
    bench.add_argument("--batch-size", type=int, default=128, help="images per step")
    bench.add_argument("--augment", type=_augment, default=("crop", "flip"),
                       help="crop, flip, crop,flip or none (default: crop,flip)")
    bench.add_argument("--precision", choices=PRECISION_CHOICES, default="fp32",
                       help="the recipe's precision")
    _engine_options(bench)
    bench.add_argument("--device", type=_device, default="auto", help=DEVICES)
    bench.add_argument("--steps", type=int, default=20, help="timed steps")
    bench.add_argument("--warmup", type=int, default=3, help="steps before the timing (compilation included)")
    bench.add_argument("--synthetic", action="store_true",
                       help="random uint8 images of the data set's shape instead of its files")
    bench.add_argument("--examples", type=int, metavar="N",
                       help="train on the first N images (default: the whole training split; "
                            "with --synthetic, four batches)")
    bench.add_argument("--view-bank", action="store_true",
                       help="on augmented images, serve a logits method's teacher from a view bank "
                            "of every view of the images, made before the timing as `kdbench run` "
                            "makes it once per teacher and sweep (its seconds reported apart)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--data-dir", type=Path, metavar="DIR", help=DATA_DIR_HELP)

    ls = sub.add_parser("list", help="list installed methods, models, datasets, tracks, loggers, "
                        "executors or probes")
    ls.add_argument("kind", nargs="?",
                    choices=["methods", "models", "datasets", "tracks", "loggers", "executors", "probes"],
                    help="what to list (default: all seven)")

    show = sub.add_parser("show", help="print a track resolved per budget, or a model's feature taps",
                          description="`kdbench show TRACK` prints the track as set and, per budget, "
                          "as resolved (valid YAML); `kdbench show model NAME` prints the model's "
                          "feature taps, each with its module and feature shape.")
    show.add_argument("track", metavar="TRACK", help="track name or YAML file, or the word `model` "
                      "or `probe`")
    show.add_argument("name", nargs="?", metavar="NAME",
                      help="after `model`: the model, e.g. lenet5, wrn-16-2, torchvision/resnet18")
    show.add_argument("--set", action="append", dest="overrides", metavar="PATH=VALUE",
                      help=f"{SET_HELP}; after `model`, a parameter of the model, e.g. "
                      "width=2 (default: none)")
    model = show.add_argument_group("options of `kdbench show model NAME`")
    model.add_argument("--dataset", metavar="NAME", help="build the model for this data set's "
                       "images and classes (default: mnist-5k, which ships with kdbench)")
    model.add_argument("--input", metavar="CxHxW", help="build it for images of this shape "
                       "instead, e.g. 3x32x32 (default: the data set's)")
    model.add_argument("--classes", type=int, metavar="N",
                       help="number of classes with --input (default: 10)")
    model.add_argument("--data-dir", type=Path, metavar="DIR", help=DATA_DIR_HELP)

    validate = sub.add_parser("validate", help="check track files; exit 2 listing every problem")
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE", help="track YAML files")
    validate.add_argument("--set", action="append", dest="overrides", metavar="PATH=VALUE",
                          help=f"{SET_HELP}; applied to every file (default: none)")
    validate.add_argument("--data", action="store_true",
                          help="also load the data sets and check the training data of every run "
                               "(an empty subset, a class a per_class subset leaves out), as "
                               "`kdbench run` does before it trains")
    validate.add_argument("--data-dir", type=Path, metavar="DIR", help=DATA_DIR_HELP)

    sub.add_parser("schema", help="print the JSON Schema of a track file")

    board = sub.add_parser(
        "leaderboard", help="render markdown boards from result files",
        description="Render README.md, <track>.md and plots from the result files that `kdbench "
                    "run` wrote. Files that fail their checks, and results that are not in their "
                    "track's current expansion, are reported and left off.")
    board.add_argument("--results", type=Path, default=None,
                       help="result files to render (default: KDBENCH_RESULTS, else ./results: "
                            "where `kdbench run` writes)")
    board.add_argument("--out", type=Path, default=None,
                       help="where the pages go (default: the --results folder)")
    board.add_argument("--spec", type=Path, action="append", default=[],
                       help="a track file whose results to render (repeatable); installed tracks "
                            "are found by name (default: none)")
    board.add_argument("--published", action="store_true",
                       help="the project's published board: --results leaderboard/results --out "
                            "leaderboard, a page for every built-in track, and any refused file is "
                            "an error (run from the repository root)")
    board.add_argument("--check", action="store_true",
                       help="exit 1 when the files in --out are not what the results render to")

    verify = sub.add_parser(
        "verify", help="re-evaluate results from their kept student weights",
        description="Re-evaluate result files on their test and training splits from the kept "
                    "student weights (beside the result file, sha256-checked) and the teacher's "
                    "weights (in the cache or --teachers), and check every metric.")
    verify.add_argument("--results", type=Path, default=None,
                        help="result files to check (default: KDBENCH_RESULTS, else ./results)")
    verify.add_argument("--published", action="store_true",
                        help="check the published board: --results leaderboard/results --teachers "
                             "leaderboard/teachers")
    verify.add_argument("--track", help="only this track's results (default: every track)")
    verify.add_argument("--sample", type=int, default=None, metavar="K",
                        help="check K results drawn at random (default: all)")
    verify.add_argument("--seed", type=int, default=0, help="seed of the --sample draw (default: 0)")
    verify.add_argument("--teachers", type=Path, default=None,
                        help="a folder of teacher weights laid out like <cache>/teachers "
                             "(default: none)")
    verify.add_argument("--allow-missing-teachers", action="store_true",
                        help="where a teacher's weights are not found, check the student's own "
                             "metrics and pass (else such a result fails)")
    verify.add_argument("--copy-teachers", type=Path, default=None, metavar="DIR",
                        help="copy the teacher weights the checks used into DIR, to ship them "
                             "with published results (leaderboard/teachers) (default: none)")
    verify.add_argument("--data-dir", type=Path, metavar="DIR", help=DATA_DIR_HELP)
    verify.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help=f"the cached teachers {CACHE_DIR_DEFAULT}")
    verify.add_argument("--device", type=_device, default="cpu", help=DEVICES)

    sub.add_parser("doctor", help="report plugins (and broken ones), versions and paths")
    for command in sub.choices.values():
        _global_options(command, default=argparse.SUPPRESS)
    for command in (p, *sub.choices.values()):
        command.formatter_class = _Help
    return p


PRECISION_CHOICES = ("fp32", "bf16-mixed", "fp16-mixed")


def _augment(text: str) -> tuple[str, ...]:
    """``crop,flip`` -> ("crop", "flip"); ``none`` -> ()."""
    parts = tuple(part.strip() for part in text.split(","))
    if parts == ("none",):
        return ()
    unknown = [part for part in parts if part not in ("crop", "flip")]
    if unknown or len(set(parts)) != len(parts):
        raise argparse.ArgumentTypeError(f"{text!r}: use crop, flip, crop,flip or none")
    return parts


def _engine_options(p: argparse.ArgumentParser) -> None:
    """How the engine runs its steps; results are the same up to float error."""
    p.add_argument("--compile", nargs="?", const="inductor", default=None, metavar="BACKEND",
                   help="torch.compile each distiller (backend inductor, or aot_eager, eager) "
                        "(default: eager, not compiled)")
    p.add_argument("--memory-format", choices=["auto", "channels_last", "contiguous"], default="auto",
                   help="layout of images and conv weights; auto: channels_last for conv nets")


def cmd_bench(args: argparse.Namespace) -> int:
    from kdbench import paths
    from kdbench.bench import BenchSettings, bench

    settings = BenchSettings(teacher=args.teacher, student=args.student, dataset=args.dataset,
                             method=args.method, batch_size=args.batch_size, augment=args.augment,
                             precision=args.precision, compile=args.compile,
                             memory_format=args.memory_format, device=args.device,
                             steps=args.steps, warmup=args.warmup, synthetic=args.synthetic,
                             view_bank=args.view_bank, examples=args.examples)
    result = bench(_pm(args), settings, args.data_dir or paths.data_dir())
    print(json.dumps(result.as_json()) if args.json else result.summary())
    return 0


def _pm(args: argparse.Namespace) -> PluginManager:
    from kdbench.plugins import get_plugin_manager

    return get_plugin_manager(strict=True if args.strict_plugins else None)


def cmd_run(args: argparse.Namespace) -> int:
    from kdbench.api import prepare
    from kdbench.engine.step import EngineOptions
    from kdbench.execution.config import read_executor_config
    from kdbench.execution.executors import parse_options
    from kdbench.execution.launch import torchrun
    from kdbench.execution.sweep import sweep
    from kdbench.leaderboard import budget_section
    from kdbench.progress import Progress

    if args.spec and not args.spec.is_file():
        raise KdbenchError(f"track file not found: {args.spec}")
    if args.nproc_per_node is not None and args.nproc_per_node < 1:  # with --plan too
        raise KdbenchError(f"--nproc-per-node {args.nproc_per_node}: give 1 or more processes")
    options = parse_options(args.executor_opt)
    if args.executor_config is not None:
        config = read_executor_config(args.executor_config, _pm(args))
        if args.executor not in (None, config.name):
            raise KdbenchError(f"--executor {args.executor}, but {args.executor_config} names "
                               f"executor {config.name!r}: give one")
        args.executor, options = config.name, {**config.options, **options}
    args.executor = args.executor or "local"
    if args.jobs is not None:
        if args.jobs < 1:
            raise KdbenchError(f"--jobs {args.jobs}: give 1 or more worker processes")
        if args.executor != "local":
            raise KdbenchError(f"--jobs is an option of the local executor; for {args.executor} "
                               "use --executor-opt (see `kdbench list executors`)")
        options["jobs"] = args.jobs
    prepared = prepare(args.spec or args.track, args.budget, seeds=args.seeds,
                       overrides=args.overrides or (), executor=args.executor,
                       executor_options=options, results=results_dir(args.results),
                       cache=args.cache_dir, data_dir=args.data_dir, device=args.device,
                       download=args.download, rerun=args.rerun, reuse_stale=args.reuse_stale,
                       log=args.log, log_dir=args.log_dir, strict_plugins=args.strict_plugins,
                       precision=args.precision, teacher_checkpoints=args.teacher_checkpoints,
                       engine=EngineOptions(memory_format=args.memory_format, compile=args.compile,
                                            view_bank=args.view_bank))
    if args.nproc_per_node is not None and args.nproc_per_node != 1 and not args.plan:
        return torchrun(args.nproc_per_node, args.argv, prepared.runs, _pm(args), args.executor,
                        options, args.device)
    track, where = prepared.track, prepared.context.results / prepared.track.name / args.budget
    plan = prepared.plan()
    if args.plan:
        print(f"track {track.name}, budget {args.budget}: {plan.summary()}")
        if plan.jobs:
            print(plan.table())
        return 0
    print(f"kdbench: track {track.name}, budget {args.budget}: {len(prepared.runs)} runs, results in "
          f"{where}", file=sys.stderr)
    with Progress(len(prepared.runs)) as progress:
        results = sweep(plan, prepared.context, prepared.executor, progress)
    if track.probes:
        from kdbench.probes.board import with_probes
        from kdbench.probes.measure import probe_sweep

        probe_sweep(track, prepared.runs, results, prepared.context,
                    say=lambda line: print(line, file=sys.stderr))
        results, _ = with_probes(prepared.context.results, track, results, _pm(args))
    stale = {result.run_id for result in plan.stale.values()}
    print(budget_section([r for r in results if r.run_id not in stale], track, args.budget,
                         stale=len(stale), other_code=len(stale)))
    if stale:
        print(f"kdbench: {len(stale)} result(s) were made by other plugin code and reused "
              "(--reuse-stale); the board above leaves them off", file=sys.stderr)
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"kdbench: {len(failed)} of {len(results)} runs failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from kdbench.plugins import KINDS, naming

    pm = _pm(args)
    for kind in [args.kind] if args.kind else list(KINDS):
        rows = []
        for entry in pm.catalog(kind):
            info = entry.info
            name = info.name
            if getattr(info, "pattern", None):
                name = f"{info.name}: {naming(info.pattern)} (e.g. {info.example})"
            rows.append([name, info.summary, entry.distribution.split(" ")[0]])
        if not args.kind:
            print(f"{kind}:")
        print(tabulate(rows, headers=["name", "summary", "provided by"], tablefmt="simple"))
        if not args.kind:
            print()
    return 0


MODEL_OPTIONS = ("dataset", "input", "classes", "data_dir")


def cmd_show(args: argparse.Namespace) -> int:
    from kdbench.expand import expand
    from kdbench.overrides import parse_overrides
    from kdbench.show import track_view
    from kdbench.specfile import load_track_file
    from kdbench.trackpath import track_path

    overrides = parse_overrides(args.overrides)
    if args.track == "model":
        return show_model(args, overrides)
    if args.track == "probe":
        from kdbench.probes.describe import probe_view

        if not args.name:
            raise KdbenchError("kdbench show probe: give the probe's name (`kdbench list probes`)")
        print(probe_view(_pm(args).probes.find(args.name)), end="")
        return 0
    if args.name is not None:
        raise KdbenchError(f"kdbench show takes one track, not {args.track!r} and {args.name!r}; "
                           f"for a model's taps: kdbench show model {args.name}")
    given = [f"--{name.replace('_', '-')}" for name in MODEL_OPTIONS if getattr(args, name) is not None]
    if given:
        raise KdbenchError(f"{', '.join(given)}: only for `kdbench show model NAME`")
    pm = _pm(args)
    try:
        path = track_path(args.track, pm)
    except UnknownNameError as error:
        if any(info.matches(args.track) for info in (entry.info for entry in pm.models)):
            raise UnknownNameError(f"{error}; {args.track!r} is a model: kdbench show model "
                                   f"{args.track}") from None
        raise
    track, root = load_track_file(path, overrides)
    runs = {budget: expand(track, budget, pm, source=str(path), root=root) for budget in track.budgets}
    print(track_view(track, str(path), runs, overrides), end="")
    return 0


def _image_shape(text: str) -> tuple[int, int]:
    """``--input 3x32x32`` -> (channels, size); kdbench's models take square images."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise KdbenchError(f"--input {text}: expected CxHxW with positive integers, e.g. 3x32x32")
    channels, height, width = map(int, parts)
    if height != width:
        raise KdbenchError(f"--input {text}: images must be square (H = W)")
    return channels, height


def show_model(args: argparse.Namespace, overrides: tuple[Override, ...]) -> int:
    """``kdbench show model NAME``: the model's feature taps for a data set's or a given input."""
    from kdbench import paths
    from kdbench.data.source import DataSource
    from kdbench.errors import DataNotFoundError
    from kdbench.show import taps_view
    from kdbench.specs import Ref

    if not args.name:
        raise KdbenchError("kdbench show model: give the model's name, e.g. kdbench show model lenet5")
    if args.input is not None and args.dataset is not None:
        raise KdbenchError("--input and --dataset: give one of them")
    if args.classes is not None and args.input is None:
        raise KdbenchError("--classes goes with --input; a data set has its own classes")
    if args.classes is not None and args.classes < 2:
        raise KdbenchError(f"--classes {args.classes}: give 2 or more")
    pm = _pm(args)
    dataset = None if args.input is not None else args.dataset or "mnist-5k"
    if dataset is None:
        (channels, size), classes = _image_shape(args.input), args.classes or 10
    else:
        try:
            data = DataSource(pm, args.data_dir or paths.data_dir()).evaluation(Ref(name=dataset))
        except DataNotFoundError as error:
            raise DataNotFoundError(f"{error}; or give its shape: --input CxHxW --classes N") from None
        channels, size, classes = data.in_channels, data.image_size, data.num_classes
    print(taps_view(pm, args.name, overrides, channels, size, classes, dataset))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from kdbench.errors import SpecError
    from kdbench.overrides import parse_overrides
    from kdbench.validate import validate_file

    overrides = parse_overrides(args.overrides)
    pm = _pm(args)
    problems = []
    for path in args.files:
        try:
            track = validate_file(path, pm, overrides)
            if args.data:
                data_checked(path, track, pm, overrides, args.data_dir)
            print(f"{path}: ok (track {track.name})")
        except SpecError as error:
            problems.extend(error.lines())
    for line in problems:
        print(f"kdbench: error: {line}", file=sys.stderr)
    return 2 if problems else 0


def data_checked(path: Path, track: TrackSpec, pm: PluginManager, overrides: Sequence[Override],
                 data_dir: Path | None) -> None:
    """``kdbench run``'s pre-flight over every budget of ``track``: a ``SpecError`` listing the
    training sets that would be empty and the teacher checkpoints that do not check out; data sets
    not on disk are an error as in ``run``."""
    from kdbench import paths
    from kdbench.data.source import DataSource
    from kdbench.errors import SpecError
    from kdbench.expand import expand
    from kdbench.preflight import checkpoint_problems, data_problems
    from kdbench.specfile import load_track_file

    _, root = load_track_file(path, overrides)
    data = DataSource(pm, data_dir or paths.data_dir())
    problems: dict[str, list[str]] = {}
    for budget in track.budgets:
        runs = expand(track, budget, pm, source=str(path), root=root)
        for problem in data_problems(runs, data) + checkpoint_problems(runs, pm, data):
            problems.setdefault(problem, []).append(budget)
    if problems:
        raise SpecError(str(path), [problem if len(budgets) == len(track.budgets)
                                    else f"{problem} (budget {', '.join(budgets)})"
                                    for problem, budgets in problems.items()])


def cmd_schema(args: argparse.Namespace) -> int:
    from kdbench.schema import track_schema

    print(json.dumps(track_schema(_pm(args)), indent=2))
    return 0


def results_dir(given: Path | None) -> Path:
    """``--results``, else ``KDBENCH_RESULTS``, else ``./results``: where ``run`` writes."""
    return given or Path(os.environ.get("KDBENCH_RESULTS") or "results")


def _published(args: argparse.Namespace) -> None:
    """Point ``--published`` at the repository's board, which must be under the working folder."""
    if not Path("leaderboard/results").is_dir():
        raise KdbenchError("--published: no leaderboard/results here; run it from the root of a "
                           "kdbench checkout")
    args.results = Path("leaderboard/results")


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from kdbench import leaderboard
    from kdbench.results import check_results_dir
    from kdbench.specfile import load_track_file
    from kdbench.trackpath import track_path

    pm = _pm(args)
    if args.published:
        _published(args)
        args.out = args.out or Path("leaderboard")
    results = results_dir(args.results)
    out = args.out or results
    check_results_dir(results)
    given = {track.name: track for track in (load_track_file(path)[0] for path in args.spec)}

    def load_track(name: str) -> TrackSpec | None:
        if name not in pm.tracks.names():
            return None
        return load_track_file(track_path(name, pm))[0]

    shown = dict(given)
    if args.published:
        shown |= {e.info.name: load_track_file(e.info.path)[0] for e in pm.tracks if e.plugin == "builtin"}
    pages, problems = leaderboard.collect(results, shown, pm, load_track)
    for line in problems:
        print(f"kdbench: {'error' if args.published else 'warning'}: {line}", file=sys.stderr)
    files = leaderboard.render(pages, published=args.published)
    refused = 1 if problems and args.published else 0
    if args.check:
        old = leaderboard.stale(files, out)
        if old:
            again = "--published" if args.published else f"--results {results} --out {out}"
            print(f"kdbench: leaderboard is stale in {out}: {', '.join(old)}; "
                  f"run `kdbench leaderboard {again}`", file=sys.stderr)
            return 1
        print(f"leaderboard in {out} is up to date ({len(files)} files)")
        return refused
    leaderboard.write(files, out)
    print(f"wrote {len(files)} files to {out}")
    return refused


def cmd_verify(args: argparse.Namespace) -> int:
    from kdbench import paths
    from kdbench.data.source import DataSource
    from kdbench.results import check_results_dir
    from kdbench.runner import resolve_device
    from kdbench.verify import verify_results

    pm = _pm(args)
    if args.published:
        _published(args)
        args.teachers = args.teachers or Path("leaderboard/teachers")
    if args.sample is not None and args.sample < 1:
        raise KdbenchError(f"--sample must be at least 1, not {args.sample}")
    results = results_dir(args.results)
    check_results_dir(results)
    cache = args.cache_dir or paths.cache_dir()
    data = DataSource(pm, args.data_dir or paths.data_dir())
    report = verify_results(pm, results, cache, data, resolve_device(args.device),
                            teachers=args.teachers, track=args.track, sample=args.sample,
                            seed=args.seed, copy_teachers=args.copy_teachers,
                            allow_missing_teachers=args.allow_missing_teachers, say=print)
    print(report.summary())
    return 0 if report.ok else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    import torch

    from kdbench import __version__, paths
    from kdbench.plugins import KINDS

    pm = _pm(args)
    print(f"kdbench {__version__}, python {platform.python_version()}, torch {torch.__version__}, "
          f"cuda {'available' if torch.cuda.is_available() else 'not available'}")
    print(f"data dir: {paths.data_dir()}\ncache dir: {paths.cache_dir()}")
    for kind in KINDS:
        pm.catalog(kind)  # collect, so that hooks that raise are reported below
    print("plugins:")
    for name, plugin in sorted(pm.list_name_plugin()):
        if plugin is None:  # blocked: listed below as disabled
            continue
        found = {k: sum(e.plugin == name for e in pm.catalog(k)) for k in KINDS}
        counts = [f"{n} {k if n != 1 else k[:-1]}" for k, n in found.items()]
        print(f"  {name} ({pm.distributions.get(name, '?')}): {', '.join(counts)}")
    for name in pm.blocked:
        where = f"({pm.disabled[name]})" if name in pm.disabled else "(no plugin of that name is installed)"
        print(f"  {name} {where}: disabled by KDBENCH_DISABLE_PLUGINS")
    for failure in pm.failures:
        print(f"  BROKEN {failure}")
    for conflict in pm.conflicts:
        print(f"  CONFLICT {conflict}")
    return 1 if pm.failures or pm.conflicts else 0


COMMANDS = {"run": cmd_run, "list": cmd_list, "show": cmd_show, "validate": cmd_validate,
            "schema": cmd_schema, "leaderboard": cmd_leaderboard, "verify": cmd_verify, "doctor": cmd_doctor,
            "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    _setup_logging()
    args = parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for --nproc-per-node to pass on
    if args.version:
        from kdbench import __version__

        print(f"kdbench {__version__}")
        return 0
    if args.command is None:
        parser().print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except KdbenchError as error:
        for line in error.lines():
            print(f"kdbench: error: {line}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("kdbench: interrupted; finished runs are saved, run again to resume",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``kdbench schema | head``)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
