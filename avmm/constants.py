"""Every constant more than one layer needs, in one place.

The virt board's fixed facts (memory map, sizes, timebase), the limits a
config file and the runtime both check, and the names of the modes a config
file chooses between (irqchip placement, scheduling policy, clock). Nothing
here imports anything from avmm, so the config model, the runtime, the board
and the device models can all read it.
"""

from __future__ import annotations

from typing import Literal

# ------------------------------------------------------------------ limits

MAX_VCPUS = 64  # hartids 0..63: one bit each in a hart mask
MAX_PCPUS = 64
MAX_SLICE = 100_000_000  # instructions per slice (config and the control API)
PAGE_SIZE = 4096  # the guest's base page (Sv39/Sv48), dirty-log and TLB-flush granule

# ------------------------------------------- bounds on what a guest or peer can fill
# Every queue or buffer a guest or a remote peer can grow has a bound; what does
# not fit is dropped (or merged) and counted on /metrics. The device models'
# own bounds live beside them (they import nothing from here).
MAX_PENDING_FENCES = 64  # remote fences queued on one vCPU before they merge into one
MAX_CONSOLE_INPUT = 64 << 10  # host input bytes waiting for the guest's SBI/HTIF getchar

# --------------------------------------------------- the virt board's memory map

RAM_BASE = 0x8000_0000
CLINT_BASE = 0x0200_0000
CLINT_SIZE = 0x1_0000
PLIC_BASE = 0x0C00_0000
PLIC_SIZE = 0x60_0000
PLIC_NDEV = 0x60  # PLIC sources 1..0x5f (0 is "no interrupt")
VIRTIO_SLOTS = 8
TIMEBASE_HZ = 10_000_000

# ----------------------------------------------------------------- modes

Irqchip = Literal["core", "python"]
IRQCHIPS: tuple[Irqchip, ...] = ("core", "python")
PolicyName = Literal["round-robin", "random", "deterministic"]
POLICIES: tuple[PolicyName, ...] = ("round-robin", "random", "deterministic")
ClockName = Literal["host", "virtual"]
CLOCKS: tuple[ClockName, ...] = ("host", "virtual")
DEFAULT_IPS = 100_000_000  # virtual clock: guest instructions per guest second
# Instructions per slice. A slice's fixed cost (the reschedule point: the event
# loop, the scheduler, the pCPU's flushes, the paravirtual records) is a few
# microseconds; translated code runs 30,000 instructions in tens of them, so the
# slice stays well under a millisecond while scheduling stays a small share of a
# contended run (README "Benchmarks": Linux boots against the slice size).
DEFAULT_SLICE = 30_000
