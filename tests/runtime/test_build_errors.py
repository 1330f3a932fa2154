"""A VM that cannot be built raises a clear error before anything runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from avmm import config
from avmm.errors import ConfigError
from avmm.runtime.host import Host, VmSpec, new_event_loop, run

RAM = 0x8000_0000


@pytest.mark.parametrize("bits", [0, 17])
def test_vmid_width_out_of_range(bits: int) -> None:
    with pytest.raises(ConfigError, match=r"^host\.vmid_bits: .*out of range \(1\.\.16\)"):
        Host(vmid_bits=bits)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"pcpus": 0}, "host.pcpus"),
        ({"policy": "fifo"}, "sched.policy"),
        ({"clock": "wall"}, "sched.clock"),
        ({"policy": "deterministic", "clock": "host"}, "sched.clock"),
        ({"slice": 0}, "sched.slice"),
        ({"pause_window": 0}, "sched.pause_window"),
    ],
)
def test_bad_host_settings(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        Host(**kwargs)  # type: ignore[arg-type]
    assert info.value.path == key


async def test_zero_vcpus_is_refused_before_anything_is_built() -> None:
    host = Host()
    with pytest.raises(ConfigError, match=r"vm0\.vcpus: 0 is out of range \(1\.\.64\)"):
        host.build_vm(VmSpec("vm0", vcpus=0))
    assert host.vms == {}


async def test_overlapping_memory_is_refused_before_anything_is_built() -> None:
    host = Host()
    spec = VmSpec("vm0", memory=((RAM, 0x100_0000), (RAM + 0x80_0000, 0x100_0000)))
    with pytest.raises(ConfigError) as info:
        host.build_vm(spec)
    assert info.value.path == "vm0.memory[1]"
    assert "overlaps memory slot 0" in str(info.value)
    assert host.vms == {}


async def test_overlapping_slot_added_later_names_the_other_slot() -> None:
    vm = Host().create_vm("vm0")
    vm.add_memory_slot(RAM, 1 << 20)
    with pytest.raises(ConfigError, match=r"0x800ff000\.\.0x80100000 overlaps memory slot 0"):
        vm.add_memory_slot(RAM + 0xFF000, 0x1000)


async def test_misaligned_slot() -> None:
    vm = Host().create_vm("vm0")
    with pytest.raises(ConfigError, match="not 4 KiB aligned"):
        vm.add_memory_slot(RAM + 0x10, 1 << 20)


async def test_running_a_vm_without_vcpus_is_an_error() -> None:
    vm = Host().create_vm("vm0")
    vm.add_memory_slot(RAM, 1 << 20)
    with pytest.raises(ConfigError, match="at least one vCPU"):
        await vm.run()


async def test_two_vms_with_one_name() -> None:
    host = Host()
    host.create_vm("a")
    with pytest.raises(ConfigError, match='"a" is used by two VMs'):
        host.create_vm("a")


async def test_device_over_ram_is_an_error() -> None:
    from tests.runtime.test_handlers import Regs

    vm = Host().create_vm("vm0")
    vm.add_memory_slot(RAM, 1 << 20)
    message = r"regs at 0x80000000\.\.0x80000100 overlaps memory slot 0"
    with pytest.raises(ConfigError, match=message):
        vm.add_device(RAM, Regs())


async def test_too_many_vcpus() -> None:
    vm = Host().create_vm("vm0")
    for _ in range(64):
        vm.create_vcpu()
    with pytest.raises(ConfigError, match="at most 64 vCPUs"):
        vm.create_vcpu()


async def test_host_from_a_config_file(tmp_path: Path) -> None:
    kernel = tmp_path / "Image"
    kernel.write_bytes(b"\0" * 64)
    path = tmp_path / "vm.toml"
    path.write_text(
        "version = 1\n[host]\npcpus = 3\nvmid_bits = 4\n"
        '[sched]\npolicy = "deterministic"\nclock = "virtual"\nseed = 9\nslice = 5000\n'
        "pause_exit = true\npause_window = 4\ndirected_yield = false\n"
        f'[vm]\nboot.kernel = "{kernel}"\n'
    )
    host = Host.from_config(config.load(path))
    assert len(host.pcpus) == 3 and host.vmids.bits == 4
    assert (host.policy_name, host.clock_name, host.seed, host.slice) == (
        "deterministic",
        "virtual",
        9,
        5000,
    )
    vm = host.create_vm("vm")
    assert vm.machine.pause_exit and vm.machine.pause_window == 4
    assert not vm.machine.ipi_exit


def test_uvloop_when_installed() -> None:
    import uvloop

    loop = new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert run(asyncio.sleep(0, "done")) == "done"
    finally:
        loop.close()
