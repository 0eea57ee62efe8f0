"""The ``kdbench`` command. Errors a user can fix print one line each and exit with code 2."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import sys
from pathlib import Path
from typing import NoReturn

import yaml

from kdbench.errors import KdbenchError


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


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kdbench", description=__doc__.splitlines()[0])
    _global_options(p, default=False)
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a track (or a track file) and print its boards")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--track", help="name of an installed track")
    source.add_argument("--spec", type=Path, help="path to a track YAML file")
    run.add_argument("--budget", choices=["full", "quick", "smoke"], default="full")
    run.add_argument("--seeds", type=_seeds, help="comma-separated seeds, replacing the track's")
    run.add_argument("--results", type=Path, default=None,
                     help="where result files go (default: KDBENCH_RESULTS, else ./results)")
    run.add_argument("--data-dir", type=Path, help="data sets root (default: KDBENCH_DATA_DIR)")
    run.add_argument("--cache-dir", type=Path, help="teachers and checkpoints (KDBENCH_CACHE_DIR)")
    run.add_argument("--device", type=_device, default="auto", help=DEVICES)
    run.add_argument("--download", action="store_true", help="download missing data sets")
    run.add_argument("--rerun", action="store_true", help="run again even when a result exists")
    run.add_argument("--reuse-stale", action="store_true",
                     help="reuse a result made by other plugin code (another version of the "
                          "method, model or data set) instead of running it again; it is marked "
                          "stale and left off boards")
    run.add_argument("--log", action="append", default=[], metavar="LOGGER",
                     help="log every epoch's losses, lr, test accuracy and throughput with LOGGER "
                          "(tensorboard, csv, or any in `kdbench list loggers`); repeatable")
    run.add_argument("--log-dir", type=Path, default=Path("runs"),
                     help="root of the loggers' folders, one per trained network (default: runs, "
                          "as TensorBoard's SummaryWriter)")

    ls = sub.add_parser("list", help="list installed methods, models, datasets, tracks or loggers")
    ls.add_argument("kind", nargs="?", choices=["methods", "models", "datasets", "tracks", "loggers"])

    show = sub.add_parser("show", help="print a track with every default filled in")
    show.add_argument("track", help="track name or YAML file")

    validate = sub.add_parser("validate", help="check track files; exit 2 listing every problem")
    validate.add_argument("files", nargs="+", type=Path)

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
                            "are found by name")
    board.add_argument("--published", action="store_true",
                       help="the project's published board: --results leaderboard/results --out "
                            "leaderboard, a page for every built-in track, and any refused file is "
                            "an error (run from the repository root)")
    board.add_argument("--check", action="store_true",
                       help="exit 1 when the files in --out are not what the results render to")

    verify = sub.add_parser(
        "verify", help="re-evaluate results from their kept student weights",
        description="Re-evaluate result files on their test split from the kept student weights "
                    "(next to the result file or in <cache>/students/, sha256-checked) and the "
                    "teacher's weights (in the cache or --teachers), and check every test metric.")
    verify.add_argument("--results", type=Path, default=None,
                        help="result files to check (default: KDBENCH_RESULTS, else ./results)")
    verify.add_argument("--published", action="store_true",
                        help="check the published board: --results leaderboard/results --teachers "
                             "leaderboard/teachers")
    verify.add_argument("--track", help="only this track's results")
    verify.add_argument("--sample", type=int, default=None, metavar="K",
                        help="check K results drawn at random (default: all)")
    verify.add_argument("--seed", type=int, default=0, help="seed of the --sample draw (default: 0)")
    verify.add_argument("--teachers", type=Path, default=None,
                        help="a folder of teacher weights laid out like <cache>/teachers")
    verify.add_argument("--copy-teachers", type=Path, default=None, metavar="DIR",
                        help="copy the teacher weights the checks used into DIR, to ship them "
                             "with published results (leaderboard/teachers)")
    verify.add_argument("--data-dir", type=Path, help="data sets root (default: KDBENCH_DATA_DIR)")
    verify.add_argument("--cache-dir", type=Path, help="teachers and students (KDBENCH_CACHE_DIR)")
    verify.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")

    sub.add_parser("doctor", help="report plugins (and broken ones), versions and paths")
    for command in sub.choices.values():
        _global_options(command, default=argparse.SUPPRESS)
    return p


def _pm(args: argparse.Namespace):
    from kdbench.plugins import get_plugin_manager

    return get_plugin_manager(strict=True if args.strict_plugins else None)


def cmd_run(args: argparse.Namespace) -> int:
    from kdbench import paths
    from kdbench.build import DataSource
    from kdbench.errors import SpecError
    from kdbench.expand import expand, track_path
    from kdbench.leaderboard import budget_section
    from kdbench.loggers.group import LoggerGroup
    from kdbench.preflight import data_problems
    from kdbench.progress import Progress
    from kdbench.results import ResultStore
    from kdbench.runner import Runner, resolve_device
    from kdbench.specfile import load_track_file

    pm = _pm(args)
    loggers = LoggerGroup.from_names(pm, args.log, args.log_dir)
    path = args.spec if args.spec else track_path(args.track, pm)
    if args.spec and not path.is_file():
        raise KdbenchError(f"track file not found: {path}")
    track, root = load_track_file(path)
    runs = expand(track, args.budget, pm, seeds=args.seeds, source=str(path), root=root)
    store = ResultStore(results_dir(args.results))
    data = DataSource(pm, args.data_dir or paths.data_dir(), download=args.download)
    runner = Runner(pm, store, args.cache_dir or paths.cache_dir(), data,
                    resolve_device(args.device), rerun=args.rerun, reuse_stale=args.reuse_stale,
                    loggers=loggers)
    pending = [r for r in runs if args.rerun or not getattr(store.get(r), "ok", False)]
    problems = data_problems(pending, data)  # before anything trains
    if problems:
        raise SpecError(str(path), problems)
    print(f"kdbench: track {track.name}, budget {args.budget}: {len(runs)} runs, results in "
          f"{store.root / track.name / args.budget}", file=sys.stderr)
    with Progress(len(runs)) as progress:
        results = runner.run(runs, progress)
    print(budget_section(results, track, args.budget))
    if runner.stale:
        print(f"kdbench: {len(runner.stale)} result(s) above were made by other plugin code and "
              "reused (--reuse-stale); boards leave them off", file=sys.stderr)
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


def cmd_show(args: argparse.Namespace) -> int:
    from kdbench.expand import expand, track_path
    from kdbench.specfile import load_track_file

    pm = _pm(args)
    path = track_path(args.track, pm)
    track, root = load_track_file(path)
    resolved = {"file": str(path), **track.model_dump(mode="json", by_alias=True), "resolved": {}}
    for budget in track.budgets:
        runs = expand(track, budget, pm, source=str(path), root=root)
        first_teacher = next((r.teacher for r in runs if r.teacher is not None), None)
        resolved["resolved"][budget] = {
            "runs": len(runs), "seeds": sorted({r.seed for r in runs}),
            "teacher_recipe": first_teacher.recipe.model_dump(mode="json") if first_teacher
            else None,
            "student_recipe": runs[0].recipe.model_dump(mode="json"),
            "methods": {r.method_label: r.method.params for r in runs},
        }
    print(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True), end="")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from kdbench.errors import SpecError
    from kdbench.expand import validate_file

    pm = _pm(args)
    problems = []
    for path in args.files:
        try:
            track = validate_file(path, pm)
            print(f"{path}: ok (track {track.name})")
        except SpecError as error:
            problems.extend(error.lines())
    for line in problems:
        print(f"kdbench: error: {line}", file=sys.stderr)
    return 2 if problems else 0


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
    from kdbench.expand import track_path
    from kdbench.results import check_results_dir
    from kdbench.specfile import load_track_file

    pm = _pm(args)
    if args.published:
        _published(args)
        args.out = args.out or Path("leaderboard")
    results = results_dir(args.results)
    out = args.out or results
    check_results_dir(results)
    given = {track.name: track for track in (load_track_file(path)[0] for path in args.spec)}

    def load_track(name: str):
        if name not in pm.tracks.names():
            return None
        return load_track_file(track_path(name, pm))[0]

    shown = dict(given)
    if args.published:
        shown |= {e.info.name: load_track(e.info.name) for e in pm.tracks if e.plugin == "builtin"}
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
    from kdbench.build import DataSource
    from kdbench.results import check_results_dir
    from kdbench.runner import resolve_device
    from kdbench.verify import verify_results

    pm = _pm(args)
    if args.published:
        _published(args)
        args.teachers = args.teachers or Path("leaderboard/teachers")
    results = results_dir(args.results)
    check_results_dir(results)
    if args.sample is not None and args.sample < 1:
        raise KdbenchError(f"--sample must be at least 1, not {args.sample}")
    cache = args.cache_dir or paths.cache_dir()
    data = DataSource(pm, args.data_dir or paths.data_dir())
    report = verify_results(pm, results, cache, data, resolve_device(args.device),
                            teachers=args.teachers, track=args.track, sample=args.sample,
                            seed=args.seed, copy_teachers=args.copy_teachers, say=print)
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
        counts = [f"{len([e for e in pm.catalog(k) if e.plugin == name])} {k}" for k in KINDS]
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
            "schema": cmd_schema, "leaderboard": cmd_leaderboard, "verify": cmd_verify, "doctor": cmd_doctor}


def main(argv: list[str] | None = None) -> int:
    _setup_logging()
    args = parser().parse_args(argv)
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
