"""Assembling the board from config: the layout, the device tree a real VM gets
(decompiled with dtc), consoles, shared switches, and clean failure."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path

import pytest

from avmm import config as avmm_config
from avmm.board.hostio import Switches
from avmm.board.layout import describe, mac_address, plan
from avmm.board.virt import Board, build_config, rng_seed
from avmm.errors import BootError, ConfigError, DeviceError
from avmm.runtime.console import CaptureConsole
from avmm.runtime.exits import SystemEvent, SystemEventKind
from avmm.runtime.host import Host
from tests.board.boardrig import blank_disk, vm_config


def _vm(tmp_path: Path, demo_elf: str = "/dev/null", **vm: object) -> avmm_config.VmConfig:
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"")
    data = {
        "vm": {
            "name": "box",
            "boot": {"mode": "firmware", "firmware": str(elf)},
            "console": {"backend": "null"},
            **vm,
        }
    }
    return vm_config(data).vm[0]


def test_devices_sit_at_the_virt_addresses_and_virtio_slots_fill_in_order(
    tmp_path: Path,
) -> None:
    disks = [{"path": str(blank_disk(tmp_path / f"d{i}.img"))} for i in range(2)]
    vm = _vm(
        tmp_path,
        disks=disks,
        nets=[{"switch": "lan"}],
        rng=True,
        virtio_console=True,
    )
    layout = plan(vm)
    got = [(s.name, s.base, s.size, s.irq) for s in layout.slots]
    assert got == [
        ("syscon", 0x10_0000, 0x1000, None),
        ("rtc", 0x10_1000, 0x1000, 11),
        ("uart", 0x1000_0000, 0x100, 10),
        ("virtio-blk0", 0x1000_1000, 0x1000, 1),
        ("virtio-blk1", 0x1000_2000, 0x1000, 2),
        ("virtio-net0", 0x1000_3000, 0x1000, 3),
        ("virtio-rng", 0x1000_4000, 0x1000, 4),
        ("virtio-console", 0x1000_5000, 0x1000, 5),
    ]
    data = describe(vm)
    json.dumps(data)  # plain data
    names = [d["name"] for d in data["devices"]]
    assert names[:2] == ["clint", "plic"]
    assert data["devices"][1] == {
        "name": "plic",
        "kind": "plic",
        "base": "0xc000000",
        "size": "0x600000",
        "ndev": 96,
    }
    assert data["memory"] == {"base": "0x80000000", "size": "0x10000000"}
    net = next(d for d in data["devices"] if d["name"] == "virtio-net0")
    assert net["backend"] == f"switch lan, mac {mac_address('box', 0).hex(':')}"


def test_default_macs_are_stable_unicast_and_differ_between_vms() -> None:
    macs = {mac_address(vm, i) for vm in ("a", "b") for i in range(2)}
    assert len(macs) == 4
    for mac in macs:
        assert mac[:3] == b"\x52\x54\x00"
        assert not mac[0] & 1
    assert mac_address("a", 0) == mac_address("a", 0)


async def test_the_device_tree_of_a_real_vm_shows_the_configured_machine(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    kernel, initrd = linux
    disk = blank_disk(tmp_path / "disk.img")
    config = vm_config(
        {
            "vm": {
                "name": "dt",
                "vcpus": 3,
                "memory": "192MiB",
                "sstc": True,
                "boot": {
                    "mode": "direct",
                    "kernel": str(kernel),
                    "initrd": str(initrd),
                    "cmdline": "console=ttyS0 quiet avmm.check=1",
                },
                "disks": [{"path": str(disk)}],
                "nets": [{"mac": "52:54:00:aa:bb:cc"}],
                "rng": True,
                "console": {"backend": "null"},
            }
        }
    )
    async with Host.from_config(config) as host:
        board = await Board.build(host, config.vm[0], console=CaptureConsole())
        blob = board.dtb()
        state = board.boot_state
        assert state is not None
        vm = board.vm
        assert vm is not None
        # Direct boot: hart 0 at the kernel with a1 = the tree, the others stopped.
        hart0 = vm.vcpus[0].hart
        assert (hart0.pc, hart0.get_x(10), hart0.get_x(11)) == (0x8020_0000, 0, state.dtb)
        assert [v.hsm_state.name for v in vm.vcpus] == ["STARTED", "STOPPED", "STOPPED"]
        described = board.describe()
        json.dumps(described)
        loaded = described["boot"]["loaded"]
        assert (loaded["mode"], loaded["entry"], loaded["dtb"]) == (
            "direct",
            "0x80200000",
            hex(state.dtb),
        )
        assert [i["what"].split()[0] for i in loaded["images"]] == ["kernel", "device", "initrd"]
        assert described["vcpus"] == 3 and described["reboots"] == 0
    (tmp_path / "vm.dtb").write_bytes(blob)
    dts = subprocess.run(
        ["dtc", "-I", "dtb", "-O", "dts", str(tmp_path / "vm.dtb")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.findall(r"\bcpu@(\d+) \{", dts) == ["0", "1", "2"]
    assert dts.count('riscv,isa = "rv64imafdc_zicntr_zicsr_zifencei_zihintpause_sstc";') == 3
    assert "reg = <0x00 0x80000000 0x00 0xc000000>;" in dts  # 192 MiB of RAM
    assert 'bootargs = "console=ttyS0 quiet avmm.check=1";' in dts
    assert 'stdout-path = "/soc/serial@10000000";' in dts
    initrd_region = next(r for r in state.regions if r.what.startswith("initrd"))
    assert f"linux,initrd-start = <0x00 {initrd_region.start:#x}>;" in dts
    assert f"linux,initrd-end = <0x00 {initrd_region.end:#x}>;" in dts
    assert initrd_region.end - initrd_region.start == initrd.stat().st_size
    assert "timebase-frequency = <0x989680>;" in dts  # 10 MHz
    for node, irq in (
        ("serial@10000000", 0x0A),
        ("rtc@101000", 0x0B),
        ("virtio_mmio@10001000", 0x01),
        ("virtio_mmio@10002000", 0x02),
        ("virtio_mmio@10003000", 0x03),
    ):
        body = dts.split(f"{node} {{", 1)[1].split("};", 1)[0]
        assert f"interrupts = <{irq:#04x}>;" in body, node
    assert "virtio_mmio@10004000" not in dts
    assert "test@100000 {" in dts
    assert "riscv,ndev = <0x60>;" in dts
    assert "clint@2000000 {" in dts and "plic@c000000 {" in dts
    assert "value = <0x5555>;" in dts and "value = <0x7777>;" in dts


async def test_a_tcp_console_says_where_it_listens_and_carries_the_guest_output(
    demo: Path,
) -> None:
    config = vm_config(
        {
            "vm": {
                "name": "tcp",
                "boot": {"mode": "firmware", "firmware": str(demo / "hello.elf")},
                "console": {"backend": "tcp", "port": 0},
            }
        }
    )
    said: list[str] = []
    async with Host.from_config(config) as host:
        (board,) = await build_config(host, config, notify=said.append)
        m = re.fullmatch(r"avmm: tcp: console on tcp 127\.0\.0\.1:(\d+)", said[0])
        assert m, said
        reader, writer = await asyncio.open_connection("127.0.0.1", int(m[1]))
        await asyncio.sleep(0.05)  # the server takes the client before the guest prints
        result = await asyncio.wait_for(board.run(), 60)
        assert board.describe()["console"] == f"tcp 127.0.0.1:{m[1]}"
        data = await asyncio.wait_for(reader.readuntil(b"bye\n"), 60)
        writer.close()
        await writer.wait_closed()
    assert result.exit == SystemEvent(0, SystemEventKind.SHUTDOWN, 0)
    assert data.startswith(b"Hello from hart 0 of an RV64GC virt board!\n")


async def test_vms_of_one_config_share_their_switches_by_name(demo: Path, tmp_path: Path) -> None:
    fw = {"mode": "firmware", "firmware": str(demo / "hello.elf")}
    null = {"backend": "null"}
    config = vm_config(
        {
            "vm": [
                {"name": "a", "boot": fw, "console": null, "nets": [{"switch": "lan"}]},
                {"name": "b", "boot": fw, "console": null, "nets": [{"switch": "lan"}, {}]},
                {"name": "c", "boot": fw, "console": null, "nets": [{"switch": "dmz"}]},
            ]
        }
    )
    switches = Switches()
    async with Host.from_config(config) as host:
        boards = await build_config(host, config, switches=switches)
        assert sorted(switches.names) == ["dmz", "lan"]
        assert len(switches["lan"].ports) == 2
        assert len(switches["dmz"].ports) == 1
        assert [len(b.net_ports) for b in boards] == [1, 2, 1]


def test_two_vms_cannot_both_have_the_terminal(demo: Path) -> None:
    fw = {"mode": "firmware", "firmware": str(demo / "hello.elf")}
    config = vm_config({"vm": [{"name": "a", "boot": fw}, {"name": "b", "boot": fw}]})

    async def build() -> None:
        async with Host.from_config(config) as host:
            await build_config(host, config)

    with pytest.raises(ConfigError, match=r"vm\[1\]\.console\.backend: stdio is already"):
        asyncio.run(build())


async def test_a_board_that_cannot_be_built_releases_what_it_opened(
    demo: Path, tmp_path: Path
) -> None:
    good = blank_disk(tmp_path / "good.img")
    bad = tmp_path / "bad.img"
    bad.write_bytes(b"QFI\xfb" + bytes(1020))  # a qcow2 header: refused
    console = CaptureConsole()
    config = vm_config(
        {
            "vm": {
                "name": "broken",
                "boot": {"mode": "firmware", "firmware": str(demo / "hello.elf")},
                "disks": [{"path": str(good)}, {"path": str(bad)}],
            }
        }
    )
    async with Host.from_config(config) as host:
        with pytest.raises(DeviceError, match="qcow2"):
            await Board.build(host, config.vm[0], console=console)
        assert host.vms == {}
        # The first disk was closed again: another VM may open it now.
        again = vm_config(
            {
                "vm": {
                    "name": "again",
                    "boot": {"mode": "firmware", "firmware": str(demo / "hello.elf")},
                    "disks": [{"path": str(good)}],
                }
            }
        )
        board = await Board.build(host, again.vm[0], console=CaptureConsole())
        assert [d.path for d in board.disks] == [good]


async def test_a_kernel_that_is_not_an_image_is_refused_by_name(demo: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "Image"
    bogus.write_bytes(b"\x00" * 4096)
    config = vm_config(
        {
            "vm": {
                "name": "bad-kernel",
                "boot": {"mode": "direct", "kernel": str(bogus)},
                "console": {"backend": "null"},
            }
        }
    )
    async with Host.from_config(config) as host:
        with pytest.raises(BootError, match=r"Image: not a RISC-V Linux Image"):
            await Board.build(host, config.vm[0])
        assert host.vms == {}


def _firmware_vm(memory: str, **boot: object) -> avmm_config.Config:
    return vm_config(
        {
            "vm": {
                "name": "tight",
                "memory": memory,
                "boot": {"mode": "firmware", **boot},
                "console": {"backend": "null"},
            }
        }
    )


async def test_boot_images_that_do_not_fit_are_refused_with_the_reason(
    demo: Path, linux: tuple[Path, Path], tmp_path: Path
) -> None:
    kernel = linux[0]
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(3 << 20))  # a raw firmware reaching past RAM + 2 MiB
    initrd = tmp_path / "initrd.cpio"
    initrd.write_bytes(bytes(40 << 20))
    cases = [
        (_firmware_vm("64MiB", firmware=str(big), kernel=str(kernel)), "overlaps"),
        (
            _firmware_vm(
                "32MiB", firmware=str(demo / "hello.elf"), kernel=str(kernel), initrd=str(initrd)
            ),
            "does not fit",
        ),
        (
            _firmware_vm("64MiB", firmware=str(demo / "hello.elf"), kernel=str(demo / "hello.elf")),
            "no room for fw_dynamic_info",
        ),
    ]
    for config, reason in cases:
        async with Host.from_config(config) as host:
            with pytest.raises(BootError, match=reason):
                await Board.build(host, config.vm[0])
            assert host.vms == {}


async def test_the_rng_seed_is_random_or_under_the_deterministic_policy_derived() -> None:
    async with Host(policy="deterministic", clock="virtual", seed=5) as host:
        first = rng_seed(host, "vm", 0)
        assert first == rng_seed(host, "vm", 0) and len(first) == 64
        assert first != rng_seed(host, "vm", 1)  # a reboot gets a new one
        assert first != rng_seed(host, "other", 0)
    async with Host(policy="deterministic", clock="virtual", seed=6) as host:
        assert first != rng_seed(host, "vm", 0)
    async with Host() as host:
        a, b = rng_seed(host, "vm", 0), rng_seed(host, "vm", 0)
        assert len(a) == 64 and a != b
