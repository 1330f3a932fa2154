"""Memory slots: lazily committed host memory, dirty logs per slot, device DMA views."""

from __future__ import annotations

import resource

from avmm.runtime.host import Host

RAM = 0x8000_0000
PAGE = 4096


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


async def test_untouched_guest_memory_costs_nothing() -> None:
    async with Host() as host:
        vm = host.create_vm("big")
        before = rss_bytes()
        vm.add_memory_slot(RAM, 4 << 30)  # 4 GiB of guest RAM
        vm.add_memory_slot(0x2_0000_0000, 4 << 30)
        grown = rss_bytes() - before
        vm.machine.write_phys(RAM + (3 << 30), b"x" * 10)
        assert vm.machine.read_phys(RAM + (3 << 30), 10) == b"x" * 10
    assert grown < 64 << 20, f"RSS grew by {grown >> 20} MiB for 8 GiB of untouched RAM"


async def test_dirty_log_reports_written_pages_and_clears() -> None:
    async with Host() as host:
        vm = host.create_vm("dirty")
        slot = vm.add_memory_slot(RAM, 1 << 20, dirty_log=True)
        other = vm.add_memory_slot(0x9000_0000, 1 << 20)
        assert slot.dirty_pages() == []
        vm.guest_memory.write(RAM + 3 * PAGE + 10, b"abc")  # device DMA
        vm.guest_memory.write(RAM + 5 * PAGE - 1, b"xy")  # straddles pages 4 and 5
        vm.guest_memory.write(0x9000_0000, b"not logged")
        assert slot.dirty_pages(clear=False) == [RAM + 3 * PAGE, RAM + 4 * PAGE, RAM + 5 * PAGE]
        log = slot.get_dirty_log()
        assert log[0] == 0b0011_1000 and not any(log[1:])
        assert slot.dirty_pages() == []  # cleared by the read
        assert other.dirty_pages() == []


async def test_slot_view_is_zero_copy() -> None:
    async with Host() as host:
        vm = host.create_vm("view")
        slot = vm.add_memory_slot(RAM, 1 << 20)
        view = slot.view()
        view[100:104] = b"\x01\x02\x03\x04"
        assert vm.machine.read_phys(RAM + 100, 4) == b"\x01\x02\x03\x04"
        vm.machine.write_phys(RAM + 200, b"zz")
        assert bytes(view[200:202]) == b"zz"
        stats = vm.statistics().slots
        assert [(s.base, s.size) for s in stats] == [(RAM, 1 << 20)]
