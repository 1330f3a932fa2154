"""Sweep throughput: runs per minute of ``avmm sweep`` one point at a time, with the
local process pool, and on a local Ray instance; and the overhead per point against
a bare ``avmm run`` of the same config.

    python -m bench.sweep [--points 24] [--jobs N]

The points are the smp demo (guests/demo) on 2 vCPUs under the deterministic
policy, one seed each, so every point does the same work. Each mode is the whole
``avmm sweep`` command as a user runs it (loading the file, the runs, the table,
the plots); ``--ray local`` includes starting and stopping Ray.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from guests.build import build

AVMM = [sys.executable, "-m", "avmm.cli"]


def _experiment(folder: Path, elf: Path, points: int) -> Path:
    path = folder / "bench.toml"
    path.write_text(
        f"""version = 1
name = "bench"
[config]
sched = {{ policy = "deterministic", clock = "virtual" }}
vm = {{ vcpus = 2, memory = "64MiB", boot = {{ mode = "firmware", firmware = "{elf}" }} }}
[repetitions]
count = {points}
"""
    )
    return path


def _timed(cmd: list[str]) -> float:
    start = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=24)
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args(argv)
    elf = build("demo", quiet=True) / "smp-demo.elf"
    with tempfile.TemporaryDirectory(prefix="avmm-bench-sweep-") as tmp:
        folder = Path(tmp)
        exp = _experiment(folder, elf, args.points)
        config = folder / "bare.toml"
        config.write_text(
            'version = 1\nsched = { policy = "deterministic", clock = "virtual" }\n'
            f'vm = {{ vcpus = 2, memory = "64MiB", boot = {{ mode = "firmware", '
            f'firmware = "{elf}" }} }}\n'
        )
        bare = [
            _timed([*AVMM, "run", str(config), "--report", str(folder / "r.json")])
            for _ in range(min(args.points, 8))
        ]
        bare_s = sum(bare) / len(bare)
        modes = {
            "one at a time (--jobs 1)": ["--jobs", "1"],
            f"process pool (--jobs {args.jobs})": ["--jobs", str(args.jobs)],
        }
        try:
            import ray  # noqa: F401

            modes[f"Ray, local instance (--ray local, {args.jobs} CPUs)"] = [
                "--ray",
                "local",
                "--jobs",
                str(args.jobs),
            ]
        except ImportError:
            print("(Ray is not installed: pip install 'avmm[cluster]' to bench it)")
        print(f"{args.points} points, the smp demo on 2 vCPUs; bare `avmm run`: {bare_s:.3f} s")
        print(f"{'mode':44} {'wall s':>8} {'runs/min':>9} {'s/point':>8}")
        results = {}
        for i, (name, flags) in enumerate(modes.items()):
            out = folder / f"out{i}"
            wall = _timed([*AVMM, "sweep", str(exp), "--out", str(out), *flags])
            results[name] = wall
            per = wall / args.points
            print(f"{name:44} {wall:8.2f} {60 * args.points / wall:9.1f} {per:8.3f}")
        report = _timed([*AVMM, "sweep", "--report", str(folder / "out0")])
        serial = results["one at a time (--jobs 1)"]
        print(
            f"overhead per point, --jobs 1 vs bare avmm run: "
            f"{serial / args.points - bare_s:+.3f} s (of which the table, plots and "
            f"summary: {report / args.points:.3f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
