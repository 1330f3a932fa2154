"""Run more differential tests than CI does: ``python -m tests.difftest --seeds N``.

Generates N random programs per category (seeds start..start+N-1, in each
``--mode``: M, or S/U under Sv39/Sv48 paging), builds
them in a temporary directory, runs each on avmm and QEMU and prints the
first difference of each failing program with its seed. Exit status 1 when
any program differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from guests.build import Step
from guests.difftest.gen import CATEGORIES, MODES, directed_programs, random_program
from guests.difftest.recipe import build_programs
from tests.difftest.difftest_compare import compare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.difftest", description=__doc__)
    parser.add_argument("--seeds", type=int, default=10, help="programs per category")
    parser.add_argument("--start", type=int, default=1000, help="first seed")
    parser.add_argument("--length", type=int, default=300, help="instructions per program")
    parser.add_argument(
        "--category", action="append", choices=CATEGORIES, help="only these (repeatable)"
    )
    parser.add_argument(
        "--mode", action="append", choices=list(MODES), help="run in these modes (default: M)"
    )
    parser.add_argument("--directed", action="store_true", help="also the directed programs")
    args = parser.parse_args(argv)
    programs = [
        random_program(category, seed, args.length, mode)
        for category in args.category or CATEGORIES
        for seed in range(args.start, args.start + args.seeds)
        for mode in args.mode or ["M"]
    ]
    if args.directed:
        programs += directed_programs()
    failures = 0
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="avmm-difftest-") as tmp:
        outdir = Path(tmp)
        step = Step("difftest", outdir, outdir / "build.log", quiet=True)
        print(f"building {len(programs)} programs ...", flush=True)
        elfs = build_programs(step, programs)
        for prog, elf in zip(programs, elfs, strict=True):
            label = prog.name if prog.seed is None else f"seed {prog.seed} ({prog.name})"
            problem = compare(elf, label, prog.entries)
            if problem is not None:
                failures += 1
                print(f"DIFF {problem}", flush=True)
    print(
        f"{len(programs) - failures}/{len(programs)} programs agree "
        f"({time.monotonic() - start:.0f} s)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
