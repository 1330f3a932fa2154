"""OpenSBI and Linux on avmm, with every board device from this package.

The loaders put OpenSBI (fw_dynamic), the kernel, the initramfs, the device
tree and fw_dynamic_info in RAM; the guest's self-check then exercises the
UART, the RTC, the virtio devices (writing and re-reading the disk) and powers
off through the SiFive test device.

A hang is reported with the hart's pc, mip, mie and mstatus: a stuck SEIP in
mip with nothing pending in the PLIC means a CSRRS/CSRRC on mip copied the
external SEIP line into the software bit (only the software-writable SEIP bit
may take part in that read-modify-write).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import attrs
import pytest
from devfakes import FakeChar

from avmm import _core
from avmm.board.devicetree import BoardSpec, DeviceSpec, virt_device_tree
from avmm.board.loader import LinuxImage, fw_dynamic_info, load_raw, place_dtb, place_initrd
from avmm.devices.backends import NullChar, NullNet, RawImage
from avmm.devices.rtc import GoldfishRtc
from avmm.devices.syscon import SifiveTest
from avmm.devices.uart import Ns16550a
from avmm.devices.virtio import VirtioBlk, VirtioConsole, VirtioMmio, VirtioNet, VirtioRng
from avmm.runtime.exits import SystemEvent, SystemEventKind
from avmm.runtime.host import Host

pytestmark = pytest.mark.slow

RAM, RAM_SIZE = 0x8000_0000, 256 << 20
FW_DYNAMIC = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin")
BOOT_GUARD = 120.0  # seconds before a hung boot fails the test (not a measurement)


@pytest.fixture(scope="module")
def guest() -> tuple[Path, Path]:
    from guests.build import build

    return build("linux", quiet=True) / "Image", build("initramfs", quiet=True) / (
        "initramfs.cpio.gz"
    )


async def boot(
    kernel_path: Path, initrd_path: Path, disk_path: Path, *, irqchip: str, harts: int
) -> tuple[object, str]:
    console = FakeChar()
    async with Host(clock="host") as host:
        vm = host.create_vm("fw", irqchip="python" if irqchip == "python" else "core")
        vm.add_memory_slot(RAM, RAM_SIZE)
        for _ in range(harts):
            vm.create_vcpu()
        vm.setup_irqchip()
        vm.add_device(0x1000_0000, Ns16550a(console, vm.irq_line(10)))
        vm.add_device(0x10_0000, SifiveTest(vm))
        rtc = GoldfishRtc(
            vm.irq_line(11), vm.wall_clock, on_deadline=lambda _: vm.deadlines_changed()
        )
        vm.add_device(0x10_1000, rtc)
        vm.add_wall_alarm(rtc)
        disk = RawImage(disk_path)
        virtio = [
            VirtioBlk(disk, vm.spawner, serial="avmm-test"),
            VirtioRng(),
            VirtioConsole(NullChar()),
            VirtioNet(NullNet(), mac=bytes.fromhex("525400000001")),
        ]
        specs = [
            DeviceSpec("syscon", 0x10_0000, 0x1000),
            DeviceSpec("rtc", 0x10_1000, 0x1000, irq=11),
            DeviceSpec("uart", 0x1000_0000, 0x100, irq=10),
        ]
        for n, device in enumerate(virtio):
            base = 0x1000_1000 + n * 0x1000
            vm.add_device(base, VirtioMmio(device, vm.guest_memory, vm.irq_line(1 + n)))
            specs.append(DeviceSpec("virtio", base, 0x1000, irq=1 + n))

        memory = vm.guest_memory
        kernel = LinuxImage.parse(kernel_path)
        entry = kernel.load(memory, RAM)
        board = BoardSpec(
            harts=harts,
            isa=_core.ISA,
            memory_size=RAM_SIZE,
            bootargs="console=ttyS0 earlycon avmm.check=1",
            devices=tuple(specs),
            initrd=(0, 0),  # the same size as the final tree, to place it
        )
        dtb_top = (RAM + RAM_SIZE - len(virt_device_tree(board))) & ~((2 << 20) - 1)
        initrd = place_initrd(memory, initrd_path, below=dtb_top, above=RAM + kernel.end_offset)
        dtb = place_dtb(
            memory,
            virt_device_tree(attrs.evolve(board, initrd=initrd)),
            ram_base=RAM,
            ram_size=RAM_SIZE,
        )
        assert dtb == dtb_top
        load_raw(memory, FW_DYNAMIC, RAM)
        info = entry - 0x1000  # below the kernel, above OpenSBI
        memory.write(info, fw_dynamic_info(entry, 1, boot_hart=0))
        vm.reset_all(RAM)  # every hart enters OpenSBI, a0 = hartid
        for vcpu in vm.vcpus:
            vcpu.hart.set_x(11, dtb)
            vcpu.hart.set_x(12, info)
        try:
            result = await asyncio.wait_for(vm.run(), BOOT_GUARD)
        except TimeoutError:
            hart = vm.vcpus[0].hart
            csr = _core.CSRS
            pytest.fail(
                f"no poweroff within {BOOT_GUARD:.0f} s: pc={hart.pc:#x} priv={hart.priv} "
                f"mip={hart.get_csr(csr['mip']):#x} mie={hart.get_csr(csr['mie']):#x} "
                f"mstatus={hart.get_csr(csr['mstatus']):#x}\n"
                + console.output.decode(errors="replace")[-2000:]
            )
        finally:
            disk.close()
        return result.exit, console.output.decode(errors="replace")


@pytest.mark.parametrize(("irqchip", "harts"), [("core", 1), ("python", 2)])
def test_opensbi_and_linux_boot_and_the_self_check_passes(
    guest: tuple[Path, Path], tmp_path: Path, irqchip: str, harts: int
) -> None:
    """With the in-core irqchip, and with this package's CLINT and PLIC models."""
    kernel, initrd = guest
    disk = tmp_path / "disk.img"
    with disk.open("wb") as f:
        f.truncate(1 << 20)
    for boots in (0, 1):
        exit, console = asyncio.run(boot(kernel, initrd, disk, irqchip=irqchip, harts=harts))
        assert f"avmm-check: cpus online={harts} present={harts}" in console
        assert "Platform Name             : avmm virt" in console
        assert "ttyS0 at MMIO 0x10000000" in console
        assert "goldfish_rtc 101000.rtc: registered as rtc0" in console
        assert "[vda] 2048 512-byte logical blocks" in console
        assert f"avmm-check: disk boots={boots} ok" in console, console[-3000:]
        assert "avmm-check: PASS" in console, console[-3000:]
        assert exit == SystemEvent(0, SystemEventKind.SHUTDOWN, 0)
