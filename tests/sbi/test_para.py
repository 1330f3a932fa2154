"""SBI STA and the avmm extension, call by call on a real hart: registers in and out,
what lands in guest memory, what is counted, what a reset or a snapshot keeps."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator

import attrs
import pytest

from avmm import sbi
from avmm.runtime.host import Host
from avmm.runtime.vm import Vm
from avmm.sbi.para import PARA_RECORD_SIZE, ParaInfo, VcpuPara
from tests.sbi.test_sbi import ENTRY, RAM, call

RAM_SIZE = 64 << 20
RAM_END = RAM + RAM_SIZE
STA_REC = RAM + 0x10_0000  # 64-byte aligned
PAGE = RAM + 0x20_0000  # page-aligned
M64 = (1 << 64) - 1


@pytest.fixture
async def vm() -> AsyncIterator[Vm]:
    async with Host(pcpus=2) as host:
        vm = host.create_vm("pv")
        vm.add_memory_slot(RAM, RAM_SIZE)
        for _ in range(4):
            vm.create_vcpu()
        sbi.prepare_direct_boot(vm, entry=ENTRY, dtb=RAM + 0x220_0000)
        yield vm


def guest_page(vm: Vm, addr: int, version: int, size: int) -> None:
    vm.machine.write_phys(addr, struct.pack("<II", version, size) + b"\xee" * 120)


def page_fields(vm: Vm, addr: int) -> dict[str, int]:
    raw = vm.machine.read_phys(addr, PARA_RECORD_SIZE)
    host_version, ret, seq, vcpu, pcpu, flags = struct.unpack_from("<IiIIII", raw, 8)
    vmid, gen, exits, slices, steal, yields = struct.unpack_from("<QQQQQQ", raw, 32)
    return {
        "host_version": host_version,
        "ret": ret,
        "sequence": seq,
        "vcpu": vcpu,
        "pcpu": pcpu,
        "flags": flags,
        "vmid": vmid,
        "generation": gen,
        "exits": exits,
        "slices": slices,
        "steal_ns": steal,
        "yields": yields,
    }


# ------------------------------------------------------------------ STA


def test_sta_set_shmem_checks_in_the_specs_order(vm: Vm) -> None:
    v = vm.vcpus[1]
    vm.machine.write_phys(STA_REC, b"\xff" * 128)
    assert call(v, sbi.EXT_STA, 0, STA_REC, 0, 1) == (sbi.ERR_INVALID_PARAM, 0)  # flags
    assert call(v, sbi.EXT_STA, 0, STA_REC + 32, 0, 0) == (sbi.ERR_INVALID_PARAM, 0)
    assert call(v, sbi.EXT_STA, 0, STA_REC, 1, 0) == (sbi.ERR_INVALID_ADDRESS, 0)  # hi word
    assert call(v, sbi.EXT_STA, 0, 0x1000, 0, 0) == (sbi.ERR_INVALID_ADDRESS, 0)
    assert call(v, sbi.EXT_STA, 0, RAM_END, 0, 0) == (sbi.ERR_INVALID_ADDRESS, 0)
    assert call(v, sbi.EXT_STA, 0, M64 - 63, 0, 0) == (sbi.ERR_INVALID_ADDRESS, 0)
    assert vm.machine.read_phys(STA_REC, 128) == b"\xff" * 128  # nothing written
    assert v.para.sta is None
    assert vm.sbi_counters.errors == {sbi.EXT_STA: 6}
    assert call(v, sbi.EXT_STA, 1)[0] == sbi.ERR_NOT_SUPPORTED
    assert vm.sbi_counters.not_supported == {sbi.EXT_STA: 1}


def test_sta_set_shmem_zeroes_64_bytes_and_disable_stops_reporting(vm: Vm) -> None:
    v = vm.vcpus[1]
    vm.machine.write_phys(STA_REC, b"\xff" * 128)
    assert call(v, sbi.EXT_STA, 0, STA_REC, 0, 0) == (0, 0)
    assert vm.machine.read_phys(STA_REC, 128) == bytes(64) + b"\xff" * 64
    assert v.para.sta == STA_REC
    assert call(v, sbi.EXT_STA, 0, M64, M64, 0) == (0, 0)
    assert v.para.sta is None
    assert call(v, sbi.EXT_STA, 0, M64, M64, 0) == (0, 0)  # already off: still fine
    assert call(v, sbi.EXT_STA, 0, M64, M64, 2) == (sbi.ERR_INVALID_PARAM, 0)


def test_sta_record_follows_the_sequence_protocol(vm: Vm) -> None:
    mem = vm.guest_memory
    para = VcpuPara()
    para.sta_register(mem, STA_REC, steal_ns=5_000)  # steal counts from registration
    para.preempt(mem)
    assert vm.machine.read_phys(STA_REC + 16, 1) == b"\x01"
    info = vm.vcpus[0].para_info()
    para.run(mem, attrs_evolve(info, steal_ns=5_000))  # nothing grew: no sequence change
    seq, flags, steal, preempted = struct.unpack("<IIQB", vm.machine.read_phys(STA_REC, 17))
    assert (seq, flags, steal, preempted) == (0, 0, 0, 0)
    para.run(mem, attrs_evolve(info, steal_ns=12_345))
    para.run(mem, attrs_evolve(info, steal_ns=20_000))
    seq, flags, steal, preempted = struct.unpack("<IIQB", vm.machine.read_phys(STA_REC, 17))
    assert (seq, steal) == (4, 15_000)  # two updates, each odd then even


def test_a_guest_moving_its_records_leaves_one_window_each(vm: Vm) -> None:
    """Re-registering at a new address every time keeps the host's state bounded:
    the record is written at the new address, and only one window per record is kept."""
    mem = vm.guest_memory
    para = VcpuPara()
    info = vm.vcpus[0].para_info()
    for n in range(1, 201):
        addr = STA_REC + 64 * n
        para.sta_register(mem, addr, steal_ns=0)
        para.page_register(mem, PAGE + 4096 * (n % 7), info)
        para.preempt(mem)
        para.run(mem, attrs_evolve(info, steal_ns=n))
        seq, _, steal, preempted = struct.unpack("<IIQB", vm.machine.read_phys(addr, 17))
        assert (seq, steal, preempted) == (2, n, 0)
    assert len(para._windows) == 2


def attrs_evolve(info: ParaInfo, **changes: int) -> ParaInfo:
    return attrs.evolve(info, **changes)


# ----------------------------------------------------------- avmm extension


def test_avmm_version_and_probe(vm: Vm) -> None:
    v = vm.vcpus[0]
    assert call(v, sbi.EXT_AVMM, 0) == (0, 1)
    assert call(v, sbi.EXT_BASE, 3, sbi.EXT_AVMM) == (0, 1)
    assert call(v, sbi.EXT_AVMM, 4)[0] == sbi.ERR_NOT_SUPPORTED


def test_avmm_register_rejects_bad_pages_without_writing(vm: Vm) -> None:
    v = vm.vcpus[0]
    guest_page(vm, PAGE, 1, 4096)
    before = vm.machine.read_phys(PAGE, 128)
    assert call(v, sbi.EXT_AVMM, 1, PAGE + 8, 0, 0) == (sbi.ERR_INVALID_PARAM, 0)
    assert call(v, sbi.EXT_AVMM, 1, PAGE, 0, 1) == (sbi.ERR_INVALID_PARAM, 0)
    assert call(v, sbi.EXT_AVMM, 1, PAGE, 1, 0) == (sbi.ERR_INVALID_ADDRESS, 0)
    assert call(v, sbi.EXT_AVMM, 1, 0x1000, 0, 0) == (sbi.ERR_INVALID_ADDRESS, 0)
    assert call(v, sbi.EXT_AVMM, 1, RAM_END, 0, 0) == (sbi.ERR_INVALID_ADDRESS, 0)
    assert call(v, sbi.EXT_AVMM, 1, M64 - 4095, 0, 0) == (sbi.ERR_INVALID_ADDRESS, 0)
    assert vm.machine.read_phys(PAGE, 128) == before
    assert v.para.page is None
    assert vm.sbi_counters.errors == {sbi.EXT_AVMM: 6}


def test_avmm_register_refuses_a_newer_guest_in_the_record(vm: Vm) -> None:
    v = vm.vcpus[0]
    guest_page(vm, PAGE, 2, 4096)
    assert call(v, sbi.EXT_AVMM, 1, PAGE, 0, 0) == (sbi.ERR_NOT_SUPPORTED, 1)
    fields = page_fields(vm, PAGE)
    assert (fields["host_version"], fields["ret"]) == (1, sbi.ERR_NOT_SUPPORTED)
    assert vm.machine.read_phys(PAGE + 16, 8) == b"\xee" * 8  # the body untouched
    assert v.para.page is None
    guest_page(vm, PAGE, 0, 4096)  # version 0 is no version
    assert call(v, sbi.EXT_AVMM, 1, PAGE, 0, 0) == (sbi.ERR_NOT_SUPPORTED, 1)
    guest_page(vm, PAGE, 1, 64)  # smaller than version 1's record
    assert call(v, sbi.EXT_AVMM, 1, PAGE, 0, 0) == (sbi.ERR_INVALID_PARAM, 1)
    assert page_fields(vm, PAGE)["ret"] == sbi.ERR_INVALID_PARAM
    guest_page(vm, PAGE, 1, 4097)  # larger than its page
    assert call(v, sbi.EXT_AVMM, 1, PAGE, 0, 0) == (sbi.ERR_INVALID_PARAM, 1)
    assert vm.sbi_counters.errors == {sbi.EXT_AVMM: 4}
    assert vm.sbi_counters.not_supported == {}  # offered: an error, not "unknown"


def test_avmm_register_hands_back_the_host_version_and_the_vcpus_facts(vm: Vm) -> None:
    v = vm.vcpus[2]
    guest_page(vm, PAGE, 1, 128)
    assert call(v, sbi.EXT_AVMM, 1, PAGE, 0, 0) == (0, 1)
    fields = page_fields(vm, PAGE)
    assert fields["host_version"] == 1 and fields["ret"] == 0
    assert fields["vcpu"] == 2 and fields["flags"] == 0
    assert fields["sequence"] % 2 == 0
    assert (fields["vmid"], fields["generation"]) == (vm.vmid_tag.vmid, vm.vmid_tag.generation)
    assert vm.machine.read_phys(PAGE + 80, 48) == bytes(48)  # reserved: zero
    # double registration, of the same or another page: refused, nothing written
    guest_page(vm, PAGE + 4096, 1, 128)
    before = vm.machine.read_phys(PAGE, 4096 * 2)
    assert call(v, sbi.EXT_AVMM, 1, PAGE + 4096, 0, 0) == (sbi.ERR_ALREADY_AVAILABLE, 0)
    assert call(v, sbi.EXT_AVMM, 1, PAGE, 0, 0) == (sbi.ERR_ALREADY_AVAILABLE, 0)
    assert vm.machine.read_phys(PAGE, 4096 * 2) == before
    # a page per vCPU: another vCPU registers its own
    assert call(vm.vcpus[0], sbi.EXT_AVMM, 1, PAGE + 4096, 0, 0) == (0, 1)
    assert page_fields(vm, PAGE + 4096)["vcpu"] == 0
    assert call(v, sbi.EXT_AVMM, 2) == (0, 0)
    assert v.para.page is None
    assert call(v, sbi.EXT_AVMM, 2) == (sbi.ERR_NO_SHMEM, 0)


def test_avmm_yield_to_feeds_directed_yield(vm: Vm) -> None:
    v = vm.vcpus[0]
    sched = vm.host.scheduler
    assert call(v, sbi.EXT_AVMM, 3, 4) == (sbi.ERR_INVALID_PARAM, 0)  # no such hart
    assert call(v, sbi.EXT_AVMM, 3, 0) == (sbi.ERR_INVALID_PARAM, 0)  # itself
    assert call(v, sbi.EXT_AVMM, 3, 1) == (0, 0)  # stopped: nothing to run
    assert not sched.yield_pending
    call(v, sbi.EXT_HSM, 0, 1, ENTRY, 0)
    vm.vcpus[1].set_hsm_state(sbi.HsmState.STARTED)
    assert call(v, sbi.EXT_AVMM, 3, 1) == (0, 1)
    assert sched.yield_pending
    assert (v.para.yields, v.counters.directed_yields) == (1, 1)
    assert v.statistics().yield_hints == 1


# ------------------------------------------------------ reset, snapshots


def test_reboot_and_hsm_start_forget_the_registrations(vm: Vm) -> None:
    boot, second = vm.vcpus[0], vm.vcpus[1]
    guest_page(vm, PAGE, 1, 128)
    assert call(boot, sbi.EXT_AVMM, 1, PAGE, 0, 0) == (0, 1)
    assert call(boot, sbi.EXT_STA, 0, STA_REC, 0, 0) == (0, 0)
    second.para.sta = STA_REC + 64  # as if registered in an earlier life
    assert call(boot, sbi.EXT_HSM, 0, 1, ENTRY, 0) == (0, 0)
    assert not second.para.active
    vm.setup_irqchip()
    vm.reset()
    assert not boot.para.active
    assert boot.para.state() == VcpuPara().state()


def test_para_state_round_trips_as_plain_data(vm: Vm) -> None:
    v = vm.vcpus[0]
    guest_page(vm, PAGE, 1, 128)
    call(v, sbi.EXT_AVMM, 1, PAGE, 0, 0)
    call(v, sbi.EXT_STA, 0, STA_REC, 0, 0)
    v.para.sta_steal_ns = 777
    state = v.para.state()
    assert state == {
        "sta": STA_REC,
        "sta_steal_ns": 777,
        "sta_preempted": False,
        "sta_mark": 0,  # the vCPU's steal total when the record was last written
        "page": PAGE,
        "yields": 0,
    }
    other = VcpuPara()
    other.restore(state)
    assert other.state() == state
    # steal goes on from the restored value and the mark: the vCPU's steal total
    # (restored with it) grew by 5 ns since the record's last update
    info = v.para_info()
    other.run(vm.guest_memory, attrs_evolve(info, steal_ns=5))
    assert struct.unpack("<Q", vm.machine.read_phys(STA_REC + 8, 8))[0] == 782
    # a snapshot without a mark: only what accrues after the restore is added
    older = VcpuPara()
    older.restore({k: val for k, val in state.items() if k != "sta_mark"})
    older.run(vm.guest_memory, attrs_evolve(info, steal_ns=10**9))
    older.run(vm.guest_memory, attrs_evolve(info, steal_ns=10**9 + 5))
    assert struct.unpack("<Q", vm.machine.read_phys(STA_REC + 8, 8))[0] == 782


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sta", STA_REC + 8),
        ("page", PAGE + 64),
        ("sta", "0x1000"),
        ("sta_steal_ns", -1),
        ("sta_mark", "soon"),
        ("yields", True),
        ("sta_preempted", 1),
    ],
)
def test_para_restore_refuses_bad_data(key: str, value: object) -> None:
    state: dict[str, object] = dict(VcpuPara().state())
    state[key] = value
    with pytest.raises(ValueError, match=key):
        VcpuPara().restore(state)  # type: ignore[arg-type]


def test_only_ram_is_ever_registered_and_one_record_of_each_kind(vm: Vm) -> None:
    v = vm.vcpus[0]
    for addr in (0, RAM - 4096, RAM_END, M64 - 4095, 1 << 63):
        assert call(v, sbi.EXT_STA, 0, addr, 0, 0) == (sbi.ERR_INVALID_ADDRESS, 0)
        assert call(v, sbi.EXT_AVMM, 1, addr, 0, 0) == (sbi.ERR_INVALID_ADDRESS, 0)
    last = RAM_END - 4096
    guest_page(vm, last, 1, 4096)
    assert call(v, sbi.EXT_AVMM, 1, last, 0, 0) == (0, 1)  # the last page of RAM is fine
    for i in range(1000):  # re-registering moves the record; it never adds one
        assert call(v, sbi.EXT_STA, 0, RAM + 64 * i, 0, 0) == (0, 0)
    assert (v.para.sta, v.para.page) == (RAM + 64 * 999, last)
    assert vm.sbi_counters.errors == {sbi.EXT_STA: 5, sbi.EXT_AVMM: 5}
