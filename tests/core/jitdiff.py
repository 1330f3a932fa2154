"""Differential mode for the translator: one ELF on two machines in lockstep.

``lockstep(elf)`` loads a bare-metal HTIF ELF (the difftest programs, the
bench guest) into two single-hart machines, one with the translator on and
one with it off, and runs both with the same slices of odd, varying sizes.
At every exit it compares the exit reason, instructions retired, pc and the
whole hart state (registers, CSRs, reservation); HTIF console requests are
answered the same way on both. Any difference raises ``Divergence`` naming
the slice, so a translation bug shows up at the first exit after it.
"""

from __future__ import annotations

import random
from pathlib import Path

import attrs

from avmm import _core
from avmm.board.loader import load_elf, patch_symbols
from avmm.runtime.guestmem import GuestMemory, Region

RAM_BASE = 0x8000_0000
CLINT_BASE = 0x0200_0000


class Divergence(AssertionError):
    pass


@attrs.define
class Side:
    machine: _core.Machine
    hart: _core.Hart
    tlb: _core.Tlb
    tohost: int
    fromhost: int | None
    console: bytearray = attrs.field(factory=bytearray)
    exit_code: int | None = None


def _side(elf: Path, jit: bool, patch: dict[str, int], memory: int) -> Side:
    m = _core.Machine(jit=jit)
    m.sbi_in_vmm = False
    m.pause_exit = False
    m.ipi_exit = False
    m.sstc = False
    slot = m.add_ram(RAM_BASE, memory)
    ram = GuestMemory([Region(RAM_BASE, memoryview(slot), slot.mark_dirty)])
    image = load_elf(ram, elf)
    patch_symbols(ram, image, patch)
    assert image.tohost is not None
    m.set_htif(image.tohost, image.fromhost)
    m.set_clock(_core.CLOCK_VIRTUAL)
    m.time = 0  # both machines' clocks start together (set_clock keeps host time)
    m.enable_clint(CLINT_BASE)
    tlb = _core.Tlb()
    m.broadcast_tlbs = (tlb,)
    hart = m.create_hart()
    hart.reset(image.entry, _core.PRIV_M)
    return Side(m, hart, tlb, image.tohost, image.fromhost)


def _htif(s: Side) -> None:
    value = s.hart.htif_value
    device, command, payload = value >> 56, (value >> 48) & 0xFF, value & (2**48 - 1)
    if device == 0 and command == 0 and payload & 1:
        s.exit_code = payload >> 1
        return
    s.console.append(payload & 0xFF)
    s.machine.write_phys(s.tohost, bytes(8))
    if s.fromhost is not None:
        response = (device << 56) | (command << 48) | 0x100 | (payload & 0xFF)
        s.machine.write_phys(s.fromhost, response.to_bytes(8, "little"))


@attrs.frozen
class Result:
    exits: int
    instret: int
    console: bytes
    exit_code: int | None
    jit_insns: int  # retired by translated code on the translating side


def lockstep(
    elf: Path,
    *,
    seed: int = 1,
    max_slice: int = 4001,
    patch: dict[str, int] | None = None,
    memory: int = 64 << 20,
    limit: int = 50_000_000,
) -> Result:
    a = _side(elf, True, patch or {}, memory)
    b = _side(elf, False, patch or {}, memory)
    rng = random.Random(seed)
    exits = 0
    while a.exit_code is None:
        budget = rng.randrange(1, max_slice + 1) | 1
        ra, rb = a.hart.run(budget, a.tlb), b.hart.run(budget, b.tlb)
        exits += 1
        where = f"{elf.name}: exit {exits} (slice of {budget})"
        if (ra, a.hart.instret, a.hart.pc) != (rb, b.hart.instret, b.hart.pc):
            raise Divergence(
                f"{where}: translated {_core.EXIT_NAMES[ra]} at pc {a.hart.pc:#x} after "
                f"{a.hart.instret} instructions, interpreted {_core.EXIT_NAMES[rb]} at pc "
                f"{b.hart.pc:#x} after {b.hart.instret}"
            )
        sa, sb = a.hart.state(), b.hart.state()
        if sa != sb:
            diff = sorted(k for k in sa if sa[k] != sb[k])
            raise Divergence(f"{where}: hart state differs in {diff} at pc {a.hart.pc:#x}")
        if ra == _core.EXIT_HTIF:
            _htif(a)
            _htif(b)
        elif ra != _core.EXIT_BUDGET:
            raise Divergence(f"{where}: unexpected exit {_core.EXIT_NAMES[ra]}")
        if a.hart.instret > limit:
            raise Divergence(f"{elf.name}: no exit after {limit} instructions")
    if (a.console, a.exit_code) != (b.console, b.exit_code):
        raise Divergence(f"{elf.name}: console or exit code differ")
    return Result(
        exits,
        a.hart.instret,
        bytes(a.console),
        a.exit_code,
        int(a.hart.stats()["jit_insns"]),  # type: ignore[call-overload]
    )
