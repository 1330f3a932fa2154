"""CPU benchmark: translated avmm, interpreted avmm and QEMU TCG, in one run.

    python -m bench.core [--guest bench mark] [--repeat 3] [--scale 1.0] [--quick]

Two bare-metal guests, built through the guest cache:

- ``bench`` (guests/bench): an integer mix with data-dependent branches,
  loads and stores, mul/div, single and double precision FP (~3,500
  instructions an iteration);
- ``mark`` (guests/mark): a CoreMark-class workload written here (linked
  lists with merge sort, 16x16 integer matrices, a state machine over text,
  CRC-16/32; ~258,000 instructions an iteration), self-validating: it prints
  PASS or FAIL and exits 1 on a wrong result.

Each guest runs with several iteration counts (patched into an ELF symbol)
on avmm's core through :func:`avmm.board.elfrun.run_elf` with the translator on
(``avmm-jit``) and off (``avmm-interp``), at avmm's default slice, and on
QEMU (``-M spike``, the CPU options of guests/lib/qemu.py). A configuration's
figure is the difference between its largest and its smallest run, so
start-up (process start, ELF loading, printing) cancels out, and so does the
translation of code both runs execute: the JIT's own cost is reported
beside, from its counters (blocks, guest instructions and code bytes
translated, flushes, translation time per translated guest instruction,
share of instructions run translated). Every configuration runs the
``small`` and ``large`` counts; the two fast ones (translated avmm and QEMU)
also run ``larger``, so their difference takes a second or two of CPU time
too (a fraction of a second would be mostly noise) without making the
interpreter's run long. Instructions are avmm's ``instret`` (the same ELF
retires the same instructions on QEMU). Each run is repeated (the runs of
one repetition interleaved, so drift and other load hit every configuration
alike) and the fastest kept. Time is host CPU seconds (of this process and
any child it waits for, for avmm; of the QEMU child, for QEMU), which other
load on the machine barely disturbs; wall-clock seconds are printed beside.
The translator is forced on and off whatever ``AVMM_JIT`` says.

Every run of a count must print the same checksum, on all three; the guest
must exit with 0; translated and interpreted avmm must retire the same
number of instructions; otherwise the run fails (exit status 1). Ratios are
speed ratios (MIPS / MIPS): above 1.0 means faster than the peer.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs
from elftools.elf.elffile import ELFFile

from avmm import _core
from avmm.board.elfrun import ElfRun, run_elf
from avmm.constants import DEFAULT_SLICE
from guests.build import build
from guests.lib.qemu import run_qemu

SLICE = DEFAULT_SLICE  # what `avmm run` uses
_CHECKSUM = re.compile(rb"checksum ([0-9a-f]{16}) iterations (\d+)")


@attrs.frozen
class Guest:
    """A benchmark guest: its recipe, ELF, iteration symbol and default counts."""

    name: str
    elf: str  # file name in the recipe's output directory
    symbol: str  # 8-byte iteration count the host patches
    counts: tuple[int, int, int]  # iterations: small, large, larger (fast configurations)
    quick: tuple[int, int, int]  # the same for --quick
    verdict: bool  # the guest prints PASS / FAIL itself

    def path(self) -> Path:
        return build(self.name, quiet=True) / self.elf


BENCH = Guest(
    "bench", "bench.elf", "bench_iterations", (10_000, 70_000, 300_000), (200, 1_000, 2_000), False
)
MARK = Guest("mark", "mark.elf", "mark_iterations", (100, 1_000, 5_000), (4, 20, 40), True)
GUESTS = {g.name: g for g in (BENCH, MARK)}
SYMBOL = BENCH.symbol  # kept for callers of the one-guest version


@attrs.frozen
class Run:
    """One run of a guest: instructions retired, host seconds, checksum."""

    iterations: int
    instructions: int
    cpu: float  # host CPU seconds
    wall: float  # host wall-clock seconds
    checksum: str
    jit_stats: Mapping[str, object] = attrs.field(factory=dict)
    jit_insns: int | None = None  # instructions run translated (None: not counted)


@attrs.frozen
class Measurement:
    """The difference between a configuration's largest and smallest run."""

    name: str
    iterations: int
    instructions: int
    cpu: float
    wall: float

    @property
    def mips(self) -> float:
        """Million instructions per CPU second."""
        return self.instructions / self.cpu / 1e6 if self.cpu > 0 else float("nan")

    @property
    def wall_mips(self) -> float:
        return self.instructions / self.wall / 1e6 if self.wall > 0 else float("nan")


def bench_elf() -> Path:
    return BENCH.path()


def patched_copy(elf: Path, symbol: str, value: int, dest: Path) -> Path:
    """Copy ``elf`` to ``dest`` with the 8-byte variable ``symbol`` set to ``value``
    (QEMU loads the file as it is, so the patch goes into the file)."""
    with elf.open("rb") as fd:
        image = ELFFile(fd)
        symtab = image.get_section_by_name(".symtab")
        if symtab is None:
            raise ValueError(f"{elf}: no symbol table")
        found = symtab.get_symbol_by_name(symbol)  # type: ignore[attr-defined]
        if not found or found[0]["st_size"] != 8:
            raise ValueError(f"{elf}: no 8-byte symbol {symbol!r}")
        addr = int(found[0]["st_value"])
        offset = None
        for seg in image.iter_segments():
            start, filesz = int(seg["p_vaddr"]), int(seg["p_filesz"])
            if seg["p_type"] == "PT_LOAD" and start <= addr and addr + 8 <= start + filesz:
                offset = int(seg["p_offset"]) + addr - start
        if offset is None:
            raise ValueError(f"{elf}: {symbol!r} is not in a loaded file segment")
    shutil.copyfile(elf, dest)
    with dest.open("r+b") as fd:
        fd.seek(offset)
        fd.write(value.to_bytes(8, "little"))
    return dest


def _checksum(console: bytes, iterations: int, where: str, guest: Guest) -> str:
    m = _CHECKSUM.search(console)
    if m is None or int(m.group(2)) != iterations:
        raise RuntimeError(f"{where}: unexpected output {console[-200:]!r}")
    if guest.verdict and b"\nPASS" not in console:
        raise RuntimeError(f"{where}: the guest did not pass: {console[-300:]!r}")
    return m.group(1).decode()


def _cpu() -> float:
    """CPU seconds of this process and of the children it waited for."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_avmm(elf: Path, iterations: int, *, guest: Guest = BENCH, jit: bool | None = None) -> Run:
    """Run ``guest`` on avmm's core (``jit`` as for :func:`run_elf`)."""
    cpu = _cpu()
    run = run_elf(
        elf, slice=SLICE, patch={guest.symbol: iterations}, max_instructions=2**62, jit=jit
    )
    cpu = _cpu() - cpu
    where = f"avmm ({'jit' if run.jit else 'interpreter'})"
    if run.exit_code != 0:
        raise RuntimeError(f"{where}: exit code {run.exit_code}: {run.console[-300:]!r}")
    checksum = _checksum(run.console, iterations, where, guest)
    return Run(
        iterations,
        run.instructions,
        cpu,
        run.elapsed,
        checksum,
        jit_stats=dict(run.jit_stats),
        jit_insns=_jit_insns(run),
    )


def _jit_insns(run: ElfRun) -> int | None:
    counts = [s.get("jit_insns") for s in run.hart_stats]
    if not counts or not all(isinstance(c, int) for c in counts):
        return None
    return sum(c for c in counts if isinstance(c, int))


def run_qemu_bench(
    elf: Path, iterations: int, workdir: Path, instructions: int, *, guest: Guest = BENCH
) -> Run:
    """Run ``guest`` on QEMU (a patched copy of the ELF in ``workdir``)."""
    copy = patched_copy(elf, guest.symbol, iterations, workdir / f"{guest.name}-{iterations}.elf")
    cpu = _children_cpu()
    run = run_qemu(copy, timeout=600)
    cpu = _children_cpu() - cpu
    if run.exit_code != 0:
        raise RuntimeError(f"QEMU: exit code {run.exit_code}: {run.console[-300:]!r}")
    checksum = _checksum(run.console, iterations, "QEMU", guest)
    return Run(iterations, instructions, cpu, run.elapsed, checksum)


def jit_unavailable() -> str | None:
    """Why avmm's core cannot translate on this host (None: it can)."""
    return _core.Machine().jit_unavailable


@attrs.frozen
class Result:
    """One guest measured on every configuration."""

    guest: Guest
    counts: dict[str, tuple[int, ...]]  # iterations each configuration ran
    measurements: dict[str, Measurement]  # by configuration
    largest: dict[str, Run]  # each configuration's fastest run of its largest count
    checksums: dict[int, str]  # by iteration count
    problems: tuple[str, ...]  # what makes the run fail


def measure_guest(guest: Guest, counts: tuple[int, int, int], repeat: int, jit: bool) -> Result:
    """Every configuration of ``guest``: the interpreter at the small and large
    counts, translated avmm and QEMU at all three (QEMU at two without a JIT:
    its instruction count comes from an avmm run of the same count)."""
    elf = guest.path()
    small, large, _ = counts
    plan: dict[str, tuple[int, ...]] = {}
    runner: dict[str, Callable[[int, Path], Run]] = {}
    if jit:
        plan["avmm-jit"] = counts
        runner["avmm-jit"] = lambda n, _: run_avmm(elf, n, guest=guest, jit=True)
    plan["avmm-interp"] = (small, large)
    runner["avmm-interp"] = lambda n, _: run_avmm(elf, n, guest=guest, jit=False)
    instructions: dict[int, int] = {}

    def on_qemu(n: int, work: Path) -> Run:
        return run_qemu_bench(elf, n, work, instructions[n], guest=guest)

    plan["QEMU"] = counts if jit else (small, large)
    runner["QEMU"] = on_qemu
    runs: dict[tuple[str, int], list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="avmm-bench-") as tmp:
        for _ in range(repeat):
            for name, ns in plan.items():
                for n in ns:
                    run = runner[name](n, Path(tmp))
                    instructions.setdefault(n, run.instructions)
                    runs.setdefault((name, n), []).append(run)
    problems: list[str] = []
    for n in sorted(instructions):
        # Every run of the count, not only the fastest, must agree.
        sums = {
            name: sorted({r.checksum for r in runs[name, n]}) for name in plan if n in plan[name]
        }
        if len({c for cs in sums.values() for c in cs}) != 1:
            found = ", ".join(f"{k} {'/'.join(v)}" for k, v in sums.items())
            problems.append(f"{guest.name}: checksums differ at {n} iterations: {found}")
        retired = {
            name: sorted({r.instructions for r in runs[name, n]})
            for name in plan
            if n in plan[name] and name != "QEMU"
        }
        if len({c for cs in retired.values() for c in cs}) != 1:
            found = ", ".join(f"{k} {'/'.join(f'{c:,}' for c in v)}" for k, v in retired.items())
            problems.append(f"{guest.name}: instruction counts differ at {n} iterations: {found}")
    best = {key: min(rs, key=lambda r: r.cpu) for key, rs in runs.items()}
    measurements = {}
    for name, ns in plan.items():
        lo, hi = best[name, min(ns)], best[name, max(ns)]
        measurements[name] = Measurement(
            name,
            hi.iterations - lo.iterations,
            instructions[hi.iterations] - instructions[lo.iterations],
            hi.cpu - lo.cpu,
            hi.wall - lo.wall,
        )
    return Result(
        guest,
        plan,
        measurements,
        {name: best[name, max(ns)] for name, ns in plan.items()},
        {n: best["QEMU", n].checksum for n in sorted(instructions)},
        tuple(problems),
    )


def _ratio(a: Measurement | None, b: Measurement | None) -> str:
    if a is None or b is None or not a.mips > 0 or not b.mips > 0:
        return "-"
    return f"{a.mips / b.mips:.3f}"


def report(result: Result) -> None:
    m = result.measurements
    per = next(iter(m.values()))
    print(
        f"== {result.guest.name}: about {per.instructions // per.iterations:,} instructions "
        "an iteration; each row is its largest run minus its smallest"
    )
    print(
        f"{'':12} {'iterations':>17} {'instructions':>14} {'CPU s':>7} {'MIPS':>8} "
        f"{'iter/s':>9} {'wall s':>7} {'MIPS':>8} {'vs QEMU':>7}"
    )
    for name, meas in m.items():
        ns = result.counts[name]
        rate = meas.iterations / meas.cpu if meas.cpu > 0 else float("nan")
        span = f"{max(ns):,}-{min(ns):,}"
        print(
            f"{name:12} {span:>17} {meas.instructions:>14,} {meas.cpu:>7.3f} {meas.mips:>8.1f} "
            f"{rate:>9.1f} {meas.wall:>7.3f} {meas.wall_mips:>8.1f} {_ratio(meas, m['QEMU']):>7}"
        )
    run = result.largest.get("avmm-jit")
    if run is not None:
        print(f"jit/interp speed ratio: {_ratio(m['avmm-jit'], m['avmm-interp'])}")
        print(f"JIT, run of {run.iterations:,}: " + _jit_line(run))
    verdict = "PASS on all, " if result.guest.verdict else ""
    if not result.problems:
        sums = ", ".join(f"{n:,}: {c}" for n, c in result.checksums.items())
        print(f"checksums match ({verdict}{' = '.join(m)}) at {sums}")
    for problem in result.problems:
        print(f"ERROR: {problem}")
    print()


def _count(stats: Mapping[str, object], key: str) -> int | None:
    value = stats.get(key)
    if isinstance(value, Mapping):  # e.g. flushes by cause
        return sum(v for v in value.values() if isinstance(v, int))
    return value if isinstance(value, int) else None


def _jit_line(run: Run) -> str:
    """The translator's counters after a run, and its cost per translated instruction."""
    stats = run.jit_stats
    blocks, insns = _count(stats, "blocks"), _count(stats, "insns")
    code, ns = _count(stats, "code_bytes"), _count(stats, "translate_ns")
    parts = [
        f"{blocks:,} blocks" if blocks is not None else "blocks ?",
        f"{insns:,} guest instructions" if insns is not None else "instructions ?",
        f"{code:,} code bytes" if code is not None else "code bytes ?",
    ]
    flushes = stats.get("flushes")
    if isinstance(flushes, Mapping):
        causes = ", ".join(f"{k} {v}" for k, v in flushes.items() if v)
        parts.append(f"{_count(stats, 'flushes')} flushes" + (f" ({causes})" if causes else ""))
    if ns is not None:
        parts.append(f"translation {ns / 1e6:.2f} ms")
        if insns:
            parts.append(f"{ns / insns:,.0f} ns per translated instruction")
    if run.jit_insns is not None and run.instructions:
        parts.append(
            f"{100 * run.jit_insns / run.instructions:.2f}% of instructions ran translated"
        )
    lookups, links = _count(stats, "lookups"), _count(stats, "chain_links")
    if lookups is not None and links is not None:
        parts.append(f"{lookups:,} block lookups, {links:,} chain links")
    return ", ".join(parts)


def summary(results: list[Result]) -> None:
    print("speed ratios (CPU time; above 1.0 = the first is faster)")
    print(f"{'guest':8} {'avmm-jit/QEMU':>14} {'avmm-interp/QEMU':>17} {'jit/interp':>11}")
    for r in results:
        m = r.measurements
        jit = m.get("avmm-jit")
        print(
            f"{r.guest.name:8} {_ratio(jit, m['QEMU']):>14} "
            f"{_ratio(m['avmm-interp'], m['QEMU']):>17} {_ratio(jit, m['avmm-interp']):>11}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.core",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--guest", nargs="+", choices=list(GUESTS), default=list(GUESTS), help="guests to run"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per count (fastest kept)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every iteration count by this"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a few iterations, one run each (a smoke test)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.scale <= 0:
        parser.error("need --repeat >= 1 and --scale > 0")
    repeat = 1 if args.quick else args.repeat
    why_not = jit_unavailable()
    print(
        f"CPU benchmark: avmm-jit (translated), avmm-interp (interpreter), QEMU TCG; "
        f"{SLICE:,}-instruction slices; fastest of {repeat}"
    )
    if why_not is not None:
        print(f"no avmm-jit rows: the translator is unavailable ({why_not})")
    print()
    results = []
    for name in args.guest:
        guest = GUESTS[name]
        small, large, larger = (
            max(1, round(n * args.scale)) for n in (guest.quick if args.quick else guest.counts)
        )
        if not small < large < larger:
            parser.error(f"{name}: --scale leaves no difference between the runs")
        result = measure_guest(guest, (small, large, larger), repeat, jit=why_not is None)
        report(result)
        results.append(result)
    summary(results)
    problems = [p for r in results for p in r.problems]
    if problems:
        print(f"FAILED: {len(problems)} problem(s) above")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
