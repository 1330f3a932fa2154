"""The SBI dispatcher with fakes: its table, and what one call asks of the VM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from avmm.runtime.counters import VcpuCounters
from avmm.runtime.guestmem import GuestMemory
from avmm.sbi import spec
from avmm.sbi.dispatch import EXTENSIONS, handle_ecall
from avmm.sbi.spec import OFFERED


class FakeHart:
    def __init__(self, **regs: int) -> None:
        self.x = [0] * 32
        for name, value in regs.items():
            self.x[int(name[1:])] = value
        self.stimecmp = 0
        self.mip = 0

    def post_mip(self, mask: int) -> None:
        self.mip |= mask

    def get_x(self, i: int) -> int:
        return self.x[i]

    def set_x(self, i: int, value: int) -> None:
        self.x[i] = value


class FakeVcpu:
    def __init__(self, index: int, hart: FakeHart) -> None:
        self.index = index
        self.key = index
        self.hart = hart
        self.counters = VcpuCounters()
        self.timers = 0
        self.yields: list[Any] = []

    def timer_changed(self) -> None:
        self.timers += 1

    def kick(self) -> None:
        pass

    def directed_yield(self, target: Any) -> None:
        self.yields.append(target)


class FakeConsole:
    def __init__(self) -> None:
        self.out = b""

    def write(self, data: bytes) -> None:
        self.out += data

    def read(self, n: int) -> bytes:
        return b""


class FakeVm:
    """Records every call an SBI call makes into the VM."""

    def __init__(self, vcpus: Sequence[FakeVcpu]) -> None:
        self.vcpus = list(vcpus)
        self.guest_memory = GuestMemory.from_bytes(0x8000_0000, bytearray(4096))
        self.sbi_console = FakeConsole()
        self.calls: list[tuple[Any, ...]] = []

    def sbi_done(self, vcpu: int, eid: int, fid: int, error: int | None, unsupported: bool) -> None:
        self.calls.append((vcpu, eid, fid, error, unsupported))


def test_the_table_offers_exactly_what_base_probe_answers() -> None:
    assert set(EXTENSIONS) == OFFERED


def test_an_sbi_call_calls_into_its_vm_once() -> None:
    hart = FakeHart(x17=spec.EXT_TIME, x16=0, x10=12345)
    vcpu = FakeVcpu(0, hart)
    vm = FakeVm([vcpu])
    assert handle_ecall(vcpu, vm) is None  # type: ignore[arg-type]
    assert hart.stimecmp == 12345 and vcpu.timers == 1
    assert (hart.x[10], hart.x[11]) == (spec.SUCCESS, 0)
    assert vm.calls == [(0, spec.EXT_TIME, 0, spec.SUCCESS, False)]
    assert vcpu.counters.sbi_calls == 1


def test_an_unknown_extension_is_answered_and_reported_as_unsupported() -> None:
    hart = FakeHart(x17=0x0A00_0000, x16=3)
    vcpu = FakeVcpu(0, hart)
    vm = FakeVm([vcpu])
    assert handle_ecall(vcpu, vm) is None  # type: ignore[arg-type]
    assert hart.x[10] == spec.ERR_NOT_SUPPORTED & ((1 << 64) - 1)
    assert vm.calls == [(0, 0x0A00_0000, 3, spec.ERR_NOT_SUPPORTED, True)]


def test_an_ipi_asks_the_sender_to_yield_to_its_first_other_target() -> None:
    harts = [FakeHart(x17=spec.EXT_IPI, x16=0, x10=0b110, x11=0), FakeHart(), FakeHart()]
    vcpus = [FakeVcpu(i, h) for i, h in enumerate(harts)]
    vm = FakeVm(vcpus)
    handle_ecall(vcpus[0], vm)  # type: ignore[arg-type]
    assert vcpus[0].yields == [vcpus[1]]
    assert [v.counters.ipis for v in vcpus] == [0, 1, 1]
    assert len(vm.calls) == 1
