"""``avmm sweep``: run an experiment file's points and collect their table and plots.

    avmm sweep FILE --out DIR [--jobs N] [--ray ADDRESS|auto|local] [--resume]
    avmm sweep --report DIR

Exit status: 0 when the sweep ran (single failed points are rows, not errors),
2 for a bad experiment file or argument (or --ray without Ray), 130 when
interrupted (the points done are kept: --resume), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from avmm.cli.usage import EXIT_USAGE, Parser
from avmm.errors import AvmmError, ConfigError

EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130


EXAMPLES = """\
examples:
  avmm sweep configs/experiments/sweep-spinlock.toml --out results/spinlock
  avmm sweep configs/experiments/sweep-spinlock.toml --out results/spinlock --resume
  avmm sweep configs/experiments/sweep-spinlock.toml --out results/spinlock --ray local
  avmm sweep --report results/spinlock   # plots and summary.md again from the table
"""


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="avmm sweep",
        description="Run every point of an experiment file (axes x repetitions), each as "
        "its own `avmm run`, into DIR: results.csv, results.parquet, plots/, summary.md.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("experiment", nargs="?", type=Path, metavar="FILE", help="experiment TOML")
    p.add_argument("--out", type=Path, metavar="DIR", help="where the results go")
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="points at once on this machine (default: its cores; with --ray local, "
        "the CPUs of the Ray instance)",
    )
    p.add_argument(
        "--ray",
        metavar="ADDRESS|auto|local",
        help="run the points as Ray tasks on a cluster (ray.init's address; 'local' starts "
        "a Ray instance on this machine for the sweep). Needs: pip install 'avmm[cluster]'",
    )
    p.add_argument("--resume", action="store_true", help="skip the points already done in DIR")
    p.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="only regenerate DIR's plots and summary.md from its table",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return _main(args)
    except ConfigError as err:
        _error(str(err))
        return EXIT_USAGE
    except AvmmError as err:
        _error(str(err))
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        # The running children got the SIGINT too and stopped; their points have no row.
        print("\navmm sweep: interrupted; add --resume to run the rest", file=sys.stderr)
        return EXIT_INTERRUPTED


def _error(message: str) -> None:
    print(f"avmm: error: {message}", file=sys.stderr)


def _main(args: argparse.Namespace) -> int:
    from avmm.sweep import report

    if args.report is not None:
        if args.experiment is not None or args.out is not None:
            raise ConfigError("--report", "takes only DIR (the --out of an earlier sweep)")
        from avmm.sweep import table

        if not all((args.report / f).is_file() for f in ("sweep.json", table.PARQUET)):
            raise ConfigError("--report", f"{args.report} has no sweep results")
        plots = report.regenerate(args.report)
        print(f"avmm sweep: {len(plots)} plots, {args.report / 'summary.md'}", file=sys.stderr)
        return 0
    if args.experiment is None or args.out is None:
        raise ConfigError("", "give an experiment FILE and --out DIR (or --report DIR)")
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("--jobs", f"{args.jobs} must be at least 1")
    from avmm.sweep import backends, experiment, runner, table

    if args.ray is not None:
        try:
            backends.import_ray()
        except backends.MissingExtra as err:
            raise ConfigError("--ray", str(err).removeprefix("--ray ")) from None
    exp = experiment.load(args.experiment)
    backend: backends.Backend
    if args.ray is not None:
        backend = backends.RayCluster(args.ray, args.jobs)
    else:
        backend = backends.LocalPool(args.jobs)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        result = runner.run(exp, args.out, backend, resume=args.resume)
    finally:
        backend.close()
    axes = [a.key for a in exp.axes]
    table.write(args.out, result.rows, table.columns(axes, result.rows))
    table.write_series(args.out, result.rows, axes, args.out / "runs")
    plots = report.regenerate(args.out)
    failed = sum(1 for r in result.rows if r["status"] != "ok")
    print(
        f"avmm sweep: {len(result.rows)} runs ({result.ran} now, {result.skipped} from before), "
        f"{failed} not ok; {args.out / table.CSV}, {len(plots)} plots, "
        f"{args.out / 'summary.md'}",
        file=sys.stderr,
    )
    return 0
