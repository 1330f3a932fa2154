"""The virt board's memory map, resolved from a VM's config as plain data.

The layout follows QEMU's ``virt`` (docs/ARCHITECTURE.md) so that images made for it run
unchanged: the SiFive test/syscon at 0x100000, the Goldfish RTC at 0x101000
(irq 11), the CLINT at 0x2000000, the PLIC at 0xc000000 (0x60 sources), the
NS16550A at 0x10000000 (irq 10), virtio-mmio slot n at 0x10001000 + n·0x1000
(irq 1 + n) and RAM at 0x80000000. Virtio slots are filled in a fixed order:
disks, nets, the entropy device, the virtio console.

Nothing is opened or built here: :func:`plan` only computes, so ``avmm
validate`` can show the machine a config describes, and the board
(:mod:`avmm.board.virt`) assembles exactly this plan.
"""

from __future__ import annotations

from typing import Any

import attrs

from avmm.board.devicetree import DeviceSpec
from avmm.config import VmConfig
from avmm.constants import (
    CLINT_BASE,
    CLINT_SIZE,
    PLIC_BASE,
    PLIC_NDEV,
    PLIC_SIZE,
    RAM_BASE,
    VIRTIO_SLOTS,
)

SYSCON_BASE = 0x0010_0000
RTC_BASE = 0x0010_1000
RTC_IRQ = 11
UART_BASE = 0x1000_0000
UART_SIZE = 0x100
UART_IRQ = 10
VIRTIO_BASE = 0x1000_1000
VIRTIO_STRIDE = 0x1000
VIRTIO_FIRST_IRQ = 1
MMIO_SIZE = 0x1000
KERNEL_OFFSET = 2 << 20  # direct boot and fw_dynamic's next stage: RAM + 2 MiB


@attrs.frozen
class Slot:
    """One device of the board: where it is, its interrupt, what backs it."""

    name: str  # unique in the VM: uart, syscon, rtc, virtio-blk0, virtio-net0, ...
    kind: str  # uart, syscon, rtc, clint, plic, virtio-blk, virtio-net, virtio-rng, virtio-console
    base: int
    size: int
    irq: int | None = None
    backend: str = ""  # human-readable: "disk.img (read-write)", "switch lan", ...
    index: int = 0  # the n of disks[n] / nets[n]

    def spec(self) -> DeviceSpec:
        """How the device tree describes this slot."""
        kind = "virtio" if self.kind.startswith("virtio-") else self.kind
        return DeviceSpec(kind, self.base, self.size, self.irq)

    def describe(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "base": f"{self.base:#x}",
            "size": f"{self.size:#x}",
        }
        if self.irq is not None:
            data["irq"] = self.irq
        if self.backend:
            data["backend"] = self.backend
        return data


@attrs.frozen
class Layout:
    """The resolved machine of one VM (before anything is built)."""

    name: str
    vcpus: int
    ram_base: int
    ram_size: int
    irqchip: str
    sstc: bool
    slots: tuple[Slot, ...]  # the MMIO devices, in device-tree order (not CLINT/PLIC)

    @property
    def virtio(self) -> tuple[Slot, ...]:
        return tuple(s for s in self.slots if s.kind.startswith("virtio-"))

    def slot(self, name: str) -> Slot:
        for s in self.slots:
            if s.name == name:
                return s
        raise KeyError(name)

    def device_specs(self) -> tuple[DeviceSpec, ...]:
        return tuple(s.spec() for s in self.slots)


def mac_address(vm: str, index: int) -> bytes:
    """A stable, locally administered unicast MAC for a VM's nets[index]: QEMU's
    52:54:00 prefix and three bytes from the VM's name, so VMs on one switch differ."""
    import hashlib  # only boards with networks: a quick launch does not load it

    digest = hashlib.sha256(f"{vm}/{index}".encode()).digest()
    return bytes((0x52, 0x54, 0x00)) + digest[:3]


def parse_mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def plan(config: VmConfig) -> Layout:
    """Where every device of ``config`` goes on the board."""
    if config.virtio_devices > VIRTIO_SLOTS:  # config validation says so first
        raise ValueError(f"{config.virtio_devices} virtio devices for {VIRTIO_SLOTS} slots")
    slots = [
        Slot("syscon", "syscon", SYSCON_BASE, MMIO_SIZE),
        Slot("rtc", "rtc", RTC_BASE, MMIO_SIZE, RTC_IRQ),
        Slot("uart", "uart", UART_BASE, UART_SIZE, UART_IRQ, _console_text(config)),
    ]
    virtio: list[tuple[str, str, int, str]] = []
    for i, disk in enumerate(config.disks):
        mode = "read-only" if disk.read_only else "read-write"
        if disk.overlay is not None:
            mode = f"read-only base, writes to the overlay {disk.overlay}"
        virtio.append((f"virtio-blk{i}", "virtio-blk", i, f"{disk.path} ({mode})"))
    for i, net in enumerate(config.nets):
        mac = parse_mac(net.mac) if net.mac else mac_address(config.name, i)
        where = f"switch {net.switch}" if net.switch else "unconnected"
        if net.peer is not None:
            where = f"UDP link on {net.listen} to {net.peer}"
        virtio.append((f"virtio-net{i}", "virtio-net", i, f"{where}, mac {mac.hex(':')}"))
    if config.rng:
        virtio.append(("virtio-rng", "virtio-rng", 0, "host entropy"))
    if config.virtio_console:
        virtio.append(("virtio-console", "virtio-console", 0, "the VM's console"))
    for n, (name, kind, index, backend) in enumerate(virtio):
        base = VIRTIO_BASE + n * VIRTIO_STRIDE
        slots.append(Slot(name, kind, base, MMIO_SIZE, VIRTIO_FIRST_IRQ + n, backend, index))
    return Layout(
        name=config.name,
        vcpus=config.vcpus,
        ram_base=RAM_BASE,
        ram_size=int(config.memory),
        irqchip=config.irqchip,
        sstc=config.sstc,
        slots=tuple(slots),
    )


def _console_text(config: VmConfig) -> str:
    console = config.console
    if console.backend == "file":
        return f"file {console.path}"
    if console.backend == "tcp":
        return f"tcp {console.listen}:{console.port or 'any port'}"
    return console.backend


def describe(config: VmConfig) -> dict[str, Any]:
    """The machine ``config`` describes, as plain data (``avmm validate``)."""
    layout = plan(config)
    boot = config.boot
    data: dict[str, Any] = {
        "name": layout.name,
        "vcpus": layout.vcpus,
        "memory": {"base": f"{layout.ram_base:#x}", "size": f"{layout.ram_size:#x}"},
        "irqchip": layout.irqchip,
        "sstc": layout.sstc,
        "boot": {
            "mode": boot.mode,
            "kernel": str(boot.kernel) if boot.kernel else None,
            "initrd": str(boot.initrd) if boot.initrd else None,
            "firmware": str(boot.firmware) if boot.firmware else None,
            "cmdline": boot.cmdline,
        },
        "devices": [
            {
                "name": "clint",
                "kind": "clint",
                "base": f"{CLINT_BASE:#x}",
                "size": f"{CLINT_SIZE:#x}",
            },
            {
                "name": "plic",
                "kind": "plic",
                "base": f"{PLIC_BASE:#x}",
                "size": f"{PLIC_SIZE:#x}",
                "ndev": PLIC_NDEV,
            },
            *(s.describe() for s in layout.slots),
        ],
    }
    return data
