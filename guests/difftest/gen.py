"""Generate differential-test programs: random (seeded) and directed FP ones.

A program is an assembly file that defines ``difftest_body`` (called by
``main.c``) and its data. The body loads a random initial state (x and f
registers, fcsr, a 1 KiB scratch buffer), runs the generated instructions
and stores every register and fcsr into the signature; ``main.c`` prints
the signature, the scratch buffer and the directed results as hex lines.

Nothing a program does may trap and nothing may depend on timing, so both
QEMU and avmm must print the same signature.

Registers: ``s0`` (x8) points at the scratch buffer and ``sp`` (x2) at its
middle; neither is ever written by generated code (they are the bases for
the compressed loads and stores).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Sequence

import attrs

SCRATCH = 1024  # bytes
SP_OFFSET = 512  # sp = scratch + SP_OFFSET
SIG_X, SIG_F, SIG_FCSR = SCRATCH, SCRATCH + 256, SCRATCH + 512  # signature, from scratch

# Where the body runs: M-mode without translation, or S / U-mode under an
# identity map (4 KiB pages over the image, 2 MiB pages elsewhere).
MODES: dict[str, tuple[tuple[str, int], ...]] = {
    "M": (),
    "S-sv39": (("DIFFTEST_PRIV", 1), ("DIFFTEST_LEVELS", 3)),
    "U-sv39": (("DIFFTEST_PRIV", 0), ("DIFFTEST_LEVELS", 3)),
    "S-sv48": (("DIFFTEST_PRIV", 1), ("DIFFTEST_LEVELS", 4)),
    "U-sv48": (("DIFFTEST_PRIV", 0), ("DIFFTEST_LEVELS", 4)),
}

CATEGORIES = ("int", "mem", "muldiv", "amo", "fp_s", "fp_d", "fcvt", "compressed", "mixed")

# Registers generated code may write: all but x0, sp (x2) and s0 (x8).
WRITABLE = tuple(i for i in range(1, 32) if i not in (2, 8))
ROUNDING = ("rne", "rtz", "rdn", "rup", "rmm", "dyn")
ABI = [
    "zero",
    "ra",
    "sp",
    "gp",
    "tp",
    "t0",
    "t1",
    "t2",
    "s0",
    "s1",
    "a0",
    "a1",
    "a2",
    "a3",
    "a4",
    "a5",
    "a6",
    "a7",
    "s2",
    "s3",
    "s4",
    "s5",
    "s6",
    "s7",
    "s8",
    "s9",
    "s10",
    "s11",
    "t3",
    "t4",
    "t5",
    "t6",
]


@attrs.frozen
class Program:
    """One generated program: its assembly and what its directed results mean."""

    name: str
    category: str
    seed: int | None
    asm: str
    # For directed programs: a description of each result entry, in order.
    entries: tuple[str, ...] = ()
    mode: str = "M"  # see MODES

    def defines(self) -> dict[str, str | int]:
        """The -D options of main.c for this program's mode."""
        return dict(MODES[self.mode])


# ---------------------------------------------------------------- values
def _f32(x: float) -> int:
    return int(struct.unpack("<I", struct.pack("<f", x))[0])


def _f64(x: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", x))[0])


SPECIAL_S = (
    0x00000000,  # +0
    0x80000000,  # -0
    0x00000001,  # min subnormal
    0x807FFFFF,  # -max subnormal
    0x00800000,  # min normal
    0x3F800000,  # 1
    0xBF800000,  # -1
    0x3EAAAAAB,  # 1/3
    0x7F7FFFFF,  # max
    0xFF7FFFFF,  # -max
    0x7F800000,  # +inf
    0xFF800000,  # -inf
    0x7FC00000,  # canonical qNaN
    0xFFC12345,  # qNaN with payload
    0x7F800001,  # sNaN
    0x7FBFFFFF,  # sNaN
    0x4F000000,  # 2^31
    0xCF000000,  # -2^31
    0x5F000000,  # 2^63
    0x4B800001,  # 2^24 + 2 (integer-valued)
    0x3F000000,  # 0.5
    0x40200000,  # 2.5
)
SPECIAL_D = (
    0x0000000000000000,
    0x8000000000000000,
    0x0000000000000001,
    0x800FFFFFFFFFFFFF,
    0x0010000000000000,
    0x3FF0000000000000,
    0xBFF0000000000000,
    0x3FD5555555555555,
    0x7FEFFFFFFFFFFFFF,
    0xFFEFFFFFFFFFFFFF,
    0x7FF0000000000000,
    0xFFF0000000000000,
    0x7FF8000000000000,
    0xFFF8000000012345,
    0x7FF0000000000001,
    0x7FF7FFFFFFFFFFFF,
    0x41E0000000000000,  # 2^31
    0xC1E0000000000000,
    0x43E0000000000000,  # 2^63
    0x43F0000000000000,  # 2^64
    0x4340000000000001,  # 2^53 + 2
    0x3FE0000000000000,
    0x4004000000000000,  # 2.5
    0x36A0000000000000,  # 2^-149
)
SPECIAL_X = (
    0,
    1,
    2**64 - 1,
    2**63,
    2**63 - 1,
    2**31,
    2**31 - 1,
    2**32 - 1,
    0xFFFFFFFF80000000,
    2**53 + 1,
    0xFFFFFFFFFF000001,
    0x8000000000000001,
)


def _box(x: int) -> int:
    return 0xFFFFFFFF00000000 | x


class _Gen:
    """Random choices for one program."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: list[str] = []
        self.label = 0

    # ------------------------------------------------------------ operands
    def xr(self) -> str:
        return ABI[self.rng.choice(WRITABLE)]

    def xs(self) -> str:
        return ABI[self.rng.randrange(32)]

    def fr(self) -> str:
        return f"f{self.rng.randrange(32)}"

    def rm(self) -> str:
        return self.rng.choice(ROUNDING)

    def simm(self, bits: int) -> int:
        return self.rng.randrange(-(1 << (bits - 1)), 1 << (bits - 1))

    def xval(self) -> int:
        r = self.rng.random()
        if r < 0.35:
            return self.rng.choice(SPECIAL_X)
        if r < 0.5:
            return self.rng.randrange(-64, 64) & (2**64 - 1)
        return self.rng.getrandbits(64)

    def fval_d(self) -> int:
        """A double: special or random, of any magnitude."""
        if self.rng.random() < 0.3:
            return self.rng.choice(SPECIAL_D)
        scale = self.rng.choice((1.0, 1e-300, 1e300, 1e-310))
        return _f64(self.rng.uniform(-1e6, 1e6) * scale)

    def fval_s(self) -> int:
        """A NaN-boxed single (rarely an unboxed one)."""
        r = self.rng.random()
        if r < 0.35:
            return _box(self.rng.choice(SPECIAL_S))
        if r < 0.4:
            return self.rng.getrandbits(31) << 32 | self.rng.choice(SPECIAL_S)
        scale = self.rng.choice((1.0, 1e-30, 1e30, 1e-40))
        return _box(_f32(max(-3e38, min(3e38, self.rng.uniform(-1e4, 1e4) * scale))))

    def fval(self) -> int:
        r = self.rng.random()
        if r < 0.3:
            return self.rng.choice(SPECIAL_D)
        if r < 0.6:
            return _box(self.rng.choice(SPECIAL_S))
        if r < 0.65:  # a single that is not NaN-boxed
            return (self.rng.getrandbits(32) << 32 | self.rng.choice(SPECIAL_S)) & (
                0xFFFFFFFE_FFFFFFFF
            )
        if r < 0.8:
            return _box(_f32(self.rng.uniform(-1e6, 1e6)))
        return _f64(self.rng.uniform(-1e12, 1e12) * self.rng.choice((1.0, 1e-300, 1e300)))

    def new_label(self) -> str:
        self.label += 1
        return f".L{self.label}"

    def emit(self, line: str) -> None:
        self.lines.append("\t" + line)

    # ------------------------------------------------------------ memory
    def mem_operand(self, size: int, aligned: bool = False) -> str:
        if self.rng.random() < 0.5:
            off = self.rng.randrange(0, SCRATCH - size + 1)
            if aligned:
                off -= off % size
            return f"{off}(s0)"
        off = self.rng.randrange(-SP_OFFSET, SCRATCH - SP_OFFSET - size + 1)
        if aligned:
            off -= off % size
        return f"{off}(sp)"


# ---------------------------------------------------------------- instruction kinds
def _alu(g: _Gen) -> None:
    r = g.rng.random()
    if r < 0.45:
        op = g.rng.choice(
            [
                "add",
                "sub",
                "sll",
                "slt",
                "sltu",
                "xor",
                "srl",
                "sra",
                "or",
                "and",
                "addw",
                "subw",
                "sllw",
                "srlw",
                "sraw",
            ]
        )
        g.emit(f"{op} {g.xr()}, {g.xs()}, {g.xs()}")
    elif r < 0.75:
        op = g.rng.choice(["addi", "slti", "sltiu", "xori", "ori", "andi", "addiw"])
        g.emit(f"{op} {g.xr()}, {g.xs()}, {g.simm(12)}")
    elif r < 0.9:
        op, top = g.rng.choice(
            (("slli", 64), ("srli", 64), ("srai", 64), ("slliw", 32), ("srliw", 32), ("sraiw", 32))
        )
        g.emit(f"{op} {g.xr()}, {g.xs()}, {g.rng.randrange(top)}")
    else:
        op = g.rng.choice(("lui", "auipc"))
        g.emit(f"{op} {g.xr()}, {g.rng.randrange(1 << 20)}")


def _muldiv(g: _Gen) -> None:
    op = g.rng.choice(
        [
            "mul",
            "mulh",
            "mulhsu",
            "mulhu",
            "div",
            "divu",
            "rem",
            "remu",
            "mulw",
            "divw",
            "divuw",
            "remw",
            "remuw",
        ]
    )
    g.emit(f"{op} {g.xr()}, {g.xs()}, {g.xs()}")


def _load_store(g: _Gen) -> None:
    r = g.rng.random()
    if r < 0.4:
        op, size = g.rng.choice(
            (("lb", 1), ("lbu", 1), ("lh", 2), ("lhu", 2), ("lw", 4), ("lwu", 4), ("ld", 8))
        )
        g.emit(f"{op} {g.xr()}, {g.mem_operand(size)}")
    elif r < 0.8:
        op, size = g.rng.choice((("sb", 1), ("sh", 2), ("sw", 4), ("sd", 8)))
        g.emit(f"{op} {g.xs()}, {g.mem_operand(size)}")
    else:
        op, size = g.rng.choice((("flw", 4), ("fld", 8), ("fsw", 4), ("fsd", 8)))
        g.emit(f"{op} {g.fr()}, {g.mem_operand(size, aligned=g.rng.random() < 0.5)}")


def _amo(g: _Gen) -> None:
    width = g.rng.choice(("w", "d"))
    size = 4 if width == "w" else 8
    off = g.rng.randrange(0, SCRATCH // size) * size
    addr = g.xr()
    g.emit(f"addi {addr}, s0, {off}")
    order = g.rng.choice(("", ".aq", ".rl", ".aqrl"))
    if g.rng.random() < 0.6:
        op = g.rng.choice(["swap", "add", "xor", "and", "or", "min", "max", "minu", "maxu"])
        g.emit(f"amo{op}.{width}{order} {g.xr()}, {g.xs()}, ({addr})")
        return
    # LR/SC: the address register survives until the SC
    rd = g.xr()
    while rd == addr:
        rd = g.xr()
    g.emit(f"lr.{width}{order} {rd}, ({addr})")
    for _ in range(g.rng.randrange(4)):
        dst = g.xr()
        while dst == addr:
            dst = g.xr()
        g.emit(f"add {dst}, {g.xs()}, {g.xs()}")
    g.emit(f"sc.{width}{order} {g.xr()}, {g.xs()}, ({addr})")
    if g.rng.random() < 0.3:  # no reservation left
        g.emit(f"sc.{width} {g.xr()}, {g.xs()}, ({addr})")


def _branch(g: _Gen, body: Callable[[_Gen], None]) -> None:
    """A forward branch or jump over a few instructions."""
    label = g.new_label()
    kind = g.rng.random()
    if kind < 0.6:
        op = g.rng.choice(["beq", "bne", "blt", "bge", "bltu", "bgeu"])
        g.emit(f"{op} {g.xs()}, {g.xs()}, {label}")
    elif kind < 0.8:
        g.emit(f"jal {g.xr()}, {label}")
    else:
        tmp = g.xr()
        g.emit(f"lla {tmp}, {label}")
        g.emit(f"jalr {g.xr()}, 0({tmp})")
    for _ in range(g.rng.randrange(1, 4)):
        body(g)
    g.lines.append(f"{label}:")


def _fp_arith(g: _Gen, fmt: str) -> None:
    r = g.rng.random()
    if r < 0.35:
        op = g.rng.choice(("fadd", "fsub", "fmul", "fdiv"))
        g.emit(f"{op}.{fmt} {g.fr()}, {g.fr()}, {g.fr()}, {g.rm()}")
    elif r < 0.45:
        g.emit(f"fsqrt.{fmt} {g.fr()}, {g.fr()}, {g.rm()}")
    elif r < 0.6:
        op = g.rng.choice(("fmadd", "fmsub", "fnmsub", "fnmadd"))
        g.emit(f"{op}.{fmt} {g.fr()}, {g.fr()}, {g.fr()}, {g.fr()}, {g.rm()}")
    elif r < 0.7:
        op = g.rng.choice(("fmin", "fmax", "fsgnj", "fsgnjn", "fsgnjx"))
        g.emit(f"{op}.{fmt} {g.fr()}, {g.fr()}, {g.fr()}")
    elif r < 0.8:
        op = g.rng.choice(("feq", "flt", "fle"))
        g.emit(f"{op}.{fmt} {g.xr()}, {g.fr()}, {g.fr()}")
    elif r < 0.85:
        g.emit(f"fclass.{fmt} {g.xr()}, {g.fr()}")
    elif r < 0.93:
        if fmt == "s":
            g.emit(g.rng.choice((f"fmv.x.w {g.xr()}, {g.fr()}", f"fmv.w.x {g.fr()}, {g.xs()}")))
        else:
            g.emit(g.rng.choice((f"fmv.x.d {g.xr()}, {g.fr()}", f"fmv.d.x {g.fr()}, {g.xs()}")))
    else:
        _fcsr_op(g)


def _fcsr_op(g: _Gen) -> None:
    r = g.rng.random()
    if r < 0.4:
        g.emit(f"fsrmi {g.xr()}, {g.rng.randrange(5)}")  # only valid modes
    elif r < 0.6:
        g.emit(f"fsflagsi {g.xr()}, {g.rng.randrange(32)}")
    elif r < 0.8:
        g.emit(f"frflags {g.xr()}")
    else:
        g.emit(f"frcsr {g.xr()}")


def _fcvt(g: _Gen) -> None:
    r = g.rng.random()
    fmt = g.rng.choice(("s", "d"))
    ity = g.rng.choice(("w", "wu", "l", "lu"))
    if r < 0.4:
        g.emit(f"fcvt.{ity}.{fmt} {g.xr()}, {g.fr()}, {g.rm()}")
    elif r < 0.75:
        if fmt == "d" and ity in ("w", "wu"):
            g.emit(f"fcvt.d.{ity} {g.fr()}, {g.xs()}")  # exact: no rounding mode
        else:
            g.emit(f"fcvt.{fmt}.{ity} {g.fr()}, {g.xs()}, {g.rm()}")
    elif r < 0.9:
        g.emit(f"fcvt.s.d {g.fr()}, {g.fr()}, {g.rm()}")
    else:
        g.emit(f"fcvt.d.s {g.fr()}, {g.fr()}")


# FP programs keep a pool of fresh operands in the upper half of the scratch
# buffer and record results in the lower half, so NaNs do not take over the
# registers and intermediate results reach the signature.
FP_POOL = SCRATCH // 2


def _fp_step(g: _Gen, arith: Callable[[], None]) -> None:
    r = g.rng.random()
    if r < 0.2:
        op = g.rng.choice(("fld", "flw"))
        g.emit(f"{op} {g.fr()}, {FP_POOL + 8 * g.rng.randrange(FP_POOL // 8)}(s0)")
    elif r < 0.35:
        op, size = g.rng.choice((("fsd", 8), ("fsw", 4)))
        g.emit(f"{op} {g.fr()}, {size * g.rng.randrange(FP_POOL // size)}(s0)")
    else:
        arith()


C_REGS = ("s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5")  # x8..x15
C_WRITABLE = C_REGS[1:]  # not s0


def _compressed(g: _Gen) -> None:
    rng = g.rng
    rd = ABI[rng.choice(WRITABLE)]
    cr = rng.choice(C_WRITABLE)
    kind = rng.randrange(22)
    nz6 = rng.choice([i for i in range(-32, 32) if i != 0])
    if kind == 0:
        g.emit(f"c.li {rd}, {rng.randrange(-32, 32)}")
    elif kind == 1:
        g.emit(f"c.addi {rd}, {nz6}")
    elif kind == 2:
        g.emit(f"c.addiw {rd}, {rng.randrange(-32, 32)}")
    elif kind == 3:
        imm = rng.choice([*range(1, 32), *range(0xFFFE0, 0x100000)])
        lui_rd = rd
        while lui_rd in ("sp",):
            lui_rd = ABI[rng.choice(WRITABLE)]
        g.emit(f"c.lui {lui_rd}, {imm}")
    elif kind == 4:
        g.emit(f"c.slli {rd}, {rng.randrange(1, 64)}")
    elif kind == 5:
        g.emit(f"c.{rng.choice(('srli', 'srai'))} {cr}, {rng.randrange(1, 64)}")
    elif kind == 6:
        g.emit(f"c.andi {cr}, {rng.randrange(-32, 32)}")
    elif kind == 7:
        op = rng.choice(("sub", "xor", "or", "and", "subw", "addw"))
        g.emit(f"c.{op} {cr}, {rng.choice(C_REGS)}")
    elif kind == 8:
        g.emit(f"c.mv {rd}, {ABI[rng.randrange(1, 32)]}")
    elif kind == 9:
        g.emit(f"c.add {rd}, {ABI[rng.randrange(1, 32)]}")
    elif kind == 10:
        g.emit(f"c.addi4spn {cr}, sp, {rng.randrange(1, 256) * 4}")
    elif kind == 11:
        g.emit(f"c.lw {cr}, {rng.randrange(32) * 4}(s0)")
    elif kind == 12:
        g.emit(f"c.ld {cr}, {rng.randrange(32) * 8}(s0)")
    elif kind == 13:
        g.emit(f"c.sw {rng.choice(C_REGS)}, {rng.randrange(32) * 4}(s0)")
    elif kind == 14:
        g.emit(f"c.sd {rng.choice(C_REGS)}, {rng.randrange(32) * 8}(s0)")
    elif kind == 15:
        fr = f"f{rng.randrange(8, 16)}"
        op = rng.choice(("c.fld", "c.fsd"))
        g.emit(f"{op} {fr}, {rng.randrange(32) * 8}(s0)")
    elif kind == 16:
        g.emit(f"c.lwsp {rd}, {rng.randrange(64) * 4}(sp)")
    elif kind == 17:
        g.emit(f"c.ldsp {rd}, {rng.randrange(64) * 8}(sp)")
    elif kind == 18:
        op = rng.choice(("c.swsp", "c.sdsp"))
        scale = 4 if op == "c.swsp" else 8
        g.emit(f"{op} {ABI[rng.randrange(32)]}, {rng.randrange(64) * scale}(sp)")
    elif kind == 19:
        op = rng.choice(("c.fldsp", "c.fsdsp"))
        g.emit(f"{op} {g.fr()}, {rng.randrange(64) * 8}(sp)")
    elif kind == 20:
        label = g.new_label()
        op = rng.choice(("c.beqz", "c.bnez"))
        g.emit(f"{op} {rng.choice(C_REGS)}, {label}")
        for _ in range(rng.randrange(1, 3)):
            g.emit(f"c.addi {rd}, {nz6}")
        g.lines.append(f"{label}:")
    else:
        label = g.new_label()
        tmp = ABI[rng.choice(WRITABLE)]
        r = rng.random()
        if r < 0.4:
            g.emit(f"c.j {label}")
        else:
            g.emit(f"lla {tmp}, {label}")
            g.emit(f"{'c.jr' if r < 0.7 else 'c.jalr'} {tmp}")
        g.emit(f"c.li {rd}, 7")
        g.lines.append(f"{label}:")


def _mixed(g: _Gen) -> None:
    g.rng.choice(_MIXED)(g)


_MIXED: tuple[Callable[[_Gen], None], ...] = (
    _alu,
    _alu,
    _muldiv,
    _load_store,
    _amo,
    lambda g: _fp_arith(g, "s"),
    lambda g: _fp_arith(g, "d"),
    _fcvt,
    _compressed,
    lambda g: _branch(g, _alu),
)

_BODIES: dict[str, Callable[[_Gen], None]] = {
    "int": lambda g: _branch(g, _alu) if g.rng.random() < 0.1 else _alu(g),
    "mem": lambda g: _load_store(g) if g.rng.random() < 0.7 else _alu(g),
    "muldiv": lambda g: _muldiv(g) if g.rng.random() < 0.7 else _alu(g),
    "amo": lambda g: _amo(g) if g.rng.random() < 0.6 else _load_store(g),
    "fp_s": lambda g: _fp_step(g, lambda: _fp_arith(g, "s")),
    "fp_d": lambda g: _fp_step(g, lambda: _fp_arith(g, "d")),
    "fcvt": lambda g: _fp_step(
        g, lambda: _fcvt(g) if g.rng.random() < 0.7 else _fp_arith(g, g.rng.choice("sd"))
    ),
    "compressed": _compressed,
    "mixed": _mixed,
}


# ---------------------------------------------------------------- program text
def _data(label: str, values: Sequence[int], align: int = 8) -> list[str]:
    lines = [f"\t.balign {align}", f"{label}:"]
    lines += [f"\t.dword {v:#018x}" for v in values]
    return lines


_PROLOGUE = (
    """\
/* generated by guests/difftest/gen.py: {name} */
\t.option norelax /* gp holds random values: no gp-relative relaxation */
\t.text
\t.globl difftest_body
difftest_body:
\tla t0, difftest_saved
\tsd ra, 0(t0)
\tsd sp, 8(t0)
\tsd gp, 16(t0)
\tsd tp, 24(t0)
\tsd s0, 32(t0)
\tsd s1, 40(t0)
\tsd s2, 48(t0)
\tsd s3, 56(t0)
\tsd s4, 64(t0)
\tsd s5, 72(t0)
\tsd s6, 80(t0)
\tsd s7, 88(t0)
\tsd s8, 96(t0)
\tsd s9, 104(t0)
\tsd s10, 112(t0)
\tsd s11, 120(t0)
\tla t0, difftest_init_f
"""
    + "".join(f"\tfld f{i}, {8 * i}(t0)\n" for i in range(32))
    + """\
\tla t0, difftest_init_fcsr
\tld t0, 0(t0)
\tfscsr t0
\tla t6, difftest_init_x
"""
    + "".join(f"\tld {ABI[i]}, {8 * i}(t6)\n" for i in range(1, 31) if i not in (2, 8))
    + """\
\tla s0, difftest_scratch
\taddi sp, s0, {sp_offset}
\tld t6, 248(t6)
\t.option push
\t.option rvc
"""
)

_EPILOGUE = (
    """\
\t.option pop
"""
    # The signature follows the scratch buffer: s0 (never written) is the base.
    + "".join(f"\tsd {ABI[i]}, {SIG_X + 8 * i}(s0)\n" for i in range(1, 32))
    + "".join(f"\tfsd f{i}, {SIG_F + 8 * i}(s0)\n" for i in range(32))
    + f"\tfrcsr t5\n\tsd t5, {SIG_FCSR}(s0)\n"
    + """\
\tfscsr zero
\tla t0, difftest_saved
\tld ra, 0(t0)
\tld sp, 8(t0)
\tld gp, 16(t0)
\tld tp, 24(t0)
\tld s0, 32(t0)
\tld s1, 40(t0)
\tld s2, 48(t0)
\tld s3, 56(t0)
\tld s4, 64(t0)
\tld s5, 72(t0)
\tld s6, 80(t0)
\tld s7, 88(t0)
\tld s8, 96(t0)
\tld s9, 104(t0)
\tld s10, 112(t0)
\tld s11, 120(t0)
\tret
"""
)


def _assemble(
    name: str,
    body: list[str],
    init_x: Sequence[int],
    init_f: Sequence[int],
    fcsr: int,
    scratch: bytes,
    results: int = 0,
    extra_data: Sequence[str] = (),
) -> str:
    lines = [_PROLOGUE.format(name=name, sp_offset=SP_OFFSET), *body, _EPILOGUE, "\t.data"]
    lines += _data("difftest_init_x", init_x)
    lines += _data("difftest_init_f", init_f)
    lines += _data("difftest_init_fcsr", [fcsr])
    lines += ["\t.balign 64", "\t.globl difftest_scratch", "difftest_scratch:"]
    for i in range(0, len(scratch), 16):
        lines.append("\t.byte " + ", ".join(str(b) for b in scratch[i : i + 16]))
    lines += ["\t.globl difftest_sig_x", "difftest_sig_x:", "\t.space 256"]
    lines += ["\t.globl difftest_sig_f", "difftest_sig_f:", "\t.space 256"]
    lines += ["\t.globl difftest_sig_fcsr", "difftest_sig_fcsr:", "\t.space 8"]
    lines += ["\t.globl difftest_results_count", "\t.balign 8", "difftest_results_count:"]
    lines += [f"\t.dword {results}"]
    lines += list(extra_data)
    lines += ["\t.bss", "\t.balign 8"]
    lines += ["difftest_saved:", "\t.space 128"]
    lines += ["\t.globl difftest_results", "\t.balign 16", "difftest_results:"]
    lines += [f"\t.space {max(16, 16 * results)}"]
    return "\n".join(lines) + "\n"


def random_program(category: str, seed: int, length: int = 300, mode: str = "M") -> Program:
    """A random program of about ``length`` instructions in ``category``, run in ``mode``."""
    if category not in _BODIES:
        raise ValueError(f"unknown category {category!r} (have: {', '.join(CATEGORIES)})")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (have: {', '.join(MODES)})")
    rng = random.Random(f"{category}:{seed}")
    g = _Gen(rng)
    while len([ln for ln in g.lines if ln.startswith("\t")]) < length:
        _BODIES[category](g)
    init_x = [0] + [g.xval() for _ in range(31)]
    fresh = {"fp_s": g.fval_s, "fp_d": g.fval_d}.get(category, g.fval)
    init_f = [fresh() for _ in range(32)]
    fcsr = rng.randrange(5) << 5 | rng.randrange(32)
    scratch = bytes(rng.getrandbits(8) for _ in range(SCRATCH))
    if category in ("fp_s", "fp_d", "fcvt"):
        pick = {"fp_s": g.fval_s, "fp_d": g.fval_d, "fcvt": g.fval}[category]
        pool = b"".join(pick().to_bytes(8, "little") for _ in range(FP_POOL // 8))
        scratch = scratch[:FP_POOL] + pool
    name = f"{category}-{seed}" + ("" if mode == "M" else f"-{mode}")
    asm = _assemble(name, g.lines, init_x, init_f, fcsr, scratch)
    return Program(name, category, seed, asm, mode=mode)


# ---------------------------------------------------------------- directed FP programs
@attrs.frozen
class _Case:
    insn: str  # with {d} {a} {b} {c} {rm} placeholders
    operands: tuple[int, ...]  # pool values for a, b, c
    rm: str
    int_result: bool = False
    int_source: bool = False


def _directed(name: str, cases: list[_Case]) -> Program:
    """Each case: load operands, clear fflags, run, store result and fflags."""
    pool: list[int] = []
    index: dict[int, int] = {}

    def slot(v: int) -> int:
        if v not in index:
            index[v] = len(pool)
            pool.append(v)
        return index[v]

    body = ["\tla t2, difftest_pool", "\tla t3, difftest_results"]
    entries = []
    for case in cases:
        regs = []
        for i, v in enumerate(case.operands):
            off = 8 * slot(v)
            if off >= 2048:
                raise ValueError("operand pool too large")
            if case.int_source:
                body.append(f"\tld t{4 + i}, {off}(t2)")
                regs.append(f"t{4 + i}")
            else:
                body.append(f"\tfld ft{i}, {off}(t2)")
                regs.append(f"ft{i}")
        while len(regs) < 3:
            regs.append("ft0")
        dest = "t0" if case.int_result else "ft3"
        insn = case.insn.format(d=dest, a=regs[0], b=regs[1], c=regs[2], rm=case.rm)
        body.append("\tfsflags zero")
        body.append(f"\t{insn}")
        body.append("\tsd t0, 0(t3)" if case.int_result else "\tfsd ft3, 0(t3)")
        body.append("\tfrflags t1")
        body.append("\tsd t1, 8(t3)")
        body.append("\taddi t3, t3, 16")
        ops = ", ".join(f"{v:#x}" for v in case.operands)
        entries.append(f"{insn.split()[0]} {ops} rm={case.rm}")
    extra = _data("difftest_pool", pool)
    asm = _assemble(name, body, [0] * 32, [0] * 32, 0, bytes(SCRATCH), len(cases), extra_data=extra)
    return Program(name, "directed", None, asm, tuple(entries))


_RMS = ("rne", "rtz", "rdn", "rup", "rmm")
_POOL_S = (*(_box(v) for v in SPECIAL_S[:16]), 0x000000003F800000)  # last: unboxed
_POOL_D = SPECIAL_D[:16]


def directed_programs() -> list[Program]:
    """Directed FP edge cases: operation x special operands x rounding mode."""
    progs = []
    for fmt, pool in (("s", _POOL_S), ("d", _POOL_D)):
        cases = []
        for a in pool:
            for b in pool:
                for op in ("fadd", "fmul", "fdiv"):
                    for rm in _RMS:
                        cases.append(_Case(f"{op}.{fmt} {{d}}, {{a}}, {{b}}, {{rm}}", (a, b), rm))
                for op in ("fsub",):
                    cases.append(_Case(f"{op}.{fmt} {{d}}, {{a}}, {{b}}, {{rm}}", (a, b), "rdn"))
                for op in ("fmin", "fmax", "fsgnj", "fsgnjn", "fsgnjx"):
                    cases.append(_Case(f"{op}.{fmt} {{d}}, {{a}}, {{b}}", (a, b), "-"))
                for op in ("feq", "flt", "fle"):
                    insn = f"{op}.{fmt} {{d}}, {{a}}, {{b}}"
                    cases.append(_Case(insn, (a, b), "-", int_result=True))
        progs.append(_directed(f"directed-binary-{fmt}", cases))
    # unary, conversions
    cases = []
    for fmt, pool in (("s", _POOL_S), ("d", _POOL_D)):
        for a in pool:
            cases.append(_Case(f"fclass.{fmt} {{d}}, {{a}}", (a,), "-", int_result=True))
            for rm in _RMS:
                cases.append(_Case(f"fsqrt.{fmt} {{d}}, {{a}}, {{rm}}", (a,), rm))
                for ity in ("w", "wu", "l", "lu"):
                    cases.append(
                        _Case(f"fcvt.{ity}.{fmt} {{d}}, {{a}}, {{rm}}", (a,), rm, int_result=True)
                    )
                other = "d" if fmt == "s" else "s"
                if fmt == "d":
                    cases.append(_Case(f"fcvt.{other}.{fmt} {{d}}, {{a}}, {{rm}}", (a,), rm))
            if fmt == "s":
                cases.append(_Case("fcvt.d.s {d}, {a}", (a,), "-"))
    for x in SPECIAL_X:
        for rm in _RMS:
            for ity in ("w", "wu", "l", "lu"):
                cases.append(_Case(f"fcvt.s.{ity} {{d}}, {{a}}, {{rm}}", (x,), rm, int_source=True))
                if ity in ("l", "lu"):
                    cases.append(
                        _Case(f"fcvt.d.{ity} {{d}}, {{a}}, {{rm}}", (x,), rm, int_source=True)
                    )
        cases.append(_Case("fcvt.d.w {d}, {a}", (x,), "-", int_source=True))
        cases.append(_Case("fcvt.d.wu {d}, {a}", (x,), "-", int_source=True))
    progs.append(_directed("directed-unary-cvt", cases))
    # fused multiply-add on a sample of operand triples
    rng = random.Random("directed-fma")
    cases = []
    for fmt, pool in (("s", _POOL_S), ("d", _POOL_D)):
        for _ in range(120):
            a, b, c = (rng.choice(pool) for _ in range(3))
            for op in ("fmadd", "fmsub", "fnmsub", "fnmadd"):
                insn = f"{op}.{fmt} {{d}}, {{a}}, {{b}}, {{c}}, {{rm}}"
                for rm in _RMS:
                    cases.append(_Case(insn, (a, b, c), rm))
    progs.append(_directed("directed-fma", cases))
    return progs + jit_programs()


# ---------------------------------------------------------------- translator programs
# Loops that run hot (so a translating core runs them translated) while their
# code changes, their code page is remapped, they trap in the middle, or an
# interrupt arrives. Each leaves only deterministic values in registers.

_SMC = """
\t.option norvc
\tla t0, 2f
\tli t1, 0x00150513          /* addi a0, a0, 1: undo the previous run's patch */
\tsw t1, 0(t0)
\tfence.i
\tli a0, 0
\tli a1, 300
\tli t1, 0x00250513          /* addi a0, a0, 2 */
1:\taddi a1, a1, -1
2:\taddi a0, a0, 1            /* patched after 100 iterations */
\tli t2, 200
\tbne a1, t2, 3f
\tsw t1, 0(t0)
\tfence.i
3:\tbnez a1, 1b
\tli t2, 0
"""

# M-mode loads through Sv39 (mstatus.MPRV, MPP = S): the loop's fifth
# instruction loads from the next page each iteration; pages past 0x40000000
# are not mapped, so the last 20 of 60 iterations take a load page fault,
# which the handler counts and skips.
_PAGE_FAULT = """
\t.option norvc
\tcsrr s1, mtvec
\tcsrr s3, mstatus
\tla t0, 9f
\tcsrw mtvec, t0
\tla t0, jit_root
\tla t1, jit_l1
\tsrli t2, t1, 12
\tslli t2, t2, 10
\tori t2, t2, 1
\tsd t2, 0(t0)               /* root[0] -> L1 */
\tli t2, (0x80200000 >> 12 << 10) | 0xc7
\taddi t1, t1, 2044
\tsd t2, 2044(t1)            /* L1[511]: VA 0x3fe00000 -> PA 0x80200000, 2 MiB, R W */
\tsrli t2, t0, 12
\tli t3, 8 << 60
\tor t2, t2, t3
\tcsrw satp, t2
\tsfence.vma
\tli t2, 1 << 12
\tcsrc mstatus, t2
\tli t2, (1 << 17) | (1 << 11)
\tcsrs mstatus, t2           /* MPRV, MPP = S */
\tli t0, 0x3ffd8008
\tli t1, 0
\tli t2, 4096
\tli a5, 0
\tli a6, 0
\tli a7, 0
1:\taddi t1, t1, 1
\taddi a1, a1, 2
\txor a2, a2, a1
\tadd a3, a3, t1
\tld a0, 0(t0)
\tadd a4, a4, a0
\tadd t0, t0, t2
\tli t3, 60
\tbne t1, t3, 1b
\tcsrw mstatus, s3
\tcsrw satp, zero
\tsfence.vma
\tcsrw mtvec, s1
\tj 8f
\t.balign 4
9:\tcsrr t4, mcause
\tadd a5, a5, t4
\tcsrr t4, mtval
\txor a6, a6, t4
\tcsrr t4, mepc
\tla t5, 1b
\tsub t4, t4, t5
\tadd a7, a7, t4             /* where: the ld, 16 bytes into the loop */
\tli t4, 1 << 12
\tcsrc mstatus, t4
\tli t4, 1 << 11
\tcsrs mstatus, t4           /* MPP = S again (the trap set it to M) */
\tcsrr t4, mepc
\taddi t4, t4, 4
\tli t5, 0
\tjr t4
8:
"""
_PAGE_FAULT_DATA = (
    '\t.section .bss.jit, "aw", @nobits',
    "\t.balign 4096",
    "jit_root:",
    "\t.space 4096",
    "jit_l1:",
    "\t.space 4096",
)

# A misaligned AMO in the 50th iteration of a hot loop: the handler records
# that it was a misaligned-address trap, the address and where, and skips it.
# (QEMU 7.2 reports cause 4, misaligned load; the specification says 6,
# store/AMO, which is what avmm raises and tests/core checks.)
_MISALIGNED_AMO = """
\t.option norvc
\tcsrr s1, mtvec
\tla t0, 9f
\tcsrw mtvec, t0
\taddi t0, s0, 64
\tli t1, 0
\tli a5, 0
\tli a6, 0
\tli a7, 0
1:\taddi t1, t1, 1
\taddi a1, a1, 5
\tli t2, 50
\tbne t1, t2, 2f
\taddi t0, t0, 2             /* misaligned from now on */
2:\tamoadd.w a2, a1, (t0)
\tadd a3, a3, a2
\tli t2, 80
\tbne t1, t2, 1b
\tcsrw mtvec, s1
\tj 8f
\t.balign 4
9:\tcsrr t4, mcause
\taddi t4, t4, -4
\tsltiu t4, t4, 3            /* 4 or 6 */
\tadd a5, a5, t4
\tcsrr t4, mtval
\tsub t4, t4, s0
\tadd a6, a6, t4
\tcsrr t4, mepc
\tla t5, 2b
\tsub t4, t4, t5
\tadd a7, a7, t4
\tcsrr t4, mepc
\taddi t4, t4, 4
\tcsrw mepc, t4
\tli t4, 0
\tli t5, 0
\tmret
8:
"""

# A timer interrupt while a loop runs (or right after it: the wait below):
# the handler counts it and disarms the timer; nothing depends on when.
_TIMER = """
\t.option norvc
\tcsrr s1, mtvec
\tcsrr s3, mstatus
\tcsrr s4, mie
\tla t0, 9f
\tcsrw mtvec, t0
\tli a5, 0
\tli a6, 0
\tli t0, 0x200bff8
\tld t1, 0(t0)
\taddi t1, t1, 500
\tli t0, 0x2004000
\tsd t1, 0(t0)               /* mtimecmp = mtime + 500 */
\tli t0, 0x80
\tcsrs mie, t0
\tcsrsi mstatus, 8
\tli t1, 0
\tli t2, 20000
1:\taddi t1, t1, 1
\tadd a1, a1, t1
\txor a2, a2, a1
\tbne t1, t2, 1b
2:\tbeqz a5, 2b
\tcsrci mstatus, 8
\tcsrw mie, s4
\tcsrw mstatus, s3
\tcsrw mtvec, s1
\tli t0, 0
\tli t1, 0
\tj 8f
\t.balign 4
9:\taddi a5, a5, 1
\tcsrr t4, mcause
\tadd a6, a6, t4
\tli t4, 0x2004000
\tli t5, -1
\tsd t5, 0(t4)               /* disarm */
\tli t4, 0
\tli t5, 0
\tmret
8:
"""


def _walk(va: str, out: str) -> str:
    """Assembly: the address of the leaf PTE of a 4 KiB page (satp's tables)."""
    return f"""
\tcsrr t0, satp
\tsrli t1, t0, 60
\taddi t1, t1, -6            /* top level: 2 (Sv39) or 3 (Sv48) */
\tslli t0, t0, 20
\tsrli t0, t0, 8             /* root table address */
3:\tli t4, 9
\tmul t4, t4, t1
\taddi t4, t4, 12
\tsrl t5, {va}, t4
\tandi t5, t5, 511
\tslli t5, t5, 3
\tadd t5, t0, t5
\tbeqz t1, 4f
\tld t6, 0(t5)
\tsrli t6, t6, 10
\tslli t0, t6, 12
\taddi t1, t1, -1
\tj 3b
4:\tmv {out}, t5
"""


# S-mode under the harness's identity map: the loop calls the function at
# page A's address; after 150 calls it points A's PTE at page B (sfence.vma),
# so the next 150 calls run B's code; then A's PTE is restored.
_REMAP = (
    """
\t.option norvc
\tla s3, jit_page_a
\tla s4, jit_page_b
"""
    + _walk("s3", "s5")
    + _walk("s4", "s6")
    + """
\tld s7, 0(s5)
\tld s9, 0(s6)
\tli s10, 0
\tli s11, 300
1:\tjalr s3
\tadd s10, s10, a0
\taddi s11, s11, -1
\tli t0, 150
\tbne s11, t0, 2f
\tsd s9, 0(s5)               /* page A's address now runs page B */
\tsfence.vma
2:\tbnez s11, 1b
\tsd s7, 0(s5)
\tsfence.vma
\tj 8f
\t.balign 4096
jit_page_a:
\tli a0, 1
\tret
\t.balign 4096
jit_page_b:
\tli a0, 2
\tret
\t.balign 4096
8:
"""
)


def _jit_program(name: str, body: str, mode: str = "M", data: Sequence[str] = ()) -> Program:
    asm = _assemble(
        name, body.strip("\n").split("\n"), [0] * 32, [0] * 32, 0, bytes(SCRATCH), extra_data=data
    )
    return Program(name, "jit", None, asm, mode=mode)


def jit_programs() -> list[Program]:
    """Self-modifying code, remapped code, traps inside and interrupts during hot loops."""
    return [
        _jit_program("jit-smc", _SMC),
        _jit_program("jit-page-fault", _PAGE_FAULT, data=_PAGE_FAULT_DATA),
        _jit_program("jit-misaligned-amo", _MISALIGNED_AMO),
        _jit_program("jit-timer", _TIMER),
        _jit_program("jit-remap-sv39", _REMAP, mode="S-sv39"),
        _jit_program("jit-remap-sv48", _REMAP, mode="S-sv48"),
    ]


DIRECTED_NAMES = (
    "directed-binary-s",
    "directed-binary-d",
    "directed-unary-cvt",
    "directed-fma",
    "jit-smc",
    "jit-page-fault",
    "jit-misaligned-amo",
    "jit-timer",
    "jit-remap-sv39",
    "jit-remap-sv48",
)

# Seeds run in CI: eight per category, sixteen mixed (and the directed
# programs); some of them in S and U-mode under paging.
_PAGED = {
    ("mem", 4): "U-sv39",
    ("mem", 8): "S-sv39",
    ("amo", 4): "S-sv48",
    ("amo", 8): "U-sv39",
    ("compressed", 8): "U-sv48",
    ("mixed", 5): "S-sv39",
    ("mixed", 6): "U-sv39",
    ("mixed", 7): "S-sv48",
    ("mixed", 8): "U-sv48",
    ("mixed", 13): "S-sv39",
    ("mixed", 14): "U-sv39",
    ("mixed", 15): "S-sv48",
    ("mixed", 16): "U-sv48",
}
CI_SEEDS: tuple[tuple[str, int, str], ...] = tuple(
    (cat, seed, _PAGED.get((cat, seed), "M"))
    for cat in CATEGORIES
    for seed in range(1, 9 if cat != "mixed" else 17)
)
CI_LENGTH = 300
