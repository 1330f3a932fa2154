"""How much an exit costs: MMIO to a Python device model vs the fast path.

Runs the ``bench.elf`` guest of guests/runtime on one vCPU with a loop of N
operations and measures the host CPU time of the whole run twice (N and 0
operations); the difference over N is the cost of one operation, start-up
excluded (CPU time, so other jobs on the machine do not skew it):

- RAM load (no exit; the baseline),
- MMIO load / store to a Python device model on the bus (exit, bus lookup,
  the model's ``read``/``write``, completion, next slice),
- in-core CLINT ``mtime`` load (the fast path: no exit at all),
- SBI call (an exit the runtime completes in place, no bus),
- the same MMIO load driven by a bare synchronous ``hart.run`` loop, to
  separate the core's exit cost from the runtime's.

Usage: python bench/exits.py [--count N] [--repeat R]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from avmm import _core
from avmm.runtime.host import Host, new_event_loop
from tests.runtime.guest import bare_metal_vm, guest_dir

DEVICE = 0x1000_8000
MODES = {"ram": 1, "mmio_read": 2, "mmio_write": 3, "clint": 4, "sbi": 5}


class NullDevice:
    """The cheapest possible device model: reads 0, ignores writes."""

    name = "null"
    size = 0x1000

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        pass

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass


async def run_guest(mode: int, count: int) -> tuple[float, int, int]:
    """(seconds, instructions, slices) of one run of the guest."""
    async with Host() as host:
        vm = bare_metal_vm(
            host.create_vm("bench"),
            guest_dir() / "bench.elf",
            vcpus=1,
            patch={"mode": mode, "count": count},
        )
        vm.add_device(DEVICE, NullDevice())
        vm.machine.sbi_in_vmm = mode == MODES["sbi"]
        t0 = time.process_time()
        result = await vm.run()
        seconds = time.process_time() - t0
        assert result.code == 0, vm.console_output
        return seconds, vm.machine.instret, host.scheduler.slices


def run_sync(count: int) -> float:
    """The MMIO-load loop on a bare hart.run() loop: no asyncio, no bus."""
    machine = _core.Machine()
    host = Host()  # only to reuse the guest loader
    vm = host.create_vm("sync")
    bare_metal_vm(
        vm, guest_dir() / "bench.elf", vcpus=1, patch={"mode": MODES["mmio_read"], "count": count}
    )
    del machine
    hart, tlb = vm.vcpus[0].hart, host.tlbs[0]
    t0 = time.process_time()
    while True:
        reason = hart.run(10_000, tlb)
        if reason == _core.EXIT_MMIO_READ:
            hart.complete_mmio_read(0)
        elif reason == _core.EXIT_HTIF:
            value = int.from_bytes(vm.machine.read_phys(vm.htif[0] or 0, 8), "little")
            if value & 1:
                break
            vm.machine.write_phys(vm.htif[0] or 0, bytes(8))
        elif reason not in (_core.EXIT_BUDGET, _core.EXIT_MMIO_WRITE):
            raise RuntimeError(f"unexpected exit {_core.EXIT_NAMES[reason]}")
    return time.process_time() - t0


def best(times: list[float]) -> float:
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50_000, help="operations per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best is kept)")
    args = parser.parse_args()
    n = args.count
    loop = new_event_loop()
    print(
        f"avmm exit costs: {n} operations per run, best of {args.repeat}, "
        f"event loop {type(loop).__module__}"
    )
    rows = []
    for name, mode in MODES.items():
        full = best([loop.run_until_complete(run_guest(mode, n))[0] for _ in range(args.repeat)])
        empty = best([loop.run_until_complete(run_guest(mode, 0))[0] for _ in range(args.repeat)])
        _, instret, slices = loop.run_until_complete(run_guest(mode, n))
        rows.append((name, (full - empty) / n * 1e6, instret / n, slices))
    sync_full = best([run_sync(n) for _ in range(args.repeat)])
    sync_empty = best([run_sync(0) for _ in range(args.repeat)])
    loop.close()
    base = rows[0][1]
    print(f"{'operation':<34}{'CPU us/op':>10}{'over RAM':>11}{'slices':>9}")
    labels = {
        "ram": "RAM load (baseline)",
        "mmio_read": "MMIO load -> Python device",
        "mmio_write": "MMIO store -> Python device",
        "clint": "in-core CLINT mtime load",
        "sbi": "SBI call (served in place)",
    }
    for name, us, _, slices in rows:
        print(f"{labels[name]:<34}{us:>10.3f}{us - base:>11.3f}{slices:>9}")
    sync_us = (sync_full - sync_empty) / n * 1e6
    print(f"{'MMIO load, bare hart.run loop':<34}{sync_us:>10.3f}{sync_us - base:>11.3f}{'-':>9}")


if __name__ == "__main__":
    main()
