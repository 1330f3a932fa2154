"""The virt board's device tree: decompiled by dtc, read by fdtget, parsed by real firmware."""

from __future__ import annotations

import subprocess
from pathlib import Path

import attrs
import pytest

from avmm.board.devicetree import BoardSpec, DeviceSpec, isa_string, virt_device_tree

ISA = "rv64imafdc_zicntr_zicsr_zifencei_zihintpause"
QEMU_TIMEOUT = 120.0  # guard against a hung emulator, not a measurement


def board(
    harts: int = 2, *, bootargs: str = "", initrd: tuple[int, int] | None = None
) -> BoardSpec:
    devices = [
        DeviceSpec("syscon", 0x10_0000, 0x1000),
        DeviceSpec("rtc", 0x10_1000, 0x1000, irq=11),
        DeviceSpec("uart", 0x1000_0000, 0x100, irq=10),
    ]
    devices += [DeviceSpec("virtio", 0x1000_1000 + n * 0x1000, 0x1000, irq=1 + n) for n in range(8)]
    return BoardSpec(
        harts=harts,
        isa=ISA,
        memory_size=256 << 20,
        devices=tuple(devices),
        bootargs=bootargs,
        initrd=initrd,
    )


class Tree:
    """A blob on disk with dtc/fdtget helpers."""

    def __init__(self, blob: bytes, tmp_path: Path) -> None:
        self.path = tmp_path / "virt.dtb"
        self.path.write_bytes(blob)
        proc = subprocess.run(
            ["dtc", "-I", "dtb", "-O", "dts", str(self.path)],
            capture_output=True,
            text=True,
            check=True,
        )
        self.dts, self.dtc_messages = proc.stdout, proc.stderr

    def get(self, node: str, prop: str, kind: str = "x") -> str:
        return self._fdtget("-t", kind, node, prop)

    def cells(self, node: str, prop: str) -> list[int]:
        return [int(c, 16) for c in self.get(node, prop).split()]

    def children(self, node: str) -> list[str]:
        return self._fdtget("-l", node).splitlines()

    def props(self, node: str) -> list[str]:
        return self._fdtget("-p", node).splitlines()

    def _fdtget(self, *args: str) -> str:
        proc = subprocess.run(
            ["fdtget", str(self.path), *args], capture_output=True, text=True, check=True
        )
        return proc.stdout.strip()


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    spec = board(
        bootargs="console=ttyS0 earlycon",
        initrd=(0x8F00_0000, 0x8F12_3456),
    )
    return Tree(virt_device_tree(spec), tmp_path)


def test_dtc_decompiles_without_warnings(tree: Tree) -> None:
    assert tree.dtc_messages == ""


def test_root_uses_two_address_and_size_cells(tree: Tree) -> None:
    assert tree.cells("/", "#address-cells") == [2]
    assert tree.cells("/", "#size-cells") == [2]
    assert tree.cells("/soc", "#address-cells") == [2]
    assert tree.get("/soc", "compatible", "s") == "simple-bus"
    assert "ranges" in tree.props("/soc")


def test_cpus_have_timebase_and_interrupt_controllers(tree: Tree) -> None:
    assert tree.cells("/cpus", "timebase-frequency") == [10_000_000]
    assert [c for c in tree.children("/cpus") if c.startswith("cpu@")] == ["cpu@0", "cpu@1"]
    for hart in (0, 1):
        cpu = f"/cpus/cpu@{hart}"
        assert tree.get(cpu, "device_type", "s") == "cpu"
        assert tree.cells(cpu, "reg") == [hart]
        assert tree.get(cpu, "compatible", "s") == "riscv"
        assert tree.get(cpu, "status", "s") == "okay"
        assert tree.get(cpu, "riscv,isa", "s") == ISA
        assert tree.get(cpu, "riscv,isa-base", "s") == "rv64i"
        extensions = tree.get(cpu, "riscv,isa-extensions", "s").split()
        assert extensions[:6] == ["i", "m", "a", "f", "d", "c"]
        assert set(extensions[6:]) == {e for e in ISA.split("_")[1:]}
        assert tree.get(cpu, "mmu-type", "s") == "riscv,sv48"
        intc = f"{cpu}/interrupt-controller"
        assert tree.get(intc, "compatible", "s") == "riscv,cpu-intc"
        assert tree.cells(intc, "#interrupt-cells") == [1]
        assert "interrupt-controller" in tree.props(intc)


def test_plic_routes_m_and_s_external_interrupts_of_every_hart(tree: Tree) -> None:
    plic = "/soc/plic@c000000"
    assert tree.get(plic, "compatible", "s") == "sifive,plic-1.0.0 riscv,plic0"
    assert tree.cells(plic, "reg") == [0, 0x0C00_0000, 0, 0x60_0000]
    assert tree.cells(plic, "riscv,ndev") == [0x60]
    intcs = [tree.cells(f"/cpus/cpu@{h}/interrupt-controller", "phandle")[0] for h in (0, 1)]
    assert tree.cells(plic, "interrupts-extended") == [
        intcs[0], 11, intcs[0], 9, intcs[1], 11, intcs[1], 9,
    ]  # fmt: skip


def test_clint_routes_software_and_timer_interrupts(tree: Tree) -> None:
    clint = "/soc/clint@2000000"
    assert tree.get(clint, "compatible", "s") == "sifive,clint0 riscv,clint0"
    assert tree.cells(clint, "reg") == [0, 0x0200_0000, 0, 0x1_0000]
    intc0 = tree.cells("/cpus/cpu@0/interrupt-controller", "phandle")[0]
    assert tree.cells(clint, "interrupts-extended")[:4] == [intc0, 3, intc0, 7]


def test_devices_carry_compatible_reg_and_plic_interrupts(tree: Tree) -> None:
    plic = tree.cells("/soc/plic@c000000", "phandle")[0]
    uart = "/soc/serial@10000000"
    assert tree.get(uart, "compatible", "s") == "ns16550a"
    assert tree.get(uart, "clock-frequency", "u") == "3686400"
    assert tree.cells(uart, "interrupts") == [10]
    assert tree.cells(uart, "interrupt-parent") == [plic]
    rtc = "/soc/rtc@101000"
    assert tree.get(rtc, "compatible", "s") == "google,goldfish-rtc"
    assert tree.cells(rtc, "interrupts") == [11]
    for n in range(8):
        node = f"/soc/virtio_mmio@{0x1000_1000 + n * 0x1000:x}"
        assert tree.get(node, "compatible", "s") == "virtio,mmio"
        assert tree.cells(node, "reg") == [0, 0x1000_1000 + n * 0x1000, 0, 0x1000]
        assert tree.cells(node, "interrupts") == [1 + n]


def test_syscon_poweroff_and_reboot_point_at_the_test_device(tree: Tree) -> None:
    test = "/soc/test@100000"
    assert tree.get(test, "compatible", "s") == "sifive,test1 sifive,test0 syscon"
    phandle = tree.cells(test, "phandle")
    for node, value in (("/poweroff", 0x5555), ("/reboot", 0x7777)):
        assert tree.get(node, "compatible", "s") == f"syscon-{node[1:]}"
        assert tree.cells(node, "regmap") == phandle
        assert tree.cells(node, "offset") == [0]
        assert tree.cells(node, "value") == [value]


def test_chosen_has_bootargs_stdout_and_initrd(tree: Tree) -> None:
    assert tree.get("/chosen", "bootargs", "s") == "console=ttyS0 earlycon"
    assert tree.get("/chosen", "stdout-path", "s") == "/soc/serial@10000000"
    assert tree.cells("/chosen", "linux,initrd-start") == [0, 0x8F00_0000]
    assert tree.cells("/chosen", "linux,initrd-end") == [0, 0x8F12_3456]
    assert tree.cells("/memory@80000000", "reg") == [0, 0x8000_0000, 0, 0x1000_0000]
    assert tree.get("/memory@80000000", "device_type", "s") == "memory"


def test_phandles_are_unique(tree: Tree) -> None:
    handles = [line for line in tree.dts.splitlines() if "phandle =" in line]
    assert len(handles) == len(set(handles)) == 2 * 2 + 2  # cpus, intcs, plic, test


def test_sixty_four_harts(tmp_path: Path) -> None:
    tree = Tree(virt_device_tree(board(64)), tmp_path)
    assert tree.dtc_messages == ""
    cpus = [c for c in tree.children("/cpus") if c.startswith("cpu@")]
    assert len(cpus) == 64 and cpus[-1] == "cpu@3f"
    assert tree.cells("/cpus/cpu@3f", "reg") == [63]
    ext = tree.cells("/soc/plic@c000000", "interrupts-extended")
    assert len(ext) == 64 * 4
    intc63 = tree.cells("/cpus/cpu@3f/interrupt-controller", "phandle")[0]
    assert ext[-4:] == [intc63, 11, intc63, 9]  # context 127 = hart 63 S-mode
    assert len(tree.cells("/soc/clint@2000000", "interrupts-extended")) == 64 * 4


def test_sstc_and_mmu_options() -> None:
    assert isa_string("rv64imafdc", sstc=True) == "rv64imafdc_sstc"
    assert isa_string("rv64imafdc_sstc", sstc=True) == "rv64imafdc_sstc"
    assert isa_string("rv64imafdc") == "rv64imafdc"
    with pytest.raises(ValueError, match="mmu"):
        BoardSpec(harts=1, isa=ISA, memory_size=1 << 20, mmu="sv32")
    with pytest.raises(ValueError, match="kind"):
        DeviceSpec("gpu", 0, 0x1000)
    with pytest.raises(ValueError, match="irq"):
        BoardSpec(
            harts=1, isa=ISA, memory_size=1 << 20, devices=(DeviceSpec("uart", 0x1000, 0x100),)
        )


@pytest.mark.slow
def test_opensbi_on_qemu_parses_the_tree(tmp_path: Path) -> None:
    """Real firmware reads our 64-hart tree: harts, console, timer, reset devices."""
    dtb = tmp_path / "virt.dtb"
    dtb.write_bytes(virt_device_tree(board(64)))
    console = _qemu_until(
        ["-smp", "64", "-bios", "default", "-dtb", str(dtb)], "Boot HART ID", tmp_path
    )
    assert "Platform Name             : avmm virt" in console
    assert "Platform HART Count       : 64" in console
    assert "Platform Console Device   : uart8250" in console
    assert "Platform Timer Device     : aclint-mtimer @ 10000000Hz" in console
    assert "Platform Shutdown Device  : sifive_test" in console


@pytest.mark.slow
def test_linux_boots_to_userspace_with_the_tree(tmp_path: Path) -> None:
    """The guest kernel takes its bootargs, console, RTC and poweroff from our tree."""
    from guests.build import build

    kernel = build("linux", quiet=True) / "Image"
    initrd = build("initramfs", quiet=True) / "initramfs.cpio.gz"
    dtb = tmp_path / "virt.dtb"
    dtb.write_bytes(virt_device_tree(board(2, bootargs="console=ttyS0 earlycon avmm.check=nodisk")))
    console = _qemu_until(
        [
            "-smp", "2", "-bios", "default", "-dtb", str(dtb),
            "-kernel", str(kernel), "-initrd", str(initrd),
        ],
        "reboot: Power down",
        tmp_path,
    )  # fmt: skip
    assert "Kernel command line: console=ttyS0 earlycon avmm.check=nodisk" in console
    assert "ttyS0 at MMIO 0x10000000" in console
    assert "goldfish_rtc 101000.rtc: registered as rtc0" in console
    assert "plic@c000000: mapped 96 interrupts with 2 handlers for 4 contexts" in console
    assert "avmm-check: PASS" in console


def _qemu_until(args: list[str], marker: str, tmp_path: Path) -> str:
    """Run qemu-system-riscv64 -M virt until ``marker`` is printed; return the console."""
    log = tmp_path / "console.log"
    cmd = [
        "qemu-system-riscv64", "-M", "virt", "-m", "256M", "-nographic",
        "-monitor", "none", "-serial", f"file:{log}", *args,
    ]  # fmt: skip
    with subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL) as proc:
        try:
            deadline = QEMU_TIMEOUT
            step = 0.05
            while deadline > 0:
                if log.exists() and marker in log.read_text(errors="replace"):
                    break
                if proc.poll() is not None:
                    break
                try:
                    proc.wait(step)
                except subprocess.TimeoutExpired:
                    deadline -= step
        finally:
            if proc.poll() is None:
                proc.kill()
    console = log.read_text(errors="replace") if log.exists() else ""
    assert marker in console, console[-3000:]
    return console


def test_the_rng_seed_is_in_chosen_when_given(tmp_path: Path) -> None:
    seed = bytes(range(64))
    with_seed = Tree(virt_device_tree(attrs.evolve(board(), rng_seed=seed)), tmp_path)
    assert bytes(int(b, 16) for b in with_seed.get("/chosen", "rng-seed", "bx").split()) == seed
    (tmp_path / "none").mkdir()
    without = Tree(virt_device_tree(board()), tmp_path / "none")
    assert "rng-seed" not in without.props("/chosen")
