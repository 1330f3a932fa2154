"""Typed surface of the compiled RV64GC hart core (sources in avmm/core/).

The core is KVM-shaped. A :class:`Machine` owns guest RAM (memory slots), the
guest clock, the optional in-core irqchip (CLINT and PLIC) and its harts. A
:class:`Hart` runs in bounded slices: ``hart.run(budget, tlb)`` executes at
most ``budget`` instructions and returns an exit reason (``EXIT_*``). Exits the
core cannot finish itself (an access outside RAM and in-core devices, an
``ecall`` that would enter M-mode while the VMM serves SBI, ``wfi`` with
nothing pending, ...) return to the caller, which completes them and calls
``run`` again. A :class:`Tlb` is a modelled host CPU's TLB, tagged with
(VMID, ASID) and handed to the hart for one slice.

Conventions
- Addresses, register values and CSR values are Python ints, unsigned 64-bit.
- Bad arguments from the host raise ``ValueError``/``TypeError``; calling in
  the wrong state (``run`` while an MMIO read is waiting for its value) raises
  :class:`avmm.errors.CoreError`. Nothing the *guest* does raises: guest
  faults become guest traps, and what cannot be a trap becomes
  ``EXIT_INTERNAL_ERROR`` with a description in ``Hart.error``.
- All counters are kept in C and read on demand (``stats()``).
- A Machine, its harts and the TLBs handed to them are used from one thread.
  ``Hart.run`` releases the GIL during the slice; other threads may keep
  reading and writing guest RAM through memoryviews (like DMA), nothing else.
- PMP CSRs (pmpcfg*, pmpaddr*) are stored as written and not enforced.
- LR/SC: the reservation is the bytes the LR read; an SC succeeds only on
  bytes inside it. Any store by another hart (or ``write_phys``/``mark_dirty``)
  to the reservation's naturally aligned 8-byte granule breaks it.
"""

from typing import Final

# ---------------------------------------------------------------- exit reasons
EXIT_BUDGET: Final[int]  # 0: the budget is used up
EXIT_MMIO_READ: Final[int]  # 1: load outside RAM/in-core devices; complete_mmio_read(value)
EXIT_MMIO_WRITE: Final[int]  # 2: store outside RAM/in-core devices; already retired
EXIT_ECALL: Final[int]  # 3: ecall that would trap to M-mode while Machine.sbi_in_vmm
EXIT_WFI: Final[int]  # 4: wfi with no interrupt pending (pc is past the wfi)
EXIT_PAUSE: Final[int]  # 5: Zihintpause ``pause`` while Machine.pause_exit
EXIT_DEBUG: Final[int]  # 6: breakpoint / single step / ebreak; see Hart.debug_cause
EXIT_HTIF: Final[int]  # 7: non-zero store to tohost; value in Hart.htif_value
EXIT_IPI: Final[int]  # 8: sent an in-core CLINT IPI to another hart (Machine.ipi_exit)
EXIT_INTERNAL_ERROR: Final[int]  # 9: the hart cannot go on; Hart.error says why
EXIT_NAMES: Final[tuple[str, ...]]  # index = reason: "budget", "mmio_read", ...

# ------------------------------------------------------------- debug causes
DEBUG_BREAKPOINT: Final[int]  # pc is at a breakpoint set by the VMM; not executed
DEBUG_STEP: Final[int]  # single step: exactly one instruction retired (or trapped)
DEBUG_EBREAK: Final[int]  # ebreak while Hart.debug_ebreak; pc is at the ebreak
DEBUG_WATCHPOINT: Final[int]  # a VMM watchpoint; pc at the access, not performed
WATCH_LOAD: Final[int]  # watchpoint kinds (a bit mask)
WATCH_STORE: Final[int]
DEBUG_TRACE: Final[int]  # the trace buffer is full: Hart.take_trace() and run again
TRACE_TRAPS: Final[int]  # Hart.set_trace flags: traps and interrupts taken...
TRACE_INSNS: Final[int]  # ...and fetched instructions (no fetch fast path while on)
TR_INSN: Final[int]  # record kinds of Hart.take_trace()
TR_TRAP: Final[int]
TR_IRQ: Final[int]

# ------------------------------------------------------------ privilege modes
PRIV_U: Final[int]  # 0
PRIV_S: Final[int]  # 1
PRIV_M: Final[int]  # 3

# ------------------------------------------------------ mip / mie bit masks
MIP_SSIP: Final[int]  # 1 << 1
MIP_MSIP: Final[int]  # 1 << 3
MIP_STIP: Final[int]  # 1 << 5
MIP_MTIP: Final[int]  # 1 << 7
MIP_SEIP: Final[int]  # 1 << 9
MIP_MEIP: Final[int]  # 1 << 11

# ------------------------------------------------------------------- clocks
CLOCK_HOST: Final[int]  # guest time follows CLOCK_MONOTONIC
CLOCK_VIRTUAL: Final[int]  # guest time = instructions retired (all harts) / ips

CSRS: Final[dict[str, int]]  # name -> number of every implemented CSR
ISA: Final[str]  # what the core implements, for the device tree: "rv64imafdc_zicntr_..."

class Tlb:
    """A modelled host CPU's TLB: set-associative, entries tagged (VMID, ASID).

    Global mappings (PTE.G) match every ASID of their VMID. Guest
    ``sfence.vma`` flushes the matching entries of every TLB in
    ``Machine.broadcast_tlbs`` (hardware-broadcast semantics, so entries never
    go stale when a vCPU moves between pCPUs).
    """

    def __init__(self, entries: int = 1024) -> None: ...  # power of two, 16..65536
    @property
    def entries(self) -> int: ...
    def flush(self) -> None: ...
    def flush_vmid(self, vmid: int) -> None: ...
    def flush_asid(self, vmid: int, asid: int) -> None: ...  # non-global entries of asid
    def flush_page(self, vmid: int, vaddr: int, asid: int | None = None) -> None: ...
    def stats(self) -> dict[str, int]:
        """``hits``, ``misses``, ``flush_all``, ``flush_vmid``, ``flush_asid``,
        ``flush_page``, ``entries_valid``."""

class RamSlot:
    """Guest RAM at [base, base + size), lazily committed host memory.

    Supports the buffer protocol: ``memoryview(slot)`` is a writable,
    zero-copy view of the whole slot (device models DMA through it).
    """

    def __buffer__(self, flags: int, /) -> memoryview: ...
    @property
    def base(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def index(self) -> int: ...
    dirty_logging: bool  # when True, every guest store marks its 4 KiB page dirty
    def get_dirty_log(self, clear: bool = True) -> bytes:
        """Bitmap, one bit per 4 KiB page: page n is bit (n % 8) of byte n // 8."""
    def mark_dirty(self, offset: int, length: int) -> None:
        """Mark pages written by the host (device DMA) when dirty logging is on."""

class Hart:
    """One RV64GC hart (M, S, U; Sv39/Sv48). Created by Machine.create_hart."""

    @property
    def hartid(self) -> int: ...
    @property
    def machine(self) -> Machine: ...
    def run(self, budget: int, tlb: Tlb) -> int:
        """Execute at most ``budget`` (>= 1) instructions using ``tlb``; return EXIT_*.

        The budget counts steps: a retired instruction, or an instruction that
        raised an exception (it does not retire, but a trap storm still ends
        the slice). Taking an interrupt is not a step. ``instret`` counts
        retired instructions only; an ecall completed by the VMM (EXIT_ECALL)
        retires, an MMIO load retires in ``complete_mmio_read``."""
    def reset(self, pc: int, priv: int = ...) -> None:
        """Architectural reset: registers 0, CSRs at reset values, pc, priv (default M)."""
    # --- architectural state (host access: no privilege checks)
    pc: int
    priv: int
    def get_x(self, index: int) -> int: ...
    def set_x(self, index: int, value: int) -> None: ...  # x0 stays 0
    def get_f(self, index: int) -> int: ...  # raw 64-bit register (NaN-boxed singles)
    def set_f(self, index: int, value: int) -> None: ...
    def get_csr(self, number: int) -> int: ...  # ValueError for an unimplemented CSR
    def set_csr(self, number: int, value: int) -> None: ...  # applies WARL masks
    @property
    def instret(self) -> int: ...
    # --- interrupts
    def set_irq_line(self, mask: int, level: bool) -> None:
        """Drive external level lines into mip (MEIP, SEIP, MSIP from a Python PLIC/CLINT)."""
    def post_mip(self, mask: int) -> None:
        """Set software-visible mip bits, as an M-mode agent would (SSIP for an SBI IPI)."""
    mtimecmp: int  # comparator: MTIP while time >= mtimecmp (2**64-1 = disarmed)
    stimecmp: int  # comparator: STIP while time >= stimecmp (Sstc CSR; SBI set_timer)
    def next_deadline(self) -> int | None:
        """Earliest guest time at which an armed comparator raises a timer interrupt."""
    @property
    def in_firmware_call(self) -> bool:
        """In M-mode, entered by a trap from S or U that no mret has returned from
        yet (a firmware call or an interrupt taken in firmware, not M-mode code that
        never left M)."""
    def wakeup_pending(self) -> bool:
        """True when some interrupt is pending and enabled in mie (WFI would wake)."""
    def translate(self, vaddr: int, access: int = 0) -> int | None:
        """Guest-physical address of ``vaddr`` as the hart would access it now
        (0 = load, 1 = store, 2 = fetch; current priv, satp, MPRV/SUM/MXR), or None
        on a fault. No side effects: no A/D updates, no TLB fill, no trap."""
    # --- exit details (valid after run returned the matching reason)
    @property
    def mmio_addr(self) -> int: ...
    @property
    def mmio_size(self) -> int: ...  # 1, 2, 4 or 8
    @property
    def mmio_value(self) -> int: ...  # the value a store writes
    def complete_mmio_read(self, value: int) -> None:
        """Hand the value of a pending MMIO load to the core; the load retires."""
    @property
    def htif_value(self) -> int: ...
    @property
    def debug_cause(self) -> int: ...
    @property
    def error(self) -> str: ...
    # --- guest debug
    single_step: bool
    debug_ebreak: bool  # ebreak exits with DEBUG_EBREAK instead of trapping
    def set_breakpoint(self, vaddr: int) -> None: ...  # at most 64
    def clear_breakpoint(self, vaddr: int) -> None: ...
    def set_watchpoint(self, vaddr: int, length: int, kind: int) -> None:
        """Stop before a load/store (``kind``: WATCH_* bits) touching [vaddr, vaddr +
        length): EXIT_DEBUG with DEBUG_WATCHPOINT. At most 16; the VMM's own, apart
        from the guest's Sdtrig triggers (tselect 0..3). Run again: that access goes
        ahead once."""
    def clear_watchpoint(self, vaddr: int, length: int, kind: int) -> None: ...
    @property
    def debug_addr(self) -> int: ...  # DEBUG_WATCHPOINT: the watchpoint's vaddr
    @property
    def debug_write(self) -> bool: ...  # DEBUG_WATCHPOINT: the access was a store
    def set_trace(self, flags: int, lo: int = 0, hi: int = 2**64 - 1, capacity: int = 4096) -> None:
        """Trace TRACE_* events into a buffer of ``capacity`` records; instructions
        only with lo <= pc <= hi. flags 0: off (the buffer is freed)."""
    def take_trace(self) -> list[tuple[int, int, int, int, int, int]]:
        """Drain the buffer: (kind, pc, a, b, from_priv, to_priv) per record; a is
        the raw instruction (TR_INSN) or the cause, b the tval (TR_TRAP)."""
    @property
    def trace_lost(self) -> int: ...  # trap records dropped on a full buffer
    @property
    def debug_active(self) -> bool:
        """Breakpoints, watchpoints, single step, ebreak exits or armed guest
        triggers: the hart runs in the interpreter (core.h hart_debug_active)."""
    # --- whole hart as plain data, and counters
    def state(self) -> dict[str, object]:
        """x, f, pc, priv, csr (name -> value), mip_sw, mtimecmp, stimecmp, lines,
        reservation ([paddr, size, vaddr] or None), mmio_pending (dict or None),
        instret (the stats() counter) and fw_call (see in_firmware_call); set_state
        takes the last two as optional."""
    def set_state(self, state: dict[str, object]) -> None: ...
    def stats(self) -> dict[str, object]:
        """instret, exits {reason: n}, exceptions {cause: n}, interrupts {cause: n},
        tlb_l1_hits, tlb_lookups, page_walks, sfence, mmio {read/write: n} (exits),
        mmio_fast {clint/plic: n} (accesses the in-core irqchip served, no exit),
        ipis (in-core CLINT msip writes that set this hart's MSIP), wfi_yields
        (slices ended by WFI-exiting, see Machine.wfi_window), jit_insns
        (instructions retired by translated code), interp_insns (retired by the
        interpreter; jit_insns + interp_insns == instret)."""

class Machine:
    """Guest RAM, clock, in-core irqchip and harts of one VM."""

    def __init__(self, *, timebase_hz: int = 10_000_000, jit: bool | None = None) -> None:
        """``jit``: translate guest code (None: on, unless the environment has
        ``AVMM_JIT=0`` or the host cannot translate)."""
    # --- memory
    def add_ram(self, base: int, size: int) -> RamSlot: ...  # 4 KiB aligned, no overlap
    @property
    def ram_slots(self) -> tuple[RamSlot, ...]: ...
    def read_phys(self, addr: int, size: int) -> bytes: ...  # RAM only; ValueError outside
    def write_phys(self, addr: int, data: bytes) -> None: ...  # marks dirty, breaks LR/SC
    # --- harts
    def create_hart(self) -> Hart: ...  # hartids 0, 1, ... up to 63
    @property
    def harts(self) -> tuple[Hart, ...]: ...
    def take_kicks(self) -> int:
        """Bitmask of harts whose interrupt state changed in-core since the last
        call (an IPI through the in-core CLINT, a PLIC line). Cleared on read."""
    # --- modes
    sbi_in_vmm: bool  # traps that would enter M-mode exit instead (ecall -> EXIT_ECALL)
    pause_exit: bool  # pause ends the slice with EXIT_PAUSE ...
    pause_window: int  # ... at the pause_window-th pause of the slice (>= 1; default 1)
    # WFI-exiting: the wfi_window-th WFI of a slice that finds an interrupt pending but
    # not taken (masked, or for another mode) ends the slice with EXIT_WFI (default 16;
    # 0 = off: such a WFI is always a nop)
    wfi_window: int
    ipi_exit: bool  # an in-core IPI to another hart ends the slice with EXIT_IPI
    sstc: bool  # implement the stimecmp CSR (menvcfg.STCE)
    vmid: int  # tag of this VM's TLB entries (set by the VMID allocator)
    broadcast_tlbs: tuple[Tlb, ...]  # where guest sfence.vma flushes
    # --- clock
    def set_clock(self, mode: int, ips: int = 100_000_000) -> None: ...
    time: int  # current guest time in timebase ticks; writable (adjusts the offset)
    # True: guest time stands still (a debugger stopped every hart; QEMU stops its
    # virtual clock then); False again: it goes on from where it stood
    clock_held: bool
    def warp(self, ticks: int) -> None: ...  # advance virtual time (all harts idle)
    @property
    def timebase_hz(self) -> int: ...
    instret: int  # all harts, including the running one; writable (guest time stays)
    # --- in-core irqchip (fast path); otherwise those ranges are MMIO exits
    def enable_clint(self, base: int) -> None: ...
    def enable_plic(self, base: int, ndev: int = 0x60) -> None: ...
    def set_irq(self, source: int, level: bool) -> None: ...  # in-core PLIC input 1..ndev-1
    def irqchip_state(self) -> dict[str, object]: ...
    def set_irqchip_state(self, state: dict[str, object]) -> None: ...
    # --- HTIF
    def set_htif(self, tohost: int | None, fromhost: int | None = None) -> None: ...
    # --- translation (avmm/core/jit.c; README "Translation")
    jit: bool
    """Translate hot guest code into host code (default True; ``AVMM_JIT=0`` in
    the environment makes the default False). Results are the same either way
    (instruction counts, exits, traps, interrupt points); False runs the
    interpreter alone. Setting True where the host cannot translate leaves it
    False (see ``jit_unavailable``). Guest debug (single step, breakpoints,
    ``debug_ebreak``) always runs interpreted. Takes effect at the next slice."""
    @property
    def jit_unavailable(self) -> str | None:
        """Why this host cannot translate (e.g. "translation needs an x86-64
        host"), or None."""
    def jit_stats(self) -> dict[str, object]:
        """Translator counters of this machine (all harts): ``blocks``
        (translated so far), ``live_blocks`` (in the cache now, including
        entries marking untranslatable code), ``insns`` (guest instructions
        translated so far), ``code_bytes`` (host code in use), ``code_size``
        (the cache: flushed whole when full), ``flushes`` {``full``,
        ``fence_i``, ``smc``, ``host``, ``reset``: n} (a full flush, or a
        page's translations dropped: on fence.i after host writes, a guest
        store to translated code, a host write, a hart reset),
        ``translate_ns`` (host time spent translating), ``lookups``
        (translated-code lookups at jump targets), ``chain_links`` (direct
        jumps between blocks)."""
