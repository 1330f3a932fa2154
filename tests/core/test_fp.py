"""F and D as the guest sees them: FS tracking, NaN-boxing, rounding modes, flags."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from corerig import RAM_BASE, RigFactory

from avmm import _core as core

FS_INITIAL = 1 << 13
FS_DIRTY = 3 << 13
SD = 1 << 63
MSTATUS = core.CSRS["mstatus"]
TRAP = """
.org 0x100
    csrr a5, mcause
    csrr a6, mtval
    j .
"""


def f64(x: float) -> int:
    return int.from_bytes(struct.pack("<d", x), "little")


def f32(x: float) -> int:
    return int.from_bytes(struct.pack("<f", x), "little")


def boxed(x: float) -> int:
    return 0xFFFF_FFFF_0000_0000 | f32(x)


def fp_rig(rig: RigFactory, body: str, fs: int = FS_INITIAL):  # type: ignore[no-untyped-def]
    r = rig(body + "\nj .\n" + TRAP)
    r.hart.set_csr(core.CSRS["mtvec"], RAM_BASE + 0x100)
    r.hart.set_csr(MSTATUS, fs)
    return r


def test_fp_off_makes_fp_instructions_and_csrs_illegal(rig: RigFactory) -> None:
    for body in ("fadd.d fa0, fa1, fa2", "frflags a0", "fld fa0, 0(sp)", "fmv.x.d a0, fa0"):
        r = fp_rig(rig, body, fs=0)
        r.run(5)
        assert r.x(15) == 2, body


def test_fp_writes_set_fs_dirty_and_sd(rig: RigFactory) -> None:
    r = fp_rig(rig, "fmv.d.x fa0, zero")
    r.run(1)
    st = r.hart.get_csr(MSTATUS)
    assert st & FS_DIRTY == FS_DIRTY
    assert st & SD
    assert r.hart.get_csr(core.CSRS["sstatus"]) & SD


def test_improperly_boxed_single_reads_as_canonical_nan(rig: RigFactory) -> None:
    r = fp_rig(rig, "fadd.s fa0, fa1, fa2\nfmv.x.w a0, fa1\nfsgnj.s fa3, fa1, fa1")
    r.hart.set_f(11, f32(1.0))  # upper half not all ones
    r.hart.set_f(12, boxed(2.0))
    r.run(3)
    assert r.hart.get_f(10) == 0xFFFF_FFFF_7FC0_0000
    assert r.x(10) == f32(1.0)  # fmv.x.w moves the raw low bits
    assert r.hart.get_f(13) == 0xFFFF_FFFF_7FC0_0000


def test_double_arithmetic_and_flags(rig: RigFactory) -> None:
    r = fp_rig(rig, "fdiv.d fa0, fa1, fa2\nfrflags a0\nfdiv.d fa3, fa1, fa4\nfrflags a1")
    r.hart.set_f(11, f64(1.0))
    r.hart.set_f(12, f64(3.0))
    r.hart.set_f(14, f64(0.0))
    r.run(4)
    assert r.hart.get_f(10) == f64(1.0 / 3.0)
    assert r.x(10) == 1  # NX
    assert r.hart.get_f(13) == f64(float("inf"))
    assert r.x(11) == 1 | 8  # NX | DZ accumulated


@pytest.mark.parametrize(
    ("rm", "expected"),
    [(0, 2), (1, 2), (2, 2), (3, 3), (4, 3)],
)
def test_static_rounding_modes_in_conversions(rig: RigFactory, rm: int, expected: int) -> None:
    names = ["rne", "rtz", "rdn", "rup", "rmm"]
    r = fp_rig(rig, f"fcvt.l.d a0, fa0, {names[rm]}")
    r.hart.set_f(10, f64(2.5))
    r.run(1)
    assert r.x(10) == expected


def test_dynamic_rounding_mode_and_invalid_frm(rig: RigFactory) -> None:
    r = fp_rig(rig, "fsrmi 3\nfcvt.l.d a0, fa0\nfsrmi 5\nfcvt.l.d a1, fa0")
    r.hart.set_f(10, f64(2.25))
    r.run(10)
    assert r.x(10) == 3  # dynamic: round up
    assert r.x(15) == 2  # frm = 5 is invalid: illegal instruction
    assert r.x(16) == 0xC22575D3  # fcvt.l.d a1, fa0 (dyn)


def test_conversions_saturate(rig: RigFactory) -> None:
    r = fp_rig(rig, "fcvt.w.d a0, fa0, rtz\nfcvt.wu.d a1, fa1, rtz\nfcvt.l.d a2, fa2, rtz")
    r.hart.set_f(10, f64(1e20))
    r.hart.set_f(11, f64(-5.0))
    r.hart.set_f(12, 0x7FF8_0000_0000_0000)  # NaN
    r.run(3)
    assert r.x(10) == 0x7FFF_FFFF
    assert r.x(11) == 0
    assert r.x(12) == 0x7FFF_FFFF_FFFF_FFFF
    assert r.hart.get_csr(core.CSRS["fflags"]) == 16


def test_fmin_fmax_fclass_and_compare(rig: RigFactory) -> None:
    r = fp_rig(
        rig,
        "fmin.d fa3, fa0, fa1\nfmax.d fa4, fa0, fa2\nfclass.d a0, fa2\nflt.d a1, fa0, fa1\n"
        "feq.d a2, fa0, fa2",
    )
    r.hart.set_f(10, f64(-0.0))
    r.hart.set_f(11, f64(0.0))
    r.hart.set_f(12, 0x7FF0_0000_0000_0001)  # signalling NaN
    r.run(5)
    assert r.hart.get_f(13) == f64(-0.0)
    assert r.hart.get_f(14) == f64(-0.0)  # max(x, sNaN) = x
    assert r.x(10) == 1 << 8  # sNaN class
    assert r.x(11) == 0  # -0 < +0 is false
    assert r.x(12) == 0
    assert r.hart.get_csr(core.CSRS["fflags"]) == 16  # NV from the sNaN


def test_fused_multiply_add_rounds_once(rig: RigFactory) -> None:
    r = fp_rig(rig, "fmadd.d fa3, fa0, fa1, fa2\nfnmadd.d fa4, fa0, fa1, fa2")
    a = 1.0 + 2.0**-30
    r.hart.set_f(10, f64(a))
    r.hart.set_f(11, f64(a))
    r.hart.set_f(12, f64(-(1.0 + 2.0**-29)))
    r.run(2)
    # a*a - (1 + 2**-29) = 2**-60 exactly; a separate multiply would round it away
    assert r.hart.get_f(13) == f64(2.0**-60)
    assert r.hart.get_f(14) == f64(-(2.0**-60))


def test_fp_loads_nan_box_and_stores_raw_bits(rig: RigFactory) -> None:
    data = RAM_BASE + 0x8000
    r = fp_rig(rig, f"li t0, {data:#x}\nflw fa0, 0(t0)\nfsd fa0, 8(t0)\nfsw fa0, 16(t0)")
    r.machine.write_phys(data, struct.pack("<f", 1.5))
    r.run(20)
    assert r.hart.get_f(10) == boxed(1.5)
    assert r.machine.read_phys(data + 8, 8) == boxed(1.5).to_bytes(8, "little")
    assert r.machine.read_phys(data + 16, 4) == struct.pack("<f", 1.5)


def test_fp_mmio_load_is_nan_boxed(rig: RigFactory) -> None:
    r = fp_rig(rig, "li t0, 0x10000000\nflw fa0, 0(t0)")
    assert r.run(5) == core.EXIT_MMIO_READ
    r.hart.complete_mmio_read(f32(2.0))
    assert r.hart.get_f(10) == boxed(2.0)


def test_translator_fast_fp_paths_match_softfloat(tmp_path: Path) -> None:
    """jit.c computes add/sub/mul/div/fma on the host FPU where that is provably
    the IEEE result; fastfp_check.c compares every such answer with softfloat,
    with fflags' NX clear (the inexact test runs) and set (it is skipped)."""
    import subprocess

    core = Path(__file__).resolve().parents[2] / "avmm" / "core"
    exe = tmp_path / "fastfp_check"
    sources = [str(p) for p in sorted(core.glob("*.c")) if p.name not in ("module.c", "jit.c")]
    cmd = ["gcc", "-std=gnu11", "-O2", "-ffp-contract=off", f"-I{core}",
           str(Path(__file__).with_name("fastfp_check.c")), *sources, "-o", str(exe)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    run = subprocess.run([str(exe), "2000000"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    words = run.stdout.split()
    assert int(words[words.index("bad") + 1]) == 0
    assert int(words[words.index("fma_fast") + 1]) > 1_000_000  # the fast path was taken
    assert int(words[words.index("fma_fast_nx") + 1]) > 1_000_000  # and with NX already set
