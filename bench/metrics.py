"""What the metrics cost: the CPU benchmark with the exporter on vs off, in one run.

    python bench/metrics.py [--iterations N] [--repeat R] [--scrape-interval S]

Runs the CPU benchmark guest (``guests/bench``, the workload of
bench/core.py) on the runtime (Host, one vCPU, the default slice)
``R`` times in each of two modes, alternating so that drift and load from
other jobs hit both alike:

- off: no exporter (the runtime's plain-int counters are always kept);
- on: the exporter listening, and scraped every ``S`` seconds (default 1 s,
  fifteen times Prometheus' default rate) by a separate process, as
  Prometheus would: its own CPU time is not this process's.

Reports the fastest run of each mode in host CPU seconds of this process
(the exporter's threads and the snapshots included) and in wall-clock
seconds, the guest's MIPS, and the overhead of "on" relative to "off".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from avmm.constants import DEFAULT_SLICE
from avmm.obs.exporter import start_exporter
from avmm.runtime.host import Host, new_event_loop
from guests.build import build
from tests.runtime.guest import bare_metal_vm

SLICE = DEFAULT_SLICE
SCRAPER = """
import sys, time, urllib.request
url, interval = sys.argv[1], float(sys.argv[2])
n = 0
while True:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            r.read()
        n += 1
    except OSError:
        break
    print(n, flush=True)
    time.sleep(interval)
"""


@attrs.frozen
class Run:
    mode: str
    instructions: int
    cpu: float
    wall: float
    scrapes: int
    snapshot: float  # host seconds of the last snapshot (on the event loop)


async def run_guest(elf: Path, iterations: int, mode: str, interval: float) -> Run:
    async with Host(slice=SLICE) as host:
        vm = bare_metal_vm(
            host.create_vm("bench"), elf, vcpus=1, patch={"bench_iterations": iterations}
        )
        exporter = scraper = None
        if mode == "on":
            exporter = start_exporter(host, port=0)
            scraper = subprocess.Popen(
                [sys.executable, "-c", SCRAPER, exporter.url, str(interval)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert scraper.stdout is not None
            # Started and scraped once, so its start-up is not timed (off the loop
            # thread: the loop must be free to take the snapshot).
            await asyncio.to_thread(scraper.stdout.readline)
        try:
            cpu, wall = time.process_time(), time.perf_counter()
            result = await vm.run()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            scrapes, snapshot = 0, 0.0
            if exporter is not None and scraper is not None:
                scrapes = exporter.collector.scrapes
                last = exporter.collector.last
                snapshot = 0.0 if last is None else last.seconds
                exporter.close()  # the scraper's next request fails: it exits
                scraper.communicate(timeout=30)
        if result.code != 0 or b"checksum" not in vm.console_output:
            raise RuntimeError(f"bench guest failed: {vm.console_output[-300:]!r}")
        return Run(mode, vm.machine.instret, cpu, wall, scrapes, snapshot)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/metrics.py", description=__doc__)
    parser.add_argument(
        "--iterations", type=int, default=300_000, help="bench_iterations (~5 s per run)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per mode (fastest kept)")
    parser.add_argument(
        "--scrape-interval", type=float, default=1.0, help="seconds between scrapes (on)"
    )
    args = parser.parse_args(argv)
    elf = build("bench", quiet=True) / "bench.elf"
    runs: dict[str, list[Run]] = {"off": [], "on": []}
    loop = new_event_loop()
    try:
        for i in range(args.repeat):
            for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
                run = loop.run_until_complete(
                    run_guest(elf, args.iterations, mode, args.scrape_interval)
                )
                runs[mode].append(run)
                print(
                    f"  {mode:3} cpu {run.cpu:7.3f} s  wall {run.wall:7.3f} s  "
                    f"scrapes {run.scrapes}",
                    file=sys.stderr,
                )
    finally:
        loop.close()
    instructions = {r.instructions for rs in runs.values() for r in rs}
    if len(instructions) != 1:
        raise RuntimeError(f"runs retired different instruction counts: {instructions}")
    n = instructions.pop()
    print(
        f"{n:,} instructions per run, {args.repeat} runs per mode, "
        f"scraped every {args.scrape_interval:g} s when on"
    )
    print(f"{'':4} {'CPU s':>8} {'MIPS':>8} {'wall s':>8} {'MIPS':>8}   (fastest; median)")
    best, median = {}, {}
    for mode, rs in runs.items():
        best[mode] = (min(r.cpu for r in rs), min(r.wall for r in rs))
        median[mode] = (statistics.median(r.cpu for r in rs), statistics.median(r.wall for r in rs))
        for label, (cpu, wall) in (("", best[mode]), ("med", median[mode])):
            print(
                f"{mode:3} {label:3} {cpu:8.3f} {n / cpu / 1e6:8.1f} {wall:8.3f} "
                f"{n / wall / 1e6:8.1f}"
            )
    for label, figures in (("fastest runs", best), ("medians", median)):
        on, off = figures["on"], figures["off"]
        print(
            f"exporter overhead, {label}: {100 * (on[0] / off[0] - 1):+.2f}% CPU time, "
            f"{100 * (on[1] / off[1] - 1):+.2f}% wall clock"
        )
    scrapes = sum(r.scrapes for r in runs["on"])
    snaps = sorted(r.snapshot for r in runs["on"] if r.scrapes)
    if snaps:
        print(
            f"{scrapes} scrapes in the 'on' runs; the last snapshot of a run held the event "
            f"loop {statistics.median(snaps) * 1e3:.3f} ms (median of runs)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
