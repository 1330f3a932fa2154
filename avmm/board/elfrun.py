"""The smallest VMM: run a bare-metal ELF on the core, synchronously.

Test and benchmark infrastructure (the ISA suite, differential tests, the
CPU benchmark), not the product runtime: no asyncio, no devices besides the
in-core CLINT and HTIF. Every hart starts at the ELF entry in M-mode with
a0 = hartid; the harts take turns on one modelled TLB, ``slice``
instructions at a time, until a hart asks HTIF to exit (device 0, command 0,
odd payload: the exit code is ``payload >> 1``).

    run = run_elf("guests/out/isa/i_alu.elf")
    assert run.exit_code == 0, run.console.decode()
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import attrs

from avmm import _core
from avmm.board.loader import load_elf, patch_symbols
from avmm.constants import CLINT_BASE, DEFAULT_SLICE, RAM_BASE
from avmm.errors import AvmmError, BootError
from avmm.runtime.guestmem import GuestMemory, Region

DEFAULT_MEMORY = 128 * 1024 * 1024
DEFAULT_MAX_INSTRUCTIONS = 5_000_000_000
_HTIF_CONSOLE = 1  # device 1 (blocking character device), command 1 = putchar


class ElfRunError(AvmmError):
    """The run could not go on; ``hart`` and ``pc`` say where (None if unknown)."""

    def __init__(self, message: str, *, hart: int | None = None, pc: int | None = None) -> None:
        self.hart = hart
        self.pc = pc
        where = f" (hart {hart}, pc {pc:#x})" if hart is not None and pc is not None else ""
        super().__init__(message + where)


class UnexpectedMmioError(ElfRunError):
    """The guest accessed an address that is neither RAM nor the CLINT."""

    def __init__(self, *, write: bool, addr: int, size: int, hart: int, pc: int) -> None:
        self.write = write
        self.addr = addr
        self.size = size
        kind = "store to" if write else "load from"
        super().__init__(f"unexpected MMIO {kind} {addr:#x} ({size} bytes)", hart=hart, pc=pc)


class InstructionLimitError(ElfRunError):
    """The harts retired ``limit`` instructions without the guest exiting."""

    def __init__(self, limit: int, console: bytes) -> None:
        self.limit = limit
        self.console = console
        super().__init__(f"no exit after {limit} instructions; console so far: {console[-400:]!r}")


class HartInternalError(ElfRunError):
    """The core stopped a hart with EXIT_INTERNAL_ERROR or an exit elfrun cannot serve."""


class AllHartsWaitingError(ElfRunError):
    """Every hart is in WFI and no timer can wake any of them."""

    def __init__(self, console: bytes) -> None:
        self.console = console
        super().__init__(f"all harts wait with no timer armed; console so far: {console[-400:]!r}")


@attrs.frozen
class ElfRun:
    """What a finished run produced."""

    exit_code: int  # device 0 / command 0 payload >> 1: 0 = pass
    console: bytes  # HTIF console output
    instret: tuple[int, ...]  # instructions retired, per hart
    elapsed: float  # host seconds spent running the harts (not loading)
    # Hart.stats() of each hart at the end (jit_insns / interp_insns among them).
    hart_stats: tuple[dict[str, object], ...] = ()
    # Machine.jit_stats() at the end (blocks, insns, code_bytes, translate_ns, flushes, ...).
    jit_stats: Mapping[str, object] = attrs.field(factory=dict)
    jit: bool = False  # whether the machine ran with its translator on

    @property
    def instructions(self) -> int:
        return sum(self.instret)


class _Runner:
    """One run: the machine, its harts and the HTIF console."""

    def __init__(
        self,
        path: Path,
        *,
        harts: int,
        memory: int,
        clock: Literal["virtual", "host"],
        patch: dict[str, int],
        jit: bool | None,
    ) -> None:
        self.machine = _core.Machine(jit=jit)
        # Bare metal: every trap reaches the guest's own M-mode; the hart has
        # no Sstc, like the QEMU CPU the tests compare with.
        self.machine.sbi_in_vmm = False
        self.machine.pause_exit = False
        self.machine.ipi_exit = False
        self.machine.sstc = False
        slot = self.machine.add_ram(RAM_BASE, memory)
        ram = GuestMemory([Region(RAM_BASE, memoryview(slot))])
        image = load_elf(ram, path)
        patch_symbols(ram, image, patch)
        if image.tohost is None:
            raise BootError(f"{path}: no tohost symbol (HTIF) to end the run")
        self.tohost, self.fromhost = image.tohost, image.fromhost
        self.machine.set_htif(self.tohost, self.fromhost)
        self.machine.set_clock(_core.CLOCK_VIRTUAL if clock == "virtual" else _core.CLOCK_HOST)
        self.host_clock = clock == "host"
        self.machine.enable_clint(CLINT_BASE)
        self.tlb = _core.Tlb()
        self.machine.broadcast_tlbs = (self.tlb,)
        self.harts = [self.machine.create_hart() for _ in range(harts)]
        for hart in self.harts:
            hart.reset(image.entry, _core.PRIV_M)
            hart.set_x(10, hart.hartid)
        self.console = bytearray()
        self.exit_code: int | None = None

    # ------------------------------------------------------------ exits
    def _htif(self, hart: _core.Hart) -> None:
        value = hart.htif_value
        device, command, payload = value >> 56, (value >> 48) & 0xFF, value & (2**48 - 1)
        if device == 0 and command == 0 and payload & 1:
            self.exit_code = payload >> 1
            return
        if device != _HTIF_CONSOLE or command != 1:
            raise HartInternalError(
                f"unsupported HTIF request {value:#x} (device {device}, command {command})",
                hart=hart.hartid,
                pc=hart.pc,
            )
        char = payload & 0xFF
        self.console.append(char)
        self.machine.write_phys(self.tohost, bytes(8))
        if self.fromhost is not None:
            # The acknowledgement QEMU's HTIF gives for a putchar.
            response = (device << 56) | (command << 48) | 0x100 | char
            self.machine.write_phys(self.fromhost, response.to_bytes(8, "little"))

    def _handle(self, hart: _core.Hart, reason: int) -> bool:
        """Complete one exit; return True when the hart goes to sleep (WFI)."""
        if reason in (_core.EXIT_BUDGET, _core.EXIT_PAUSE, _core.EXIT_IPI):
            return False
        if reason == _core.EXIT_HTIF:
            self._htif(hart)
            return False
        if reason == _core.EXIT_WFI:
            return not hart.wakeup_pending()
        if reason in (_core.EXIT_MMIO_READ, _core.EXIT_MMIO_WRITE):
            raise UnexpectedMmioError(
                write=reason == _core.EXIT_MMIO_WRITE,
                addr=hart.mmio_addr,
                size=hart.mmio_size,
                hart=hart.hartid,
                pc=hart.pc,
            )
        if reason == _core.EXIT_INTERNAL_ERROR:
            raise HartInternalError(
                f"core internal error: {hart.error}", hart=hart.hartid, pc=hart.pc
            )
        name = _core.EXIT_NAMES[reason] if 0 <= reason < len(_core.EXIT_NAMES) else str(reason)
        raise HartInternalError(f"unexpected exit {name!r}", hart=hart.hartid, pc=hart.pc)

    def _wait_for_timer(self, asleep: list[bool]) -> None:
        """Every hart sleeps: move guest time to the earliest deadline that can
        still wake one (a comparator already passed did not wake it)."""
        now = self.machine.time
        deadlines = [
            d
            for h, s in zip(self.harts, asleep, strict=True)
            if s
            for d in (h.next_deadline(),)
            if d is not None and d > now
        ]
        if not deadlines:
            raise AllHartsWaitingError(bytes(self.console))
        ticks = min(deadlines) - now
        if self.host_clock:
            time.sleep(ticks / self.machine.timebase_hz)
        else:
            self.machine.warp(ticks)

    def run(self, slice_: int, limit: int) -> None:
        if len(self.harts) == 1:
            self._run_one(slice_, limit)
            return
        asleep = [False] * len(self.harts)
        while True:
            for i, hart in enumerate(self.harts):
                if asleep[i]:
                    continue
                asleep[i] = self._handle(hart, hart.run(slice_, self.tlb))
                if self.exit_code is not None:
                    return
            if self.machine.instret >= limit:
                raise InstructionLimitError(limit, bytes(self.console))
            self.machine.take_kicks()  # wakeup_pending() below sees every change
            for i, hart in enumerate(self.harts):
                if asleep[i] and hart.wakeup_pending():
                    asleep[i] = False
            if all(asleep):
                self._wait_for_timer(asleep)
                for i, hart in enumerate(self.harts):
                    if hart.wakeup_pending():
                        asleep[i] = False

    def _run_one(self, slice_: int, limit: int) -> None:
        """:meth:`run` for a lone hart with the least Python per slice (bench.core
        measures at the default slices, so this loop is part of what it
        times). The steps are :meth:`run`'s in the same order; kicks only say
        which other harts to look at, so a lone hart never needs them."""
        hart, tlb, machine = self.harts[0], self.tlb, self.machine
        budget = _core.EXIT_BUDGET
        while True:
            reason = hart.run(slice_, tlb)
            asleep = reason != budget and self._handle(hart, reason)
            if self.exit_code is not None:
                return
            if machine.instret >= limit:
                raise InstructionLimitError(limit, bytes(self.console))
            while asleep and not hart.wakeup_pending():
                self._wait_for_timer([True])
                asleep = not hart.wakeup_pending()


def run_elf(
    path: str | os.PathLike[str],
    *,
    harts: int = 1,
    memory: int = DEFAULT_MEMORY,
    slice: int = DEFAULT_SLICE,
    clock: Literal["virtual", "host"] = "virtual",
    max_instructions: int = DEFAULT_MAX_INSTRUCTIONS,
    patch: dict[str, int] | None = None,
    jit: bool | None = None,
) -> ElfRun:
    """Run the bare-metal ELF at ``path`` until it exits through HTIF.

    ``memory`` bytes of RAM at 0x80000000; ``slice`` instructions per hart
    turn; ``clock`` "virtual" (time follows instructions retired, so runs
    are reproducible) or "host"; ``patch`` writes 8-byte values at ELF
    symbols before the harts start (e.g. iteration counts); ``jit`` turns
    the core's translator on (True) or off (False, the interpreter alone);
    None keeps the machine's default (on, unless ``AVMM_JIT=0``). On a host
    the core cannot translate for (``Machine.jit_unavailable``) it stays
    off; ``ElfRun.jit`` says how the run went, ``ElfRun.jit_stats`` and
    ``ElfRun.hart_stats`` give the translator's and the harts' counters.

    Raises :class:`BootError` for an ELF that cannot be loaded, and an
    :class:`ElfRunError` subclass when the run cannot finish: a hart's
    internal error, an access outside RAM and the CLINT, every hart waiting
    with no timer armed, or ``max_instructions`` retired without an exit.
    """
    if harts < 1:
        raise ValueError("harts must be at least 1")
    if slice < 1:
        raise ValueError("slice must be at least 1")
    path = Path(path)
    runner = _Runner(path, harts=harts, memory=memory, clock=clock, patch=patch or {}, jit=jit)
    start = time.perf_counter()
    runner.run(slice, max_instructions)
    elapsed = time.perf_counter() - start
    assert runner.exit_code is not None
    return ElfRun(
        exit_code=runner.exit_code,
        console=bytes(runner.console),
        instret=tuple(h.instret for h in runner.harts),
        elapsed=elapsed,
        hart_stats=tuple(h.stats() for h in runner.harts),
        jit_stats=dict(runner.machine.jit_stats()),
        jit=runner.machine.jit,
    )
