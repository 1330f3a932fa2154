"""CPU benchmark: the same guest on QEMU TCG and on avmm's core.

    python -m bench.core [--small 2000] [--large 20000] [--repeat 3]

Builds ``guests/bench`` (cached), runs it with two iteration counts on
QEMU (``-M spike``, the CPU options of guests/lib/qemu.py) and on avmm's
core through :func:`avmm.board.elfrun.run_elf` (10,000-instruction slices), and
prints instructions, seconds and MIPS for each and the ratio avmm/QEMU.
Start-up costs (process start, ELF loading, printing) cancel out because
only the difference between the two runs counts; instructions are counted
with avmm's ``instret`` (the same ELF retires the same instructions on
QEMU). Each run is repeated and the fastest kept. Both must print the same
checksum. Time is measured twice: host CPU seconds (of this process for
avmm, of the QEMU child for QEMU), which other load on the machine barely
disturbs, and wall-clock seconds.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import attrs
from elftools.elf.elffile import ELFFile

from avmm.board.elfrun import run_elf
from guests.build import build
from guests.lib.qemu import run_qemu

SYMBOL = "bench_iterations"
SLICE = 10_000
_CHECKSUM = re.compile(rb"checksum ([0-9a-f]{16}) iterations (\d+)")


@attrs.frozen
class Run:
    """One run of the guest: instructions retired, host seconds, checksum."""

    iterations: int
    instructions: int
    cpu: float  # host CPU seconds
    wall: float  # host wall-clock seconds
    checksum: str


@attrs.frozen
class Measurement:
    """The difference between a large and a small run."""

    name: str
    instructions: int
    cpu: float
    wall: float

    @property
    def mips(self) -> float:
        """Million instructions per CPU second."""
        return self.instructions / self.cpu / 1e6

    @property
    def wall_mips(self) -> float:
        return self.instructions / self.wall / 1e6


def bench_elf() -> Path:
    return build("bench", quiet=True) / "bench.elf"


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


def _checksum(console: bytes, iterations: int, where: str) -> str:
    m = _CHECKSUM.search(console)
    if m is None or int(m.group(2)) != iterations:
        raise RuntimeError(f"{where}: unexpected output {console[-200:]!r}")
    return m.group(1).decode()


def run_avmm(elf: Path, iterations: int) -> Run:
    cpu = time.process_time()
    run = run_elf(elf, slice=SLICE, patch={SYMBOL: iterations}, max_instructions=2**62)
    cpu = time.process_time() - cpu
    if run.exit_code != 0:
        raise RuntimeError(f"avmm: exit code {run.exit_code}")
    checksum = _checksum(run.console, iterations, "avmm")
    return Run(iterations, run.instructions, cpu, run.elapsed, checksum)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_qemu_bench(elf: Path, iterations: int, workdir: Path, instructions: int) -> Run:
    copy = patched_copy(elf, SYMBOL, iterations, workdir / f"bench-{iterations}.elf")
    cpu = _children_cpu()
    run = run_qemu(copy, timeout=600)
    cpu = _children_cpu() - cpu
    if run.exit_code != 0:
        raise RuntimeError(f"QEMU: exit code {run.exit_code}: {run.console[-200:]!r}")
    checksum = _checksum(run.console, iterations, "QEMU")
    return Run(iterations, instructions, cpu, run.elapsed, checksum)


def _best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.cpu)


def measure(small: int, large: int, repeat: int) -> tuple[Measurement, Measurement]:
    """(avmm, QEMU) measurements of ``large - small`` iterations."""
    elf = bench_elf()
    a_small = _best([run_avmm(elf, small) for _ in range(repeat)])
    a_large = _best([run_avmm(elf, large) for _ in range(repeat)])
    with tempfile.TemporaryDirectory(prefix="avmm-bench-") as tmp:
        work = Path(tmp)
        q_small = _best(
            [run_qemu_bench(elf, small, work, a_small.instructions) for _ in range(repeat)]
        )
        q_large = _best(
            [run_qemu_bench(elf, large, work, a_large.instructions) for _ in range(repeat)]
        )
    for a, q in ((a_small, q_small), (a_large, q_large)):
        if a.checksum != q.checksum:
            raise RuntimeError(
                f"checksums differ at {a.iterations} iterations: "
                f"avmm {a.checksum}, QEMU {q.checksum}"
            )
    instructions = a_large.instructions - a_small.instructions
    return (
        Measurement("avmm", instructions, a_large.cpu - a_small.cpu, a_large.wall - a_small.wall),
        Measurement("QEMU", instructions, q_large.cpu - q_small.cpu, q_large.wall - q_small.wall),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.core", description=__doc__)
    parser.add_argument("--small", type=int, default=2_000, help="iterations of the short run")
    parser.add_argument("--large", type=int, default=20_000, help="iterations of the long run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per count (fastest kept)")
    args = parser.parse_args(argv)
    if not 0 < args.small < args.large:
        parser.error("need 0 < --small < --large")
    avmm, qemu = measure(args.small, args.large, args.repeat)
    print(f"{args.large - args.small} iterations (runs of {args.large} minus {args.small})")
    print(f"{'':6} {'instructions':>14} {'CPU s':>8} {'MIPS':>8} {'wall s':>8} {'MIPS':>8}")
    for m in (avmm, qemu):
        print(
            f"{m.name:6} {m.instructions:>14,} {m.cpu:>8.3f} {m.mips:>8.1f} "
            f"{m.wall:>8.3f} {m.wall_mips:>8.1f}"
        )
    print(
        f"avmm/QEMU speed ratio: {avmm.mips / qemu.mips:.3f} (CPU time), "
        f"{avmm.wall_mips / qemu.wall_mips:.3f} (wall clock)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
