"""SiFive test device ("sifive,test1" + syscon): poweroff, reboot and exit codes.

One register at offset 0, written 16 or 32 bits wide. The low 16 bits choose
the action: 0x5555 powers off with exit code 0, 0x7777 reboots, 0x3333 powers
off with the exit code in the upper 16 bits (what bare-metal tests and QEMU's
``virt`` use).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from .base import GuestErrors, Metric, PowerControl

FINISHER_FAIL = 0x3333
FINISHER_PASS = 0x5555
FINISHER_RESET = 0x7777


@attrs.define
class SifiveTestStats:
    """Plain counters; ``METRICS`` says which families they feed."""

    METRICS: ClassVar[dict[str, tuple[Metric, ...]]] = {}
    poweroffs: int = 0
    reboots: int = 0
    guest_errors: int = 0


class SifiveTest:
    """The finisher register; everything else reads 0."""

    size = 0x1000

    def __init__(self, power: PowerControl, *, name: str = "test") -> None:
        self.name = name
        self.stats = SifiveTestStats()
        self._power = power
        self._guest_error = GuestErrors(name, self.stats)

    def read(self, offset: int, size: int) -> int:
        # The register is write-only; reads return 0 (what QEMU's model does).
        if offset != 0:
            self._guest_error("offset", f"read at unknown offset {offset:#x}")
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset != 0:
            self._guest_error("offset", f"write of {value:#x} at unknown offset {offset:#x}")
            return
        if size not in (2, 4):
            # OpenSBI writes 16 bits, Linux's syscon 32 (QEMU's model takes both).
            self._guest_error("width", f"{size}-byte write of {value:#x} (16 or 32-bit only)")
            return
        command = value & 0xFFFF
        if command == FINISHER_PASS:
            self.stats.poweroffs += 1
            self._power.poweroff(0)
        elif command == FINISHER_FAIL:
            self.stats.poweroffs += 1
            self._power.poweroff((value >> 16) & 0xFFFF)
        elif command == FINISHER_RESET:
            self.stats.reboots += 1
            self._power.reboot()
        else:
            self._guest_error("command", f"unknown command {value:#x}")

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass
