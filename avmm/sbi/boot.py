"""Where SBI firmware leaves a hart for the kernel (direct boot, HSM start).

avmm runs no M-mode code in direct boot: it sets up what OpenSBI would have
(delegation, counters, S-mode entry) and answers the SBI itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from avmm import _core
from avmm.sbi.spec import HsmState

# What OpenSBI v1.x delegates (lib/sbi/sbi_hart.c, delegate_traps): interrupts
# SSIP|STIP|SEIP; exceptions misaligned fetch, breakpoint, ecall from U and the
# three page faults.
OPENSBI_MIDELEG = _core.MIP_SSIP | _core.MIP_STIP | _core.MIP_SEIP
OPENSBI_MEDELEG = (1 << 0) | (1 << 3) | (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15)
# OpenSBI then redirects the remaining S/U exceptions (instruction access fault,
# illegal instruction, misaligned and access faults of loads and stores) to S-mode
# in software. avmm runs no M-mode code in direct boot, so it delegates those too:
# the guest sees the same traps, and only the S-mode ecall (9) still reaches the VMM.
DIRECT_BOOT_MEDELEG = (
    OPENSBI_MEDELEG | (1 << 1) | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7)
)
MENVCFG_STCE = 1 << 63
SSTATUS_SIE = 1 << 1


def csr(name: str) -> int:
    return _core.CSRS[name]


def enter_supervisor(hart: _core.Hart, pc: int, a0: int, a1: int) -> None:
    """Put a hart where SBI firmware leaves it for the kernel: S-mode at ``pc``.

    a0/a1 as given (hartid and DTB or HSM opaque), satp = 0, sstatus.SIE = 0,
    the delegation OpenSBI sets up (plus the traps it would redirect),
    mcounteren = scounteren = 7 (cycle, time, instret readable from S and U;
    glibc's vDSO reads ``time``), and menvcfg.STCE when the VM offers Sstc.
    """
    hart.reset(pc, _core.PRIV_S)
    hart.set_x(10, a0)
    hart.set_x(11, a1)
    hart.set_csr(csr("medeleg"), DIRECT_BOOT_MEDELEG)
    hart.set_csr(csr("mideleg"), OPENSBI_MIDELEG)
    hart.set_csr(csr("mcounteren"), 7)
    hart.set_csr(csr("scounteren"), 7)
    hart.set_csr(csr("satp"), 0)
    hart.set_csr(csr("sstatus"), hart.get_csr(csr("sstatus")) & ~SSTATUS_SIE)
    if hart.machine.sstc:
        hart.set_csr(csr("menvcfg"), hart.get_csr(csr("menvcfg")) | MENVCFG_STCE)


class BootVcpu(Protocol):
    @property
    def index(self) -> int: ...

    @property
    def hart(self) -> _core.Hart: ...

    def set_hsm_state(self, state: HsmState) -> None: ...


class BootVm(Protocol):
    @property
    def machine(self) -> _core.Machine: ...

    @property
    def vcpus(self) -> Sequence[BootVcpu]: ...


def prepare_direct_boot(vm: BootVm, *, entry: int, dtb: int, boot_hart: int = 0) -> None:
    """Direct boot: the VMM serves SBI; only ``boot_hart`` runs, the others wait
    in HSM STOPPED until the guest starts them (as KVM does)."""
    vm.machine.sbi_in_vmm = True
    for vcpu in vm.vcpus:
        if vcpu.index == boot_hart:
            enter_supervisor(vcpu.hart, entry, vcpu.index, dtb)
            vcpu.set_hsm_state(HsmState.STARTED)
        else:
            vcpu.set_hsm_state(HsmState.STOPPED)
