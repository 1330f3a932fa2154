"""The riscv:rv64 target description gdb reads with ``qXfer:features:read``, and
the register numbers of the ``g``/``p`` packets (gdb's own RISC-V numbering:
x0..x31 = 0..31, pc = 32, f0..f31 = 33..64, a CSR = 65 + its number, so
fflags/frm/fcsr = 66..68, priv = 4161)."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

# fmt: off
X_NAMES = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
)
F_NAMES = (
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
)
# fmt: on
PC = 32
FIRST_F = 33
FIRST_CSR = 65
PRIV = 4161
FP_CSRS = {"fflags": 0x001, "frm": 0x002, "fcsr": 0x003}
# CSRs gdb need not list one by one (counters and PMP entries nobody reads)
_SKIP_PREFIXES = ("hpmcounter", "mhpmcounter", "mhpmevent")


@attrs.frozen
class Register:
    """One register: its gdb number, the target's name for it, size in bytes."""

    number: int
    name: str  # the DebugTarget name: x5, pc, f3, fcsr, mstatus, priv
    size: int


class RegisterMap:
    """Every register of the description, by gdb number."""

    def __init__(self, csrs: dict[str, int]) -> None:
        regs = [Register(i, f"x{i}", 8) for i in range(32)]
        regs.append(Register(PC, "pc", 8))
        regs += [Register(FIRST_F + i, f"f{i}", 8) for i in range(32)]
        regs += [Register(FIRST_CSR + n, name, 4) for name, n in FP_CSRS.items()]
        self.csrs = {
            name: n
            for name, n in sorted(csrs.items(), key=lambda kv: kv[1])
            if name not in FP_CSRS
            and not name.startswith(_SKIP_PREFIXES)
            and not (name.startswith("pmpaddr") and int(name[7:]) >= 16)
        }
        regs += [Register(FIRST_CSR + n, name, 8) for name, n in self.csrs.items()]
        regs.append(Register(PRIV, "priv", 8))
        self.by_number = {r.number: r for r in regs}
        self.g_registers = regs[:33]  # the 'g' packet: x0..x31, pc; the rest with 'p'

    def xml(self) -> bytes:
        return target_xml(self.csrs).encode()


def _regs(lines: list[str], items: Iterable[tuple[str, int, int, str, str]]) -> None:
    for name, number, bits, type_, group in items:
        extra = f' group="{group}"' if group else ""
        lines.append(
            f'    <reg name="{name}" bitsize="{bits}" regnum="{number}" type="{type_}"{extra}/>'
        )


def target_xml(csrs: dict[str, int]) -> str:
    lines = [
        '<?xml version="1.0"?>',
        '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
        '<target version="1.0">',
        "  <architecture>riscv:rv64</architecture>",
        '  <feature name="org.gnu.gdb.riscv.cpu">',
    ]
    types = {1: "code_ptr", 2: "data_ptr", 8: "data_ptr"}
    _regs(lines, ((n, i, 64, types.get(i, "int"), "") for i, n in enumerate(X_NAMES)))
    _regs(lines, [("pc", PC, 64, "code_ptr", "")])
    lines += ["  </feature>", '  <feature name="org.gnu.gdb.riscv.fpu">']
    _regs(lines, ((n, FIRST_F + i, 64, "ieee_double", "float") for i, n in enumerate(F_NAMES)))
    _regs(lines, ((n, FIRST_CSR + c, 32, "int", "float") for n, c in FP_CSRS.items()))
    lines += ["  </feature>", '  <feature name="org.gnu.gdb.riscv.csr">']
    _regs(lines, ((n, FIRST_CSR + c, 64, "int", "csr") for n, c in csrs.items()))
    lines += ["  </feature>", '  <feature name="org.gnu.gdb.riscv.virtual">']
    _regs(lines, [("priv", PRIV, 64, "int", "system")])
    lines += ["  </feature>", "</target>", ""]
    return "\n".join(lines)
