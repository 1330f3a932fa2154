"""Machine-level behaviour: RAM slots and dirty logs, reservations across harts,
state as plain data, counters, and the errors a careless host gets."""

from __future__ import annotations

import msgpack
import pytest
from corerig import RAM_BASE, Rig, RigFactory

from avmm import _core as core
from avmm.errors import CoreError

DATA = RAM_BASE + 0x10_0000


def test_ram_is_a_zero_copy_writable_buffer(rig: RigFactory) -> None:
    r = rig(f"li t0, {DATA:#x}\nli t1, 0x55\nsb t1, 3(t0)\nlb a0, 4(t0)\nj .")
    view = memoryview(r.ram)
    assert (len(view), view.readonly) == (r.ram.size, False)
    off = DATA - RAM_BASE
    view[off + 4] = 0x7F  # a device writes RAM: the guest sees it
    r.run(20)
    assert view[off + 3] == 0x55  # the guest writes RAM: the device sees it
    assert r.x(10) == 0x7F
    assert (r.ram.base, r.ram.index) == (RAM_BASE, 0)


def test_dirty_log_records_guest_stores_per_page(rig: RigFactory) -> None:
    src = f"""
        li t0, {DATA:#x}
        li t1, {DATA + 0x2000:#x}
    1:  sd t0, 0(t0)
        sd t0, 8(t0)
        sw t0, 0(t1)
        j 1b
    """
    r = rig(src)
    r.ram.dirty_logging = True
    r.run(50)
    log = r.ram.get_dirty_log()
    pg = (DATA - RAM_BASE) // 4096
    dirty = {i for i in range(len(log) * 8) if log[i // 8] >> (i % 8) & 1}
    assert dirty == {pg, pg + 2}
    assert not any(r.ram.get_dirty_log())  # cleared by the read
    r.run(50)  # same pages again in a new slice: logged again
    assert r.ram.get_dirty_log(clear=False)[pg // 8] >> (pg % 8) & 1
    r.ram.dirty_logging = False
    r.ram.get_dirty_log()
    r.run(50)
    assert not any(r.ram.get_dirty_log())


def test_host_writes_mark_dirty(rig: RigFactory) -> None:
    r = rig("j .")
    r.ram.dirty_logging = True
    r.machine.write_phys(RAM_BASE + 0x5FFF, b"ab")  # straddles pages 5 and 6
    r.ram.mark_dirty(0x9000, 1)
    log = r.ram.get_dirty_log()
    assert log[0] == 0b0110_0000 and log[1] == 0b10
    with pytest.raises(ValueError):
        r.ram.mark_dirty(r.ram.size, 1)


LR_SC = f"""
.option norvc
    li t0, {DATA:#x}
    lr.d a0, (t0)
    ebreak
    addi a0, a0, 1
    sc.d a1, a0, (t0)
    j .
"""


def lr_then(rig: RigFactory, other: str) -> Rig:
    """Hart 0 takes a reservation and stops; hart 1 runs `other`; hart 0 tries its SC."""
    r = rig(LR_SC + f"\n.org 0x200\nli t0, {DATA:#x}\n{other}\nj .", harts=2)
    r.harts[0].debug_ebreak = True
    assert r.run(10) == core.EXIT_DEBUG
    assert r.harts[0].state()["reservation"] == [DATA, 8, DATA]
    r.harts[0].pc += 4
    r.harts[1].pc = RAM_BASE + 0x200
    r.run(20, hart=1)
    r.run(3)
    return r


def test_sc_succeeds_when_nobody_touched_the_reservation(rig: RigFactory) -> None:
    r = lr_then(rig, "sd t0, 64(t0)")  # another granule
    assert r.x(11) == 0
    assert r.read64(DATA) == 1


def test_another_harts_store_breaks_the_reservation(rig: RigFactory) -> None:
    # the first store installs nothing on the fast path (a reservation is in the
    # page), so the second store, to the reserved bytes, is seen
    r = lr_then(rig, "sd zero, 64(t0)\nsw zero, 4(t0)")
    assert r.x(11) == 1
    assert r.read64(DATA) == 0
    assert r.harts[0].state()["reservation"] is None


def test_another_harts_amo_breaks_the_reservation(rig: RigFactory) -> None:
    r = lr_then(rig, "li t1, 5\namoadd.d zero, t1, (t0)")
    assert r.x(11) == 1
    assert r.read64(DATA) == 5


def test_host_write_breaks_the_reservation(rig: RigFactory) -> None:
    r = rig(LR_SC)
    r.hart.debug_ebreak = True
    r.run(10)
    r.hart.pc += 4
    r.write64(DATA, 41)
    r.run(3)
    assert r.x(11) == 1
    assert r.read64(DATA) == 41


def test_misaligned_and_non_ram_atomics_fault(rig: RigFactory) -> None:
    src = """
        la t0, handler
        csrw mtvec, t0
        li t0, {addr}
        {insn}
        j .
        .align 2
    handler:
        csrr a5, mcause
        j .
    """
    cases = [
        (f"{DATA + 4:#x}", "lr.d a0, (t0)", 4),
        (f"{DATA + 2:#x}", "amoswap.w a0, a1, (t0)", 6),
        ("0x10000000", "lr.w a0, (t0)", 5),
        ("0x10000000", "amoadd.d a0, a1, (t0)", 7),
    ]
    for addr, insn, cause in cases:
        r = rig(src.format(addr=addr, insn=insn))
        r.run(20)
        assert r.x(15) == cause, insn


def test_state_round_trips_through_msgpack(rig: RigFactory) -> None:
    src = f"""
        li t0, {DATA:#x}
        lr.d a0, (t0)
        li t1, 0x1234
        csrw mscratch, t1
        fmv.d.x fa0, t1
        li t2, 0x10000000
        lw a3, 0(t2)
    1:  addi a4, a4, 1
        j 1b
    """
    r = rig(src)
    r.hart.set_csr(core.CSRS["mstatus"], 1 << 13)
    r.hart.mtimecmp = 1 << 62  # armed, far away: mip must not depend on the clock
    r.hart.set_irq_line(core.MIP_SEIP, True)
    r.hart.post_mip(core.MIP_SSIP)
    assert r.run(100) == core.EXIT_MMIO_READ
    state = r.hart.state()
    blob = msgpack.packb(state)
    copy = Rig(r.machine.read_phys(RAM_BASE, 0x100))
    copy.machine.write_phys(RAM_BASE, r.machine.read_phys(RAM_BASE, 0x100))
    copy.hart.set_state(msgpack.unpackb(blob, strict_map_key=False))
    assert copy.hart.state() == state
    assert state["mmio_pending"] is not None
    assert state["csr"]["mscratch"] == 0x1234
    for rr in (r, copy):
        rr.hart.complete_mmio_read(0xABCD)
        rr.run(50)
    assert r.hart.state() == copy.hart.state()


def test_set_state_rejects_bad_input_without_changing_the_hart(rig: RigFactory) -> None:
    r = rig("j .")
    good = r.hart.state()
    for bad in (
        {**good, "x": [0] * 31},
        {**good, "priv": 2},
        {**good, "csr": {"nonsense": 1}},
        {**good, "pc": -1},
        {k: v for k, v in good.items() if k != "lines"},
    ):
        with pytest.raises((ValueError, TypeError)):
            r.hart.set_state(bad)
        assert r.hart.state() == good


def test_stats_count_what_happened(rig: RigFactory) -> None:
    r = rig(f"li t0, {DATA:#x}\n1: ld a0, 0(t0)\nsd a0, 8(t0)\nj 1b")
    r.run(300)
    s = r.hart.stats()
    assert s["instret"] == 300
    assert s["tlb_l1_hits"] >= 190  # loads and stores after the first ones
    assert s["exits"]["budget"] == 1
    assert set(s) >= {"exceptions", "interrupts", "tlb_lookups", "page_walks", "sfence", "mmio"}


def test_machine_rejects_bad_host_arguments() -> None:
    m = core.Machine()
    m.add_ram(RAM_BASE, 0x10000)
    for base, size in ((RAM_BASE + 1, 0x1000), (0, 0x1001), (RAM_BASE + 0x8000, 0x10000), (0, 0)):
        with pytest.raises(ValueError):
            m.add_ram(base, size)
    with pytest.raises(ValueError):
        m.read_phys(RAM_BASE + 0xFFFF, 2)
    with pytest.raises(ValueError):
        m.write_phys(0x1000, b"x")
    with pytest.raises(ValueError):
        m.add_ram(-4096, 4096)
    with pytest.raises(TypeError):
        m.add_ram("0", 4096)  # type: ignore[arg-type]
    with pytest.raises(CoreError):
        m.set_irq(1, True)
    m.enable_plic(0x0C00_0000, ndev=8)
    with pytest.raises(ValueError):
        m.set_irq(8, True)
    with pytest.raises(ValueError):
        m.set_clock(7)
    with pytest.raises(TypeError):
        core.Machine(10_000_000)  # type: ignore[misc]
    h = m.create_hart()
    for call in (
        lambda: h.get_x(32),
        lambda: h.set_f(-1, 0),
        lambda: h.get_csr(0x7C0),
        lambda: h.set_csr(0x1000, 0),
        lambda: h.translate(0, 3),
        lambda: h.set_irq_line(core.MIP_SSIP, True),
        lambda: h.post_mip(core.MIP_MTIP),
        lambda: h.reset(RAM_BASE, 2),
        lambda: setattr(h, "pc", 2**64),
        lambda: setattr(h, "priv", 2),
    ):
        with pytest.raises(ValueError):
            call()
    while len(m.harts) < 64:
        m.create_hart()
    with pytest.raises(ValueError):
        m.create_hart()
    assert [x.hartid for x in m.harts] == list(range(64))


def test_machine_properties(rig: RigFactory) -> None:
    r = rig("j .")
    m = r.machine
    assert m.timebase_hz == 10_000_000
    assert m.ram_slots == (r.ram,)
    assert m.harts == tuple(r.harts)
    assert r.hart.machine is m
    m.vmid = 12
    assert m.vmid == 12
    m.time = 1000
    assert 1000 <= m.time < 1000 + 10_000_000
    assert core.CSRS["satp"] == 0x180
    assert core.ISA.startswith("rv64imafdc")
    assert r.hart.get_csr(core.CSRS["misa"]) == (2 << 62) | 0x14112D


def test_sc_elsewhere_fails_without_touching_memory_and_clears_the_reservation(
    rig: RigFactory,
) -> None:
    src = f"""
        la t0, handler
        csrw mtvec, t0
        li t0, {DATA:#x}
        li t1, 0x10000000
        lr.d a0, (t0)
        sc.d a1, a0, (t1)
        sc.d a2, a0, (t0)
        li a3, 1
        j .
        .align 2
    handler:
        csrr a5, mcause
        j .
    """
    r = rig(src)
    r.run(30)
    assert (r.x(11), r.x(12), r.x(13), r.x(15)) == (1, 1, 1, 0)
