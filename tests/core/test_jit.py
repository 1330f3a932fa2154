"""The translator (avmm/core/jit.c): on by default, and exact.

Every program here runs on a machine with the translator on and on one with
it off; what a user can see (registers, pc, instructions retired, exit
reasons, trap causes and addresses, memory) must be the same. The counters
show the code did run translated.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corerig import RAM_BASE, Rig, RigFactory
from jitdiff import lockstep
from test_mmu import DATA, RWX, A, D, R, W, s_mode

from avmm import _core as core
from guests.build import build

MSTATUS, MIE, MTVEC, MEPC, MCAUSE, MTVAL = (
    core.CSRS[n] for n in ("mstatus", "mie", "mtvec", "mepc", "mcause", "mtval")
)


def both(rig: RigFactory, source: str, **kw: int) -> tuple[Rig, Rig]:
    """The program on a translating machine and on an interpreting one."""
    a, b = rig(source, **kw), rig(source, **kw)
    a.machine.jit, b.machine.jit = True, False
    return a, b


def same_state(a: Rig, b: Rig) -> None:
    for ha, hb in zip(a.harts, b.harts, strict=True):
        assert (ha.pc, ha.instret) == (hb.pc, hb.instret)
        assert ha.state() == hb.state()


def jit_insns(r: Rig, hart: int = 0) -> int:
    return int(r.harts[hart].stats()["jit_insns"])  # type: ignore[call-overload]


LOOP = """
    li a0, 0
    li a1, 2000
    li a2, 0x80100000
1:  addi a0, a0, 3
    slli t0, a0, 2
    xor t1, t0, a1
    sd t1, 0(a2)
    lw t2, 4(a2)
    add a3, a3, t2
    mul t3, a0, a1
    divw t4, t3, a0
    remu t5, t3, a1
    addi a1, a1, -1
    bnez a1, 1b
    j .
"""


# ------------------------------------------------------------ the API


def test_translation_is_on_by_default_and_can_be_switched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AVMM_JIT", raising=False)
    m = core.Machine()
    assert m.jit is True and m.jit_unavailable is None
    m.jit = False
    assert m.jit is False
    assert core.Machine(jit=False).jit is False
    monkeypatch.setenv("AVMM_JIT", "0")  # the whole process interprets by default
    assert core.Machine().jit is False
    assert core.Machine(jit=True).jit is True
    stats = core.Machine().jit_stats()
    assert set(stats) >= {"blocks", "code_bytes", "flushes", "translate_ns", "lookups"}
    assert set(stats["flushes"]) == {"full", "fence_i", "smc", "host", "reset"}


def test_a_hot_loop_runs_translated_with_the_interpreters_result(rig: RigFactory) -> None:
    a, b = both(rig, LOOP)
    assert a.run(200_000) == b.run(200_000) == core.EXIT_BUDGET
    same_state(a, b)
    assert a.x(11) == 0 and a.x(10) == 6000
    stats = a.hart.stats()
    assert stats["jit_insns"] + stats["interp_insns"] == stats["instret"]  # type: ignore[operator]
    assert jit_insns(a) > 0.9 * a.hart.instret
    assert jit_insns(b) == 0
    js = a.machine.jit_stats()
    assert js["blocks"] >= 2 and js["code_bytes"] > 0 and js["translate_ns"] > 0
    assert js["chain_links"] >= 1  # the loop jumps to itself without the dispatcher
    assert b.machine.jit_stats()["blocks"] == 0


@pytest.mark.parametrize("slice_", [1, 2, 3, 5, 7, 11, 13, 17, 64, 101])
def test_every_slice_ends_at_the_same_instruction(rig: RigFactory, slice_: int) -> None:
    a, b = both(rig, LOOP)
    for _ in range(3000 // slice_ + 40):
        assert a.run(slice_) == b.run(slice_)
        assert (a.hart.pc, a.hart.instret) == (b.hart.pc, b.hart.instret)
    same_state(a, b)
    assert slice_ < 64 or jit_insns(a) > 0  # a 11-instruction block fits in longer slices


# ------------------------------------------------------------ code that changes


SMC = """
    li a0, 0
    li a1, 300
    la t0, 2f
    li t1, 0x00250513        # addi a0, a0, 2
1:  addi a1, a1, -1
2:  addi a0, a0, 1           # patched after 100 iterations
    li t2, 200
    bne a1, t2, 3f
    sw t1, 0(t0)
    fence.i
3:  bnez a1, 1b
    j .
"""


def test_a_loop_that_patches_its_own_code_runs_the_new_instruction(rig: RigFactory) -> None:
    a, b = both(rig, ".option norvc\n" + SMC)
    a.run(100_000)
    b.run(100_000)
    same_state(a, b)
    assert a.x(10) == 100 * 1 + 200 * 2
    assert a.machine.jit_stats()["flushes"]["smc"] >= 1  # the store dropped the old block
    assert jit_insns(a) > 0


def test_a_host_write_to_translated_code_is_seen(rig: RigFactory) -> None:
    src = ".option norvc\n1: addi a0, a0, 1\naddi a1, a1, 1\nj 1b"
    a, b = both(rig, src)
    for r in (a, b):
        r.run(1000)
        r.machine.write_phys(RAM_BASE, (0x00350513).to_bytes(4, "little"))  # addi a0, a0, 3
        r.run(999)
    same_state(a, b)
    assert a.x(10) == 334 + 3 * 333  # 334 times the old addi, then 333 times the new one
    assert a.machine.jit_stats()["flushes"]["host"] >= 1


# a loop over 64 pages, 3 times: loads, stores, a misaligned load and store inside
# a page and a load across pages; every first access to a page misses the fast
# cache inside translated code, which fills the entry through the Tlb (or leaves
# the block where only the slow path can: across pages, a walk)
PAGES = """
    li s2, 3
0:  li s0, {base:#x}
    li s1, 64
1:  ld t0, 0(s0)
    add a0, a0, t0
    sd a0, 8(s0)
    lw t1, 13(s0)
    add a1, a1, t1
    sh a0, 21(s0)
    li t4, 4093
    add t4, s0, t4
    ld t2, 0(t4)
    add a2, a2, t2
    li t3, 4096
    add s0, s0, t3
    addi s1, s1, -1
    bnez s1, 1b
    addi s2, s2, -1
    bnez s2, 0b
    li a7, 1
    j .
"""


@pytest.mark.parametrize("mode", ["m", "s"])
def test_fast_cache_misses_in_translated_code_fill_it_as_the_slow_path_does(
    rig: RigFactory, mode: str
) -> None:
    rigs = []
    for translate in (True, False):
        if mode == "m":
            r = rig(".option norvc\n" + PAGES.format(base=DATA))
        else:
            va = 0x4000_0000
            r, pt = s_mode(rig, ".option norvc\n" + PAGES.format(base=va))
            pt.map(va, DATA, R | W | A | D, level=1)  # a 2 MiB page: one Tlb entry
        r.machine.jit = translate
        for k in range(65):
            r.write64(DATA + k * 4096, k + 1)
            r.write64(DATA + k * 4096 + 0xFF8, (k + 3) << 8)
        r.ram.dirty_logging = True
        r.ram.get_dirty_log()
        for _ in range(400):
            if r.x(17) == 1:
                break
            r.run(97)
        assert r.x(17) == 1
        rigs.append(r)
    a, b = rigs
    same_state(a, b)
    assert a.machine.read_phys(DATA, 65 * 4096) == b.machine.read_phys(DATA, 65 * 4096)
    assert a.ram.get_dirty_log() == b.ram.get_dirty_log()
    sa, sb = a.hart.stats(), b.hart.stats()
    assert sa["jit_insns"] > sa["instret"] // 2
    # the fills count what the slow path's Tlb hits count, and no more hits
    for key in ("tlb_lookups", "page_walks", "tlb_l1_hits"):
        assert sa[key] == sb[key], key
    ta, tb = a.tlb.stats(), b.tlb.stats()
    assert (ta["hits"], ta["misses"]) == (tb["hits"], tb["misses"])


def test_a_loader_s_unreported_write_to_code_is_seen_after_a_reset(rig: RigFactory) -> None:
    # a loader writes through the RamSlot buffer (nobody reports it), then resets
    # the hart: Hart.reset drops the blocks of every page whose bytes changed
    src = ".option norvc\n1: addi a0, a0, 1\naddi a1, a1, 1\nj 1b"
    a, b = both(rig, src)
    for r in (a, b):
        r.run(1000)
        memoryview(r.ram)[0:4] = (0x00350513).to_bytes(4, "little")  # addi a0, a0, 3
        r.hart.reset(RAM_BASE)
        r.run(999)
    same_state(a, b)
    assert a.x(10) == 3 * 333
    assert a.machine.jit_stats()["flushes"]["reset"] == 1  # the one page
    assert jit_insns(a) > 0


def test_a_reset_keeps_the_translations_of_unchanged_pages(rig: RigFactory) -> None:
    # (an SBI HSM start resets a hart while the others run translated code)
    src = ".option norvc\n1: addi a0, a0, 1\naddi a1, a1, 1\nj 1b"
    a, b = both(rig, src)
    for r in (a, b):
        r.run(1000)
        r.hart.reset(RAM_BASE)
        r.run(999)
    same_state(a, b)
    stats = a.machine.jit_stats()
    assert stats["flushes"]["reset"] == 0
    assert stats["blocks"] == stats["live_blocks"]  # nothing translated twice
    assert jit_insns(a) > 1900


def test_remapped_code_page_runs_the_code_of_its_new_page(rig: RigFactory) -> None:
    # VA 0x40000000 holds a function: PA DATA first (returns 1), then the loop
    # points the PTE at DATA + 0x1000 (returns 2), sfence.vma, and goes on
    body = f"""
        li s0, 0x40000000
        li s1, 0
        li s2, 300
        li s3, {DATA + 0x1000 >> 12 << 10 | 0xCF:#x}   # the new PTE: V R W X A D
        li s4, 0
    1:  jalr s0
        add s1, s1, a0
        addi s2, s2, -1
        li t0, 150
        bne s2, t0, 2f
        sd s3, 0(s5)          # s5: address of the PTE (in the identity-mapped code area)
        sfence.vma
    2:  bnez s2, 1b
        li s4, 1
        j .
    """
    ret1 = (0x00100513).to_bytes(4, "little") + (0x00008067).to_bytes(4, "little")
    ret2 = (0x00200513).to_bytes(4, "little") + (0x00008067).to_bytes(4, "little")
    rigs = []
    for jit in (True, False):
        r, pt = s_mode(rig, ".option norvc\n" + body)
        r.machine.jit = jit
        pte = pt.map(0x4000_0000, DATA, RWX | A | D)
        r.machine.write_phys(DATA, ret1)
        r.machine.write_phys(DATA + 0x1000, ret2)
        r.hart.set_x(21, pte)
        r.run(20_000)
        rigs.append(r)
    a, b = rigs
    same_state(a, b)
    assert a.x(20) == 1, a.x(15)
    assert a.x(9) == 150 * 1 + 150 * 2
    assert jit_insns(a) > 0


# ------------------------------------------------------------ traps and exits inside blocks


def test_page_fault_on_the_fifth_instruction_of_a_hot_block(rig: RigFactory) -> None:
    # each iteration loads from the next page; the 40th page is not mapped
    body = """
        .option norvc
        li t0, 0x40000000
        li t1, 0
        li t2, 4096
    1:  addi t1, t1, 1
        addi a1, a1, 2
        xor a2, a2, a1
        add a3, a3, t1
        ld a0, 8(t0)
        add t0, t0, t2
        j 1b
    """
    rigs = []
    for jit in (True, False):
        r, pt = s_mode(rig, body)
        r.machine.jit = jit
        for i in range(39):
            pt.map(0x4000_0000 + i * 4096, DATA + i * 4096, R | W | A | D)
        r.run(10_000)
        rigs.append(r)
    a, b = rigs
    same_state(a, b)
    assert a.x(15) == 13  # load page fault, recorded by the M-mode handler
    assert a.x(16) == 0x4000_0000 + 39 * 4096 + 8
    assert a.x(6) == 40
    assert a.x(17) == RAM_BASE + 0x1C  # mepc: the ld, the fifth instruction of the loop
    assert jit_insns(a) > 0


def test_misaligned_amo_traps_at_its_own_pc_after_translated_code(rig: RigFactory) -> None:
    src = """
        la t0, 9f
        csrw mtvec, t0
        li t0, 0x80100000
        li t1, 0
    1:  addi t1, t1, 1
        addi a1, a1, 5
        li t2, 50
        bne t1, t2, 2f
        addi t0, t0, 2        # the 50th iteration's amoadd is misaligned
    2:  amoadd.w a2, a1, (t0)
        add a3, a3, a2
        j 1b
    9:  csrr a5, mcause
        csrr a6, mtval
        csrr a7, mepc
        j .
    """
    a, b = both(rig, src)
    a.run(20_000)
    b.run(20_000)
    same_state(a, b)
    assert (a.x(15), a.x(16)) == (6, 0x8010_0002)
    assert a.x(6) == 50
    assert jit_insns(a) > 0


def test_mmio_load_in_a_hot_loop_exits_at_that_load(rig: RigFactory) -> None:
    src = """
        .option norvc
        li t0, 0x10000000
        li t1, 0
    1:  addi t1, t1, 1
        add a1, a1, t1
        lw a0, 4(t0)
        add a2, a2, a0
        j 1b
    """
    a, b = both(rig, src)
    for i in range(30):
        ra, rb = a.run(10_000), b.run(10_000)
        assert ra == rb == core.EXIT_MMIO_READ
        assert (a.hart.mmio_addr, a.hart.mmio_size) == (0x1000_0004, 4)
        assert a.hart.pc == RAM_BASE + 0x10
        same_state(a, b)
        a.hart.complete_mmio_read(i)
        b.hart.complete_mmio_read(i)
    assert a.x(12) == sum(range(29))  # the last value is in a0, not added yet
    assert jit_insns(a) > 0


def test_timer_interrupt_arrives_mid_loop_at_the_same_instruction(rig: RigFactory) -> None:
    src = """
        la t0, 9f
        csrw mtvec, t0
        li t0, 0x80
        csrs mie, t0
        csrsi mstatus, 8
    1:  addi a0, a0, 1
        addi a1, a1, 3
        add a2, a2, a1
        j 1b
    9:  csrr a5, mcause
        csrr a7, mepc
        j .
    """
    rigs = []
    for jit in (True, False):
        r = rig(src)
        r.machine.jit = jit
        r.machine.set_clock(core.CLOCK_VIRTUAL, ips=10_000_000)  # one tick per instruction
        r.machine.time = 0
        r.hart.mtimecmp = 12_345
        r.run(100_000)
        rigs.append(r)
    a, b = rigs
    same_state(a, b)
    assert a.x(15) == (1 << 63) | 7
    assert a.x(10) == (12_345 - 5) // 4  # taken at the first check point past mtimecmp
    assert jit_insns(a) > 0


def test_translated_store_breaks_another_harts_reservation(rig: RigFactory) -> None:
    # hart 1 reserves DATA and waits; hart 0 stores to it from a hot loop; then
    # hart 1's sc.d must fail (a1 = 1)
    src = f"""
        csrr t0, mhartid
        li t1, {DATA:#x}
        bnez t0, 5f
        li t2, 400
    1:  addi t2, t2, -1
        sd t2, 8(t1)
        sd t2, 0(t1)
        bnez t2, 1b
        j .
    5:  lr.d a0, (t1)
        li t3, 1
    6:  bne a2, t3, 6b
        sc.d a1, t3, (t1)
        j .
    """
    a, b = both(rig, src, harts=2)
    for r in (a, b):
        r.run(30, hart=1)  # lr.d, then spins until the host sets a2
        assert r.harts[1].state()["reservation"] is not None
        r.run(5000, hart=0)
        r.harts[1].set_x(12, 1)
        r.run(30, hart=1)
    same_state(a, b)
    assert a.x(11, hart=1) == 1
    assert jit_insns(a) > 0


def test_single_steps_and_breakpoints_run_interpreted(rig: RigFactory) -> None:
    a, b = both(rig, LOOP)
    a.run(5000)
    b.run(5000)
    before = jit_insns(a)
    for r in (a, b):
        r.hart.single_step = True
        for _ in range(50):
            assert r.run(100) == core.EXIT_DEBUG
        r.hart.single_step = False
        r.hart.set_breakpoint(RAM_BASE + 0x10)
        assert r.run(100_000) == core.EXIT_DEBUG
        assert r.hart.pc == RAM_BASE + 0x10
    same_state(a, b)
    assert jit_insns(a) == before


# ------------------------------------------------------------ differential runs of guests


def _difftest_programs() -> list[tuple[Path, str]]:
    out = build("difftest", quiet=True)
    programs = json.loads((out / "programs.json").read_text())
    return [(out / f"{p['name']}.elf", p["name"]) for p in programs]


@pytest.mark.slow
def test_difftest_programs_run_the_same_translated_and_interpreted() -> None:
    translated = 0
    # every third program (each console character is an exit compared in full)
    for i, (elf, _name) in enumerate(_difftest_programs()[::3]):
        result = lockstep(elf, seed=i, max_slice=2001)
        assert result.exit_code == 0 and result.console.endswith(b"end\n")
        translated += result.jit_insns
    assert translated > 0


@pytest.mark.slow
def test_bench_guest_runs_the_same_translated_and_interpreted() -> None:
    elf = build("bench", quiet=True) / "bench.elf"
    result = lockstep(elf, seed=7, max_slice=20_001, patch={"bench_iterations": 40})
    assert result.exit_code == 0
    assert b"checksum" in result.console
    assert result.jit_insns > result.instret // 2


def test_a_core_built_without_the_translator_interprets(tmp_path: Path) -> None:
    """Hosts other than x86-64 build the interpreter only (jit.c's other half,
    also selected by -DAVMM_NO_JIT): it compiles without warnings and runs."""
    import shutil
    import subprocess

    if shutil.which("gcc") is None:
        pytest.fail("gcc is required")
    core_dir = Path(__file__).resolve().parents[2] / "avmm" / "core"
    exe = tmp_path / "fuzz_nojit"
    sources = [str(p) for p in sorted(core_dir.glob("*.c")) if p.name != "module.c"]
    cmd = ["gcc", "-std=gnu11", "-O1", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror",
           "-Wno-unused-parameter", "-DAVMM_NO_JIT", f"-I{core_dir}",
           str(Path(__file__).with_name("fuzz_core.c")), *sources, "-o", str(exe)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    run = subprocess.run([str(exe), "7", "200", "2"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    words = run.stdout.split()
    assert int(words[words.index("instructions") + 1]) > 0
    assert int(words[words.index("translated") + 1]) == 0


@pytest.mark.slow
def test_a_full_cache_is_flushed_and_translation_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # AVMM_JIT_CODE_SIZE shrinks the cache (to its minimum here, about 60 KiB):
    # the CoreMark-class guest needs more, so the cache fills and is flushed
    # while blocks are linked to each other
    monkeypatch.setenv("AVMM_JIT_CODE_SIZE", "1")
    elf = build("mark", quiet=True) / "mark.elf"
    result = lockstep(elf, seed=3, max_slice=30_001, patch={"mark_iterations": 3})
    assert result.exit_code == 0 and b"PASS" in result.console
    assert result.jit_insns > result.instret // 2
    m = core.Machine()
    assert m.jit_stats()["flushes"]["full"] == 0  # a new machine starts empty


@pytest.mark.slow
def test_full_flushes_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVMM_JIT_CODE_SIZE", "1")
    elf = build("mark", quiet=True) / "mark.elf"
    from jitdiff import _side

    side = _side(elf, True, {"mark_iterations": 2}, 64 << 20)
    while side.exit_code is None:
        reason = side.hart.run(50_000, side.tlb)
        if reason == core.EXIT_HTIF:
            from jitdiff import _htif

            _htif(side)
    stats = side.machine.jit_stats()
    assert stats["flushes"]["full"] >= 1
    assert stats["code_size"] < 1 << 20 and stats["code_bytes"] <= stats["code_size"]


def test_code_runs_from_a_dual_mapping_where_rwx_is_refused(
    rig: RigFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kernels that refuse writable+executable memory get one memfd mapped
    # twice (written through one view, run from the other); forced here
    monkeypatch.setenv("AVMM_JIT_DUAL_MAP", "1")
    a, b = both(rig, LOOP)
    a.run(200_000)
    b.run(200_000)
    same_state(a, b)
    assert jit_insns(a) > 0.9 * a.hart.instret
    assert a.machine.jit_stats()["chain_links"] >= 1  # patched through the writable view


def test_code_and_data_in_one_page_end_up_interpreted(rig: RigFactory) -> None:
    # the loop stores into its own page every iteration: after 16 drops in a
    # row the page stays interpreted instead of being translated again and again
    src = """
        la t0, 9f
        li a1, 2000
    1:  addi a0, a0, 1
        sd a0, 0(t0)
        addi a1, a1, -1
        bnez a1, 1b
        j .
        .balign 8
    9:  .dword 0
    """
    a, b = both(rig, src)
    a.run(20_000)
    b.run(20_000)
    same_state(a, b)
    assert a.x(10) == 2000 and a.read64(a.x(5)) == 2000  # t0: the data word
    assert 16 <= a.machine.jit_stats()["flushes"]["smc"] <= 20


# ------------------------------------------------------------ F/D inline

FD_VALUES = [
    "0x3ff8000000000000",  # 1.5
    "0xc002000000000000",  # -2.25
    "0x000000000000dead",  # subnormal
    "0x7ff8000000000000",  # quiet NaN
    "0x7ff0000000000001",  # signalling NaN
    "0x7ff0000000000000",  # infinity
    "0x8000000000000000",  # -0
    "0x0000000000000000",  # +0
    "0x7e37e43c8800759c",  # 1e300
    "0x01a56e1fc2f8f359",  # 1e-300
    "0x4008000000000000",  # 3
    "0x7fefffffffffffff",  # the largest double
    "0xc01e000000000000",  # -7.5
    "0x0170000000000000",  # 2^-1000 (exponent field 23)
    "0x1ec16f38ba5e6d44",  # 1e-160 (exponent field 492)
    "0x40fe240c9fbe76c9",  # 123456.789
]

FD_LOOP = f"""
.option norvc
    li t0, 1 << 13
    csrs mstatus, t0
    la t0, handler
    csrw mtvec, t0
    li s0, 3000
    la s1, vals
    li s2, 0
    li s3, 0
    li s4, 0
1:  andi t0, s2, 15
    slli t0, t0, 3
    add t0, t0, s1
    fld fa0, 0(t0)
    slli t1, s2, 1
    add t1, t1, s2
    addi t1, t1, 5
    andi t1, t1, 15
    slli t1, t1, 3
    add t1, t1, s1
    fld fa1, 0(t1)
    slli t2, s2, 2
    add t2, t2, s2
    addi t2, t2, 1
    andi t2, t2, 15
    slli t2, t2, 3
    add t2, t2, s1
    fld fa2, 0(t2)
    li t3, -12345
    mul t3, t3, s2
    fadd.d fa3, fa0, fa1
    fsub.d fa4, fa0, fa2
    fmul.d fa5, fa1, fa2
    fdiv.d fa6, fa0, fa1
    fmadd.d fa7, fa0, fa1, fa2
    fmsub.d ft0, fa0, fa1, fa2
    fnmadd.d ft1, fa1, fa2, fa0
    fnmsub.d ft2, fa2, fa0, fa1
    fadd.d ft3, fa0, fa1, rtz
    fmul.d ft4, fa0, fa2, rne
    fcvt.d.w ft5, t3
    fcvt.d.wu ft6, t3
    .word 0xd2090353         # fcvt.d.w ft7, s2 with rm = rne (binutils gives dyn)
    fsgnj.d ft8, fa0, fa1
    fsgnjn.d ft9, fa1, fa2
    fsgnjx.d ft10, fa2, fa0
    fneg.d ft11, fa1
    fmul.d fs0, fa0, fa0     # overflows from 1e300, underflows from 1e-160
    fadd.d fs1, fa0, fa0     # overflows from the largest double
    fmv.x.d t4, fa3
    xor s3, s3, t4
    fmv.x.d t4, fa4
    add s3, s3, t4
    fmv.x.d t4, fa5
    xor s3, s3, t4
    fmv.x.d t4, fa6
    add s3, s3, t4
    fmv.x.d t4, fa7
    xor s3, s3, t4
    fmv.x.d t4, ft0
    add s3, s3, t4
    fmv.x.d t4, ft1
    xor s3, s3, t4
    fmv.x.d t4, ft2
    add s3, s3, t4
    fmv.x.d t4, ft3
    xor s3, s3, t4
    fmv.x.d t4, ft4
    add s3, s3, t4
    fmv.x.d t4, ft5
    xor s3, s3, t4
    fmv.x.d t4, ft6
    add s3, s3, t4
    fmv.x.d t4, ft7
    xor s3, s3, t4
    fmv.x.d t4, ft8
    add s3, s3, t4
    fmv.x.d t4, ft9
    xor s3, s3, t4
    fmv.x.d t4, ft10
    add s3, s3, t4
    fmv.x.d t4, ft11
    xor s3, s3, t4
    fmv.x.d t4, fs0
    add s3, s3, t4
    fmv.x.d t4, fs1
    xor s3, s3, t4
    andi t5, s2, 63
    bnez t5, 2f
    csrr t5, fflags
    add s3, s3, t5
    csrw fflags, zero
    srli t6, s2, 6
    andi t6, t6, 7
    fsrm t6                  # 5, 6 and 7 are invalid: dynamic-rounding ops trap
2:  addi s2, s2, 1
    bne s2, s0, 1b
    csrr t5, fflags
    j .
handler:
    addi s4, s4, 1
    csrr a6, mepc
    addi a6, a6, 4
    csrw mepc, a6
    mret
.align 3
vals:
    .dword {", ".join(FD_VALUES)}
"""


@pytest.mark.parametrize("slice_", [7, 64, 1000, 100_000])
def test_fd_operations_translated_inline_match_the_interpreter(
    rig: RigFactory, slice_: int
) -> None:
    """F/D arithmetic, fused multiply-add, conversions from 32-bit integers and
    sign injection run inline in translated code where the host gives
    softfloat's answer and call softfloat otherwise: NaNs (quiet and
    signalling), infinities, zeros, subnormals and extreme exponents, NX clear
    and set, every rounding mode static and dynamic, and invalid dynamic modes
    (illegal instruction, trapped and skipped) give the interpreter's state."""
    a, b = both(rig, FD_LOOP)
    for _ in range(3_000_000 // slice_):
        assert a.run(slice_) == b.run(slice_)
        assert (a.hart.pc, a.hart.instret) == (b.hart.pc, b.hart.instret)
        if a.x(18) == 3000:  # s2: the loop is done
            break
    same_state(a, b)
    assert a.x(18) == 3000
    assert a.x(20) > 0  # s4: invalid dynamic rounding modes trapped
    assert slice_ < 1000 or jit_insns(a) > a.hart.instret // 2  # long blocks need long slices


CACHED = """
    li t0, 1 << 13
    csrs mstatus, t0
    li a1, 3000
    li a3, 7
1:  fcvt.d.w fa0, a1
    fcvt.l.d a2, fa0, rtz    # the C helper writes a2 in the hart structure
    add a3, a3, a2
    xor a3, a3, a2
    lui a2, 5                # an immediate into a register read below
    add a3, a3, a2
    addi a4, a2, 1
    div a5, a3, a1           # a C call in the middle of the block
    add a3, a3, a5
    sub a3, a3, a4
    add a3, a3, a1
    li a2, -3
    mul a3, a3, a2
    addi a1, a1, -1
    bnez a1, 1b
    j .
"""


@pytest.mark.parametrize("slice_", [5, 19, 100_000])
def test_registers_cached_in_host_registers_stay_exact(rig: RigFactory, slice_: int) -> None:
    """A block keeps its most read guest registers in host registers: writes
    by C helpers, immediates and results in the middle of a block, and calls
    that clobber host registers, are all seen by the instructions after them."""
    a, b = both(rig, CACHED)
    for _ in range(500_000 // slice_):
        assert a.run(slice_) == b.run(slice_)
        assert (a.hart.pc, a.hart.instret) == (b.hart.pc, b.hart.instret)
    same_state(a, b)
    assert a.x(11) == 0  # a1: the loop ran to its end
    assert slice_ < 1000 or jit_insns(a) > a.hart.instret // 2
