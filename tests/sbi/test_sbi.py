"""SBI calls one by one on a real hart: registers in, registers out, side effects."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from avmm import _core, sbi
from avmm.runtime.console import CaptureConsole
from avmm.runtime.exits import SystemEvent, SystemEventKind
from avmm.runtime.handlers import handle_exit
from avmm.runtime.host import Host
from avmm.runtime.vcpu import Vcpu
from avmm.runtime.vm import Vm
from avmm.sbi import HsmState, TlbFlush

RAM = 0x8000_0000
ENTRY = 0x8020_0000
DTB = 0x8220_0000
M64 = (1 << 64) - 1


@pytest.fixture
async def vm() -> AsyncIterator[Vm]:
    async with Host() as host:
        vm = host.create_vm("sbi")
        vm.add_memory_slot(RAM, 64 << 20)
        for _ in range(4):
            vm.create_vcpu()
        sbi.prepare_direct_boot(vm, entry=ENTRY, dtb=DTB)
        yield vm


def call(vcpu: Vcpu, eid: int, fid: int = 0, *args: int) -> tuple[int, int]:
    """Make the SBI call in a7/a6/a0..; return (error, value) as signed ints."""
    for i, value in enumerate(args):
        vcpu.set_reg(10 + i, value & M64)
    vcpu.set_reg(16, fid)
    vcpu.set_reg(17, eid)
    assert handle_exit(vcpu, _core.EXIT_ECALL) is None
    err, val = vcpu.get_reg(10), vcpu.get_reg(11)
    return (err - (1 << 64) if err >> 63 else err), val


def test_direct_boot_starts_only_the_boot_hart_in_s_mode(vm: Vm) -> None:
    boot = vm.vcpus[0]
    assert boot.hart.priv == _core.PRIV_S
    assert boot.pc == ENTRY
    assert (boot.get_reg(10), boot.get_reg(11)) == (0, DTB)
    assert boot.get_csr("medeleg") == sbi.DIRECT_BOOT_MEDELEG
    assert boot.get_csr("mideleg") == sbi.OPENSBI_MIDELEG
    assert boot.get_csr("mcounteren") == boot.get_csr("scounteren") == 7
    assert boot.get_csr("satp") == 0
    assert vm.machine.sbi_in_vmm
    assert [v.hsm_state for v in vm.vcpus] == [HsmState.STARTED] + [HsmState.STOPPED] * 3


def test_direct_boot_keeps_the_s_mode_ecall_for_the_vmm() -> None:
    assert not sbi.DIRECT_BOOT_MEDELEG & (1 << 9)
    assert sbi.OPENSBI_MEDELEG == 0xB109


def test_base(vm: Vm) -> None:
    v = vm.vcpus[0]
    assert call(v, sbi.EXT_BASE, 0) == (0, 0x0200_0000)  # SBI 2.0
    assert call(v, sbi.EXT_BASE, 1) == (0, sbi.IMPL_ID)
    assert call(v, sbi.EXT_BASE, 2) == (0, 0x000100)  # avmm 0.1.0
    offered = (sbi.EXT_TIME, sbi.EXT_IPI, sbi.EXT_RFENCE, sbi.EXT_HSM, sbi.EXT_SRST)
    for eid in (*offered, sbi.EXT_DBCN, sbi.EXT_STA, 0x01):
        assert call(v, sbi.EXT_BASE, 3, eid) == (0, 1)
    assert call(v, sbi.EXT_BASE, 3, sbi.EXT_AVMM) == (0, 1)  # its version
    assert call(v, sbi.EXT_BASE, 3, sbi.EXT_PMU) == (0, 0)
    assert call(v, sbi.EXT_BASE, 4) == (0, v.get_csr("mvendorid"))
    assert call(v, sbi.EXT_BASE, 99)[0] == sbi.ERR_NOT_SUPPORTED


def test_unknown_calls_are_not_supported_and_counted(vm: Vm) -> None:
    v = vm.vcpus[0]
    assert call(v, sbi.EXT_PMU, 0)[0] == sbi.ERR_NOT_SUPPORTED
    assert call(v, 0x0A00_0000, 3)[0] == sbi.ERR_NOT_SUPPORTED
    assert call(v, 0x0A00_0000, 4)[0] == sbi.ERR_NOT_SUPPORTED
    assert vm.sbi_counters.not_supported == {sbi.EXT_PMU: 1, 0x0A00_0000: 2}


def test_a_guest_cannot_grow_the_sbi_counters_without_bound(vm: Vm) -> None:
    v = vm.vcpus[0]
    for eid in range(0x0B00_0000, 0x0B00_0000 + 1000):
        assert call(v, eid, 0)[0] == sbi.ERR_NOT_SUPPORTED
    assert call(v, sbi.EXT_TIME, 0, 0) == (0, 0)
    for table in (vm.sbi_counters.not_supported, vm.sbi_counters.calls):
        assert len(table) <= sbi.MAX_UNKNOWN_EXTENSIONS + 2
        assert sum(n for eid, n in table.items() if eid != sbi.EXT_TIME) == 1000
        assert table[sbi.OTHER_EXTENSION] == 1000 - sbi.MAX_UNKNOWN_EXTENSIONS
    assert vm.sbi_counters.calls[sbi.EXT_TIME] == 1


def test_set_timer_arms_stimecmp(vm: Vm) -> None:
    v = vm.vcpus[0]
    when = vm.machine.time + 12345
    assert call(v, sbi.EXT_TIME, 0, when) == (0, 0)
    assert v.hart.stimecmp == when
    assert v.hart.next_deadline() == when


def test_send_ipi_sets_ssip_on_the_targets(vm: Vm) -> None:
    v = vm.vcpus[0]
    assert call(v, sbi.EXT_IPI, 0, 0b0110, 0) == (0, 0)
    mips = [t.get_csr("mip") & _core.MIP_SSIP for t in vm.vcpus]
    assert mips == [0, _core.MIP_SSIP, _core.MIP_SSIP, 0]
    assert call(v, sbi.EXT_IPI, 0, 1, 3) == (0, 0)  # hart_mask_base 3
    assert vm.vcpus[3].get_csr("mip") & _core.MIP_SSIP
    assert call(v, sbi.EXT_IPI, 0, 1, 4)[0] == sbi.ERR_INVALID_PARAM


def test_send_ipi_to_every_hart_with_base_minus_one(vm: Vm) -> None:
    v = vm.vcpus[0]
    assert call(v, sbi.EXT_IPI, 0, 0, -1) == (0, 0)
    assert all(t.get_csr("mip") & _core.MIP_SSIP for t in vm.vcpus)


def test_remote_fences_become_flush_requests_on_the_targets(vm: Vm) -> None:
    v = vm.vcpus[0]
    assert call(v, sbi.EXT_RFENCE, 1, 0b1010, 0, 0x4000_0000, 0x3000) == (0, 0)
    assert call(v, sbi.EXT_RFENCE, 2, 0b0010, 0, 0, 0, 7) == (0, 0)
    assert call(v, sbi.EXT_RFENCE, 0, 0, -1) == (0, 0)
    assert call(v, sbi.EXT_RFENCE, 4, 1, 0)[0] == sbi.ERR_NOT_SUPPORTED  # hfence
    assert [t.counters.remote_tlb_flushes for t in vm.vcpus] == [1, 3, 1, 2]
    assert vm.vcpus[3]._flushes[0] == TlbFlush("vma", 0x4000_0000, 0x3000)
    assert vm.vcpus[1]._flushes[1] == TlbFlush("vma_asid", 0, 0, 7)


def test_hsm_state_machine(vm: Vm) -> None:
    boot, second = vm.vcpus[0], vm.vcpus[1]
    assert call(boot, sbi.EXT_HSM, 2, 1) == (0, HsmState.STOPPED)
    assert call(boot, sbi.EXT_HSM, 0, 9, ENTRY, 0)[0] == sbi.ERR_INVALID_PARAM
    assert call(boot, sbi.EXT_HSM, 0, 1, 0x1000, 0)[0] == sbi.ERR_INVALID_ADDRESS
    assert call(boot, sbi.EXT_HSM, 0, 1, ENTRY + 0x100, 0xABC) == (0, 0)
    assert second.hsm_state is HsmState.START_PENDING
    assert call(boot, sbi.EXT_HSM, 2, 1) == (0, HsmState.START_PENDING)
    assert call(boot, sbi.EXT_HSM, 0, 1, ENTRY, 0)[0] == sbi.ERR_ALREADY_AVAILABLE
    assert call(boot, sbi.EXT_HSM, 0, 0, ENTRY, 0)[0] == sbi.ERR_ALREADY_AVAILABLE
    assert call(boot, sbi.EXT_HSM, 9)[0] == sbi.ERR_NOT_SUPPORTED


def test_hsm_stop_and_suspend(vm: Vm) -> None:
    boot = vm.vcpus[0]
    call(boot, sbi.EXT_HSM, 1)  # hart_stop: no return values
    assert boot.hsm_state is HsmState.STOPPED
    v = vm.vcpus[2]
    assert call(v, sbi.EXT_HSM, 3, 0, 0, 0) == (0, 0)  # retentive
    assert v.hsm_state is HsmState.SUSPENDED and v.halted
    w = vm.vcpus[3]
    assert call(w, sbi.EXT_HSM, 3, 0x2000_0000_0, 0, 0)[0] == sbi.ERR_INVALID_PARAM
    assert call(w, sbi.EXT_HSM, 3, 0x8000_0000, 0x10, 0)[0] == sbi.ERR_INVALID_ADDRESS
    assert call(w, sbi.EXT_HSM, 3, 0x8000_0000, ENTRY, 5) == (0, 0)  # non-retentive
    assert w.hsm_state is HsmState.SUSPENDED


def test_system_reset(vm: Vm) -> None:
    v = vm.vcpus[0]
    v.set_reg(10, 0)
    v.set_reg(11, 0)
    v.set_reg(16, 0)
    v.set_reg(17, sbi.EXT_SRST)
    assert handle_exit(v, _core.EXIT_ECALL) == SystemEvent(0, SystemEventKind.SHUTDOWN, 0)
    v.set_reg(10, 1)
    assert handle_exit(v, _core.EXIT_ECALL) == SystemEvent(0, SystemEventKind.REBOOT, 0)
    v.set_reg(10, 0)
    v.set_reg(11, 1)  # system failure
    assert handle_exit(v, _core.EXIT_ECALL) == SystemEvent(0, SystemEventKind.SHUTDOWN, 1)
    assert call(v, sbi.EXT_SRST, 0, 7, 0)[0] == sbi.ERR_INVALID_PARAM
    assert call(v, sbi.EXT_SRST, 0, 0, 5)[0] == sbi.ERR_INVALID_PARAM


def test_debug_console(vm: Vm) -> None:
    v = vm.vcpus[0]
    vm.machine.write_phys(RAM + 0x100, b"hello")
    assert call(v, sbi.EXT_DBCN, 0, 5, RAM + 0x100, 0) == (0, 5)
    assert call(v, sbi.EXT_DBCN, 2, ord("!")) == (0, 0)
    assert call(v, sbi.EXT_DBCN, 0, 5, 0x1000, 0)[0] == sbi.ERR_INVALID_PARAM
    assert call(v, sbi.EXT_DBCN, 0, 5, RAM, 1)[0] == sbi.ERR_INVALID_PARAM
    console = vm.console
    assert isinstance(console, CaptureConsole)
    assert console.output == b"hello!"
    assert call(v, sbi.EXT_DBCN, 1, 4, RAM + 0x200, 0) == (0, 0)  # nothing typed yet
    console.feed(b"xyz")
    assert call(v, sbi.EXT_DBCN, 1, 2, RAM + 0x200, 0) == (0, 2)
    assert vm.machine.read_phys(RAM + 0x200, 2) == b"xy"


def legacy(vcpu: Vcpu, eid: int, *args: int) -> int:
    for i, value in enumerate(args):
        vcpu.set_reg(10 + i, value & M64)
    vcpu.set_reg(17, eid)
    handle_exit(vcpu, _core.EXIT_ECALL)
    value = vcpu.get_reg(10)
    return value - (1 << 64) if value >> 63 else value


def test_legacy_calls(vm: Vm) -> None:
    v = vm.vcpus[0]
    assert legacy(v, 0x01, ord("k")) == 0
    assert legacy(v, 0x02) == -1
    assert isinstance(vm.console, CaptureConsole)
    vm.console.feed(b"q")
    assert legacy(v, 0x02) == ord("q")
    assert legacy(v, 0x00, 999) == 0
    assert v.hart.stimecmp == 999
    # The hart mask is read through a pointer (satp = 0: a physical address).
    vm.machine.write_phys(RAM + 0x300, (0b1100).to_bytes(8, "little"))
    assert legacy(v, 0x04, RAM + 0x300) == 0
    assert [bool(t.get_csr("mip") & _core.MIP_SSIP) for t in vm.vcpus] == [0, 0, 1, 1]
    assert legacy(v, 0x06, RAM + 0x300, 0, 0) == 0
    assert [t.counters.remote_tlb_flushes for t in vm.vcpus] == [0, 0, 1, 1]
    assert legacy(v, 0x04, 0x10) == sbi.ERR_INVALID_PARAM  # pointer outside RAM
    vm.vcpus[2].set_reg(17, 0x03)
    handle_exit(vm.vcpus[2], _core.EXIT_ECALL)  # clear_ipi
    assert not vm.vcpus[2].get_csr("mip") & _core.MIP_SSIP
    v.set_reg(17, 0x08)
    assert handle_exit(v, _core.EXIT_ECALL) == SystemEvent(0, SystemEventKind.SHUTDOWN, 0)
