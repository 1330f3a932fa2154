"""The bare-metal demo guests on the virt board (firmware boot of an ELF), under both
irqchip placements; the same ELFs on QEMU's virt as a cross-check of the guests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from avmm.runtime.exits import HtifExit, SystemEvent, SystemEventKind
from guests.lib.qemu import qemu_command
from tests.board.boardrig import blank_disk, run_vm, vm_config

pytestmark = pytest.mark.slow

IRQCHIPS = ["core", "python"]
SECTOR = 512
SHUTDOWN_0 = SystemEvent(0, SystemEventKind.SHUTDOWN, 0)


def firmware(elf: Path, *, vcpus: int = 1, irqchip: str = "core", **vm: object) -> dict:
    return {
        "vm": {
            "name": "demo",
            "vcpus": vcpus,
            "memory": "128MiB",
            "irqchip": irqchip,
            "boot": {"mode": "firmware", "firmware": str(elf)},
            "console": {"backend": "null"},
            **vm,
        }
    }


def blk_pattern(sector: int, offset: int) -> int:
    """guests/demo/blk.h: what virtio-blk.elf writes."""
    return (sector * 131 + offset * 7 + (offset >> 8) + 0x5A) & 0xFF


@pytest.mark.parametrize("irqchip", IRQCHIPS)
async def test_hello_prints_what_the_device_tree_says(demo: Path, irqchip: str) -> None:
    boot = {"mode": "firmware", "firmware": str(demo / "hello.elf"), "cmdline": "quiet demo=1"}
    config = vm_config(firmware(demo / "hello.elf", vcpus=2, irqchip=irqchip, boot=boot))
    run = await run_vm(config)
    assert run.result.exit == SHUTDOWN_0, run.console
    assert run.result.code == 0
    assert run.console.startswith("Hello from hart 0 of an RV64GC virt board!\n")
    assert 'model "avmm virt", 2 hart(s), isa rv64imafdc' in run.console
    assert "128 MiB of RAM at 0x80000000" in run.console
    assert 'hello: bootargs "quiet demo=1"' in run.console


@pytest.mark.parametrize("irqchip", IRQCHIPS)
async def test_smp_demo_every_hart_counts_exactly(demo: Path, irqchip: str) -> None:
    config = vm_config(firmware(demo / "smp-demo.elf", vcpus=4, irqchip=irqchip))
    run = await run_vm(config)
    out = run.console
    assert run.result.exit == SHUTDOWN_0, out
    assert "smp-demo: 4 harts (from the device tree)" in out
    assert sorted(re.findall(r"^hart (\d): up after", out, re.M)) == ["0", "1", "2", "3"]
    rows = re.findall(r"^ +(\d) \| +(\d+) +\d+ +\d+ \| +(\d+) +\d+ \| +(\d+) +(\d+) \|", out, re.M)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (str(h), "20000", "60000", "50") for h in range(4)
    ], out
    assert "spinlock: counter 80000 of 80000" in out and "0 violations" in out
    assert "atomics:  amoadd.d 80000, amoadd.w 80000, lr/sc 80000 of 80000 each" in out
    assert "ipi ring: 50 laps around 4 harts, 200 IPIs" in out
    assert out.rstrip().endswith("smp-demo: PASS 4 harts")


@pytest.mark.parametrize("irqchip", IRQCHIPS)
async def test_timer_ticks_arrive_after_their_deadlines(demo: Path, irqchip: str) -> None:
    config = vm_config(firmware(demo / "timer.elf", irqchip=irqchip))
    run = await run_vm(config)
    assert run.result.exit == SHUTDOWN_0, run.console
    assert len(re.findall(r"^tick +\d+ at ", run.console, re.M)) == 10
    assert re.search(
        r"^timer: 10 ticks, \d+ wakeups from wfi, 0 early, .*: PASS$", run.console, re.M
    )


@pytest.mark.parametrize("irqchip", IRQCHIPS)
async def test_virtio_blk_guest_writes_reads_back_and_the_image_has_the_data(
    demo: Path, irqchip: str, tmp_path: Path
) -> None:
    disk = blank_disk(tmp_path / "disk.img")
    vm = {"disks": [{"path": str(disk), "serial": "board-test"}]}
    run = await run_vm(vm_config(firmware(demo / "virtio-blk.elf", irqchip=irqchip, **vm)))
    out = run.console
    assert run.result.exit == SHUTDOWN_0, out
    assert 'virtio-blk: 2048 sectors (1024 KiB), id "board-test"' in out
    assert "read 32 sectors back in one request: 0 bytes differ" in out
    assert "status 1 (IOERR, as it should)" in out
    image = disk.read_bytes()
    want = bytes(blk_pattern(16 + i // SECTOR, i % SECTOR) for i in range(32 * SECTOR))
    assert image[16 * SECTOR : 48 * SECTOR] == want  # flushed to the file when the VM stopped
    assert image[: 16 * SECTOR] == bytes(16 * SECTOR)
    assert run.stats["virtio-blk0"]["write_bytes"] == 32 * SECTOR


@pytest.mark.parametrize("irqchip", IRQCHIPS)
async def test_a_hostile_guest_leaves_the_vmm_running_and_the_image_untouched(
    demo: Path, irqchip: str, tmp_path: Path
) -> None:
    disk = tmp_path / "disk.img"
    original = bytes((i * 7 + 3) & 0xFF for i in range(1 << 20))
    disk.write_bytes(original)
    vm = {"disks": [{"path": str(disk)}]}
    run = await run_vm(vm_config(firmware(demo / "virtio-hostile.elf", irqchip=irqchip, **vm)))
    out = run.console
    # The VMM ran the guest to its own end: every broken request was refused.
    assert run.result.exit == SHUTDOWN_0, out
    assert len(re.findall(r"-> device needs reset$", out, re.M)) == 7, out
    first = " ".join(f"{b:02x}" for b in original[:16])
    assert f"sector 0 reads {first} (status 0)" in out
    assert "virtio-hostile: PASS 7 broken requests refused" in out
    assert disk.read_bytes() == original
    assert run.stats["virtio-blk0"]["transport_needs_reset"] == 7
    assert run.stats["virtio-blk0"]["write_bytes"] == 0


@pytest.mark.parametrize("irqchip", IRQCHIPS)
async def test_reboot_through_the_syscon_boots_the_images_again(demo: Path, irqchip: str) -> None:
    run = await run_vm(vm_config(firmware(demo / "reboot.elf", vcpus=2, irqchip=irqchip)))
    out = run.console
    assert run.result.exit == SHUTDOWN_0, out
    assert re.findall(r"^reboot: boot (\d)$", out, re.M) == ["0", "1", "2"]
    assert "reboot: PASS after 2 reboots" in out
    assert run.board.reboots == 2
    assert run.stats["syscon"]["reboots"] == 2


async def test_a_reboot_loop_ends_at_max_reboots(demo: Path) -> None:
    run = await run_vm(vm_config(firmware(demo / "reboot.elf")), max_reboots=1)
    assert run.result.exit == SystemEvent(0, SystemEventKind.REBOOT, 0)
    assert run.board.reboots == 1
    assert re.findall(r"^reboot: boot (\d)$", run.console, re.M) == ["0", "1"]


_UART_IDLE = re.compile(
    r"^uart-idle: (\d+) external interrupts, (\d+) LSR reads in ([\d.]+) ms at the prompt: (\w+)$",
    re.M,
)


@pytest.mark.parametrize("irqchip", IRQCHIPS)
async def test_an_xv6_style_console_idles_at_its_prompt_without_an_interrupt_storm(
    demo: Path, irqchip: str
) -> None:
    # The guest enables THRE interrupts and never reads IIR, so the UART's
    # line stays high; QEMU's PLIC delivers that once, not at every completion.
    run = await run_vm(vm_config(firmware(demo / "uart-idle.elf", vcpus=3, irqchip=irqchip)))
    assert run.result.exit == SHUTDOWN_0, run.console
    assert "$ " in run.console
    found = _UART_IDLE.search(run.console)
    assert found, run.console
    externals, elapsed_ms = int(found[1]), float(found[3])
    assert elapsed_ms >= 500
    assert externals / (elapsed_ms / 1000) < 50, run.console
    assert found[4] == "PASS"
    assert run.stats["uart"]["interrupts"] <= externals


def _qemu(elf: Path, harts: int, *extra: str) -> subprocess.CompletedProcess[bytes]:
    argv = [*qemu_command(elf, machine="virt", harts=harts), *extra]
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)


def test_the_demo_guests_pass_on_qemu_virt_too(demo: Path, tmp_path: Path) -> None:
    smp = _qemu(demo / "smp-demo.elf", 4)
    assert smp.returncode == 0, smp.stdout.decode(errors="replace")
    assert b"smp-demo: PASS 4 harts" in smp.stdout
    disk = blank_disk(tmp_path / "q.img")
    blk = _qemu(
        demo / "virtio-blk.elf",
        1,
        "-global",
        "virtio-mmio.force-legacy=false",
        "-drive",
        f"file={disk},format=raw,if=none,id=d0",
        "-device",
        "virtio-blk-device,drive=d0",
    )
    assert blk.returncode == 0, blk.stdout.decode(errors="replace")
    assert b"virtio-blk: PASS" in blk.stdout
    idle = _qemu(demo / "uart-idle.elf", 3)
    assert idle.returncode == 0, idle.stdout.decode(errors="replace")
    found = _UART_IDLE.search(idle.stdout.decode())
    assert found and found[4] == "PASS", idle.stdout.decode(errors="replace")


@pytest.fixture(scope="module")
def selftest() -> Path:
    from guests.build import build

    return build("lib-selftest", quiet=True)


async def test_a_firmware_elf_with_tohost_gets_htif(selftest: Path) -> None:
    run = await run_vm(vm_config(firmware(selftest / "exit7.elf")))
    assert run.result.exit == HtifExit(0, 7)
    assert run.result.code == 7
    hello = await run_vm(vm_config(firmware(selftest / "hello.elf")))
    assert hello.result.exit == HtifExit(0, 0)
    assert "hello" in hello.console.lower()
    assert hello.board.boot_state is not None and hello.board.boot_state.htif is not None


async def test_the_syscon_exit_code_is_the_vms(selftest: Path) -> None:
    run = await run_vm(vm_config(firmware(selftest / "exit7-virt.elf")))
    assert run.result.exit == SystemEvent(0, SystemEventKind.SHUTDOWN, 7)
    assert run.result.code == 7
    assert run.board.boot_state is not None and run.board.boot_state.htif is None
