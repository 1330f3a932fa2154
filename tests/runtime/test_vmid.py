"""The VMID allocator: generations, rollover, width limits."""

from __future__ import annotations

import pytest

from avmm.errors import ConfigError
from avmm.runtime.vmid import VmidAllocator, VmidTag


def test_vmids_are_unique_within_a_generation_and_never_zero() -> None:
    alloc = VmidAllocator(4)
    tags = [VmidTag() for _ in range(15)]
    for tag in tags:
        assert alloc.update(tag)
    assert sorted(t.vmid for t in tags) == list(range(1, 16))
    assert alloc.generation == 1 and alloc.rollovers == 0


def test_a_current_tag_keeps_its_vmid() -> None:
    alloc = VmidAllocator(8)
    tag = VmidTag()
    alloc.update(tag)
    assert not alloc.update(tag)
    assert tag.vmid == 1 and alloc.allocations == 1


def test_running_out_starts_a_new_generation_and_old_tags_turn_stale() -> None:
    rolled: list[int] = []
    alloc = VmidAllocator(2, on_rollover=rolled.append)  # VMIDs 1..3
    a, b, c, d = (VmidTag() for _ in range(4))
    for tag in (a, b, c):
        alloc.update(tag)
    assert rolled == []
    alloc.update(d)  # fourth VM: no VMID left in generation 1
    assert rolled == [2]
    assert (d.vmid, d.generation) == (1, 2)
    assert not alloc.is_current(a)
    alloc.update(a)  # a comes back and gets a fresh VMID of generation 2
    assert (a.vmid, a.generation) == (2, 2)
    stats = alloc.statistics()
    assert (stats.generation, stats.rollovers, stats.allocations, stats.in_use) == (2, 1, 5, 2)


def test_one_bit_vmids_roll_over_on_every_other_vm() -> None:
    alloc = VmidAllocator(1)
    tags = [VmidTag() for _ in range(3)]
    for _ in range(4):
        for tag in tags:
            alloc.update(tag)
            assert tag.vmid == 1
    assert alloc.rollovers == 11


@pytest.mark.parametrize("bits", [0, 17, -1, 64])
def test_width_out_of_range_is_a_config_error(bits: int) -> None:
    with pytest.raises(ConfigError, match=r"host\.vmid_bits.*out of range \(1\.\.16\)"):
        VmidAllocator(bits)


def test_sixteen_bits_is_the_widest() -> None:
    assert VmidAllocator(16).capacity == 0xFFFF
