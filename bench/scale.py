"""How the runtime scales with vCPUs: host CPU time per guest instruction.

Runs the compute workload of ``bench.elf`` (guests/runtime) on 1, 2, 4, ...
64 vCPUs (every hart computes; no contention) under round-robin with the
default slice, and prints host CPU seconds per guest
instruction and MIPS. Then the scheduler's overhead per slice: the same
single-vCPU workload through ``vcpu.run()`` against a bare synchronous
``hart.run`` loop with the same slice size; the difference divided by the
number of slices (budgets run) is what the runtime adds per slice. A budget
that ends while nothing else wants the pCPU runs on in place (run-on), so a
single busy vCPU passes through the scheduler and the event loop only every
couple of milliseconds; the number of those trips is printed too.

Usage: python bench/scale.py [--instructions N] [--max-vcpus 64]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from avmm import _core
from avmm.constants import DEFAULT_SLICE
from avmm.runtime.host import Host, new_event_loop
from tests.runtime.guest import bare_metal_vm, guest_dir

STEP_INSTRUCTIONS = 9  # instructions per step of the compute loop (measured below)


async def run_compute(
    vcpus: int, steps: int, slice: int, pcpus: int
) -> tuple[float, float, int, int, int]:
    """(cpu seconds, wall seconds, instructions, slices, scheduler grants) of one run."""
    async with Host(pcpus=pcpus, slice=slice) as host:
        vm = bare_metal_vm(
            host.create_vm("scale"),
            guest_dir() / "bench.elf",
            vcpus=vcpus,
            patch={"mode": 0, "count": steps, "nharts": vcpus},
        )
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = await vm.run()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        assert result.code == 0, vm.console_output
        slices = sum(v.slices for v in vm.statistics().vcpus)
        return cpu, wall, vm.machine.instret, slices, host.scheduler.slices


def run_bare(steps: int, slice: int) -> tuple[float, int, int]:
    """(cpu seconds, instructions, slices) of the 1-vCPU workload on a bare hart.run loop."""
    host = Host(slice=slice)
    vm = bare_metal_vm(
        host.create_vm("bare"),
        guest_dir() / "bench.elf",
        vcpus=1,
        patch={"mode": 0, "count": steps, "nharts": 1},
    )
    hart, tlb = vm.vcpus[0].hart, host.tlbs[0]
    tohost = vm.htif[0]
    assert tohost is not None
    slices = 0
    cpu0 = time.process_time()
    while True:
        reason = hart.run(slice, tlb)
        slices += 1
        if reason == _core.EXIT_HTIF:
            if int.from_bytes(vm.machine.read_phys(tohost, 8), "little") & 1:
                break
            vm.machine.write_phys(tohost, bytes(8))
        elif reason != _core.EXIT_BUDGET:
            raise RuntimeError(f"unexpected exit {_core.EXIT_NAMES[reason]}")
    return time.process_time() - cpu0, vm.machine.instret, slices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--instructions", type=float, default=40e6, help="guest instructions per run"
    )
    parser.add_argument("--max-vcpus", type=int, default=64)
    parser.add_argument("--pcpus", type=int, default=4)
    parser.add_argument("--slice", type=int, default=DEFAULT_SLICE)
    args = parser.parse_args()
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    print(
        f"avmm scaling: ~{args.instructions / 1e6:.0f}M guest instructions per run, "
        f"{args.pcpus} pCPUs, slice {args.slice}, round-robin, host clock"
    )
    print(f"{'vCPUs':>6}{'instructions':>14}{'slices':>9}{'CPU s':>8}{'ns/instr':>10}{'MIPS':>8}")
    n = 1
    while n <= args.max_vcpus:
        steps = int(args.instructions / STEP_INSTRUCTIONS / n)
        cpu, wall, instret, slices, _ = loop.run_until_complete(
            run_compute(n, steps, args.slice, args.pcpus)
        )
        print(
            f"{n:>6}{instret:>14}{slices:>9}{cpu:>8.3f}{cpu / instret * 1e9:>10.2f}"
            f"{instret / wall / 1e6:>8.1f}"
        )
        n *= 2
    steps = int(args.instructions / STEP_INSTRUCTIONS)
    bare_cpu, bare_instret, bare_slices = min(run_bare(steps, args.slice) for _ in range(3))
    runs = [loop.run_until_complete(run_compute(1, steps, args.slice, 1)) for _ in range(3)]
    cpu, _, instret, slices, grants = min(runs)
    loop.close()
    print()
    print(f"scheduler overhead at slice {args.slice} (1 vCPU, best of 3):")
    print(
        f"  bare hart.run loop: {bare_cpu:.3f} s CPU for {bare_instret} instructions, "
        f"{bare_slices} slices ({bare_instret / bare_cpu / 1e6:.0f} MIPS)"
    )
    print(
        f"  vcpu.run():         {cpu:.3f} s CPU for {instret} instructions, "
        f"{slices} slices in {grants} trips through the scheduler "
        f"({instret / cpu / 1e6:.0f} MIPS)"
    )
    per_slice = (cpu / slices - bare_cpu / bare_slices) * 1e6
    print(
        f"  overhead: {per_slice:.1f} us per slice "
        f"({per_slice / (bare_cpu / bare_slices * 1e6) * 100:.0f}% of a slice's core time)"
    )


if __name__ == "__main__":
    main()
