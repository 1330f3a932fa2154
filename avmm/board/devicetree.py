"""Flattened device tree (DTB, version 17) writer and the virt board's tree.

:class:`FdtNode` builds a tree with typed properties (u32 and u64 cells,
strings, string lists, raw bytes, empty flags); :func:`to_dtb` flattens it into
the header, memory reservation map, structure block and strings block of the
devicetree specification (section 5). :func:`virt_device_tree` describes a VM
as Linux and OpenSBI expect on QEMU's ``virt`` board (README, "The machine"):
harts with their interrupt controllers, memory, CLINT, PLIC, the devices and
``/chosen``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import attrs

from avmm.constants import (
    CLINT_BASE,
    CLINT_SIZE,
    PLIC_BASE,
    PLIC_NDEV,
    PLIC_SIZE,
    RAM_BASE,
    TIMEBASE_HZ,
)

FDT_MAGIC = 0xD00DFEED
FDT_VERSION = 17
FDT_LAST_COMP_VERSION = 16
FDT_BEGIN_NODE = 1
FDT_END_NODE = 2
FDT_PROP = 3
FDT_END = 9
HEADER_SIZE = 40

UART_CLOCK_HZ = 3_686_400
IRQ_S_SOFT, IRQ_M_SOFT = 1, 3
IRQ_S_TIMER, IRQ_M_TIMER = 5, 7
IRQ_S_EXT, IRQ_M_EXT = 9, 11
POWEROFF_VALUE = 0x5555
REBOOT_VALUE = 0x7777


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


class FdtNode:
    """A device tree node: properties (in insertion order) and child nodes."""

    def __init__(self, name: str) -> None:
        if "\0" in name or "/" in name:
            raise ValueError(f"invalid node name {name!r}")
        self.name = name
        self.properties: dict[str, bytes] = {}
        self.children: list[FdtNode] = []

    def child(self, name: str) -> FdtNode:
        """Add and return a new child node."""
        if any(c.name == name for c in self.children):
            raise ValueError(f"node {self.name!r} already has a child {name!r}")
        node = FdtNode(name)
        self.children.append(node)
        return node

    def find(self, path: str) -> FdtNode:
        """The descendant at a path relative to this node ("cpus/cpu@0")."""
        node = self
        for part in filter(None, path.split("/")):
            for c in node.children:
                if c.name == part:
                    node = c
                    break
            else:
                raise KeyError(f"no node {path!r} under {self.name or '/'}")
        return node

    def set_bytes(self, name: str, value: bytes) -> FdtNode:
        if not 0 < len(name) <= 31 or "\0" in name:
            raise ValueError(f"invalid property name {name!r}")
        self.properties[name] = bytes(value)
        return self

    def set_empty(self, name: str) -> FdtNode:
        """A property with no value (a flag such as ``interrupt-controller``)."""
        return self.set_bytes(name, b"")

    def set_u32(self, name: str, *cells: int) -> FdtNode:
        """One or more 32-bit big-endian cells."""
        for c in cells:
            if not 0 <= c <= 0xFFFF_FFFF:
                raise ValueError(f"{name}: cell {c:#x} does not fit 32 bits")
        return self.set_bytes(name, struct.pack(f">{len(cells)}I", *cells))

    def set_u64(self, name: str, *values: int) -> FdtNode:
        """64-bit values, each as two cells (high, low)."""
        for v in values:
            if not 0 <= v <= 0xFFFF_FFFF_FFFF_FFFF:
                raise ValueError(f"{name}: value {v:#x} does not fit 64 bits")
        return self.set_bytes(name, struct.pack(f">{len(values)}Q", *values))

    def set_str(self, name: str, value: str) -> FdtNode:
        return self.set_strs(name, value)

    def set_strs(self, name: str, *values: str) -> FdtNode:
        """A string list (each NUL-terminated)."""
        for v in values:
            if "\0" in v:
                raise ValueError(f"{name}: string {v!r} contains NUL")
        return self.set_bytes(name, b"".join(v.encode() + b"\0" for v in values))


def to_dtb(
    root: FdtNode,
    *,
    reservations: Iterable[tuple[int, int]] = (),
    boot_cpuid: int = 0,
) -> bytes:
    """Flatten a tree into a DTB blob (version 17)."""
    strings = bytearray()
    offsets: dict[str, int] = {}

    def name_offset(name: str) -> int:
        if name not in offsets:
            offsets[name] = len(strings)
            strings.extend(name.encode() + b"\0")
        return offsets[name]

    structure = bytearray()

    def emit(node: FdtNode) -> None:
        structure.extend(struct.pack(">I", FDT_BEGIN_NODE))
        structure.extend(_pad4(node.name.encode() + b"\0"))
        for name, value in node.properties.items():
            structure.extend(struct.pack(">III", FDT_PROP, len(value), name_offset(name)))
            structure.extend(_pad4(value))
        for c in node.children:
            emit(c)
        structure.extend(struct.pack(">I", FDT_END_NODE))

    if root.name:
        raise ValueError("the root node's name must be empty")
    emit(root)
    structure.extend(struct.pack(">I", FDT_END))

    rsvmap = bytearray()
    for address, size in reservations:
        rsvmap.extend(struct.pack(">QQ", address, size))
    rsvmap.extend(struct.pack(">QQ", 0, 0))

    off_rsvmap = HEADER_SIZE  # 8-byte aligned, as the map must be
    off_struct = off_rsvmap + len(rsvmap)
    off_strings = off_struct + len(structure)
    total = off_strings + len(strings)
    header = struct.pack(
        ">10I",
        FDT_MAGIC,
        total,
        off_struct,
        off_strings,
        off_rsvmap,
        FDT_VERSION,
        FDT_LAST_COMP_VERSION,
        boot_cpuid,
        len(strings),
        len(structure),
    )
    return header + bytes(rsvmap) + bytes(structure) + bytes(strings)


# ---------------------------------------------------------------------- the virt board

DEVICE_KINDS = ("uart", "syscon", "rtc", "virtio")
_NODE_NAMES = {"uart": "serial", "syscon": "test", "rtc": "rtc", "virtio": "virtio_mmio"}
MMU_TYPES = ("sv39", "sv48", "sv57", "")


def _check_kind(instance: object, attribute: object, value: str) -> None:
    if value not in DEVICE_KINDS:
        raise ValueError(f"unknown device kind {value!r} (one of {', '.join(DEVICE_KINDS)})")


@attrs.frozen
class DeviceSpec:
    """One MMIO device on the board: ``kind`` is uart, syscon, rtc or virtio."""

    kind: str = attrs.field(validator=_check_kind)
    base: int
    size: int
    irq: int | None = None


def _check_mmu(instance: object, attribute: object, value: str) -> None:
    if value not in MMU_TYPES:
        raise ValueError(f"unknown mmu type {value!r} (sv39, sv48, sv57 or '' for none)")


@attrs.frozen
class BoardSpec:
    """What the device tree of a virt-board VM says.

    ``devices`` appear in the tree in the order given; Linux probes them in
    that order, so the first virtio-blk listed becomes ``vda``.
    ``stdout_path`` defaults to the first UART. ``initrd`` is (start, end).
    """

    harts: int
    isa: str
    memory_size: int
    memory_base: int = RAM_BASE
    mmu: str = attrs.field(default="sv48", validator=_check_mmu)
    timebase_hz: int = TIMEBASE_HZ
    bootargs: str = ""
    stdout_path: str | None = None
    initrd: tuple[int, int] | None = None
    clint_base: int = CLINT_BASE
    plic_base: int = PLIC_BASE
    plic_ndev: int = PLIC_NDEV
    devices: tuple[DeviceSpec, ...] = ()
    reservations: tuple[tuple[int, int], ...] = ()
    rng_seed: bytes = b""  # /chosen/rng-seed: entropy for the kernel's early crng

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.harts <= 4095:
            raise ValueError(f"hart count {self.harts} out of range 1..4095")
        if self.memory_size <= 0:
            raise ValueError("memory size must be positive")
        if self.initrd is not None and not 0 <= self.initrd[0] <= self.initrd[1]:
            raise ValueError(f"initrd range {self.initrd} is inverted")
        for dev in self.devices:
            if dev.kind in ("uart", "rtc", "virtio") and dev.irq is None:
                raise ValueError(f"{dev.kind} at {dev.base:#x} needs an irq")
            if dev.irq is not None and not 0 < dev.irq < self.plic_ndev:
                raise ValueError(f"{dev.kind} at {dev.base:#x}: irq {dev.irq} out of range")


def isa_extensions(isa: str) -> tuple[str, list[str]]:
    """``riscv,isa-base`` and ``riscv,isa-extensions`` of an ISA string:
    ``rv64imafdc_zicsr`` -> (``rv64i``, [i, m, a, f, d, c, zicsr])."""
    head, *multi = isa.lower().split("_")
    if not head.startswith(("rv32", "rv64")) or len(head) < 5:
        raise ValueError(f"ISA string {isa!r} does not start with rv32/rv64 and a base")
    letters = list(head[4:])
    return head[:4] + letters[0], letters + [m for m in multi if m]


def isa_string(base: str, *, sstc: bool = False) -> str:
    """The ``riscv,isa`` string: the core's ISA, plus ``_sstc`` when stimecmp is on."""
    return f"{base}_sstc" if sstc and "_sstc" not in base else base


def device_node_name(dev: DeviceSpec) -> str:
    return f"{_NODE_NAMES[dev.kind]}@{dev.base:x}"


def virt_tree(board: BoardSpec) -> FdtNode:
    """The virt board's tree as nodes (before flattening)."""
    next_phandle = iter(range(1, 1 << 31))
    root = FdtNode("")
    root.set_u32("#address-cells", 2).set_u32("#size-cells", 2)
    root.set_strs("compatible", "avmm,virt", "riscv-virtio")
    root.set_str("model", "avmm virt")

    chosen = root.child("chosen")
    aliases = root.child("aliases")

    cpus = root.child("cpus")
    cpus.set_u32("#address-cells", 1).set_u32("#size-cells", 0)
    cpus.set_u32("timebase-frequency", board.timebase_hz)
    intc_phandles = []
    cpu_phandles = []
    for hart in range(board.harts):
        cpu = cpus.child(f"cpu@{hart:x}")
        cpu_phandles.append(next(next_phandle))
        cpu.set_u32("phandle", cpu_phandles[-1])
        cpu.set_str("device_type", "cpu")
        cpu.set_u32("reg", hart)
        cpu.set_str("status", "okay")
        cpu.set_str("compatible", "riscv")
        cpu.set_str("riscv,isa", board.isa)
        # The newer binding (Linux >= 6.7 reads only these unless built with
        # RISCV_ISA_FALLBACK; QEMU >= 8.2 writes both).
        base, extensions = isa_extensions(board.isa)
        cpu.set_str("riscv,isa-base", base)
        cpu.set_strs("riscv,isa-extensions", *extensions)
        if board.mmu:
            cpu.set_str("mmu-type", f"riscv,{board.mmu}")
        intc = cpu.child("interrupt-controller")
        intc_phandles.append(next(next_phandle))
        intc.set_u32("#interrupt-cells", 1)
        intc.set_u32("#address-cells", 0)
        intc.set_empty("interrupt-controller")
        intc.set_str("compatible", "riscv,cpu-intc")
        intc.set_u32("phandle", intc_phandles[-1])
    cluster = cpus.child("cpu-map").child("cluster0")
    for hart, phandle in enumerate(cpu_phandles):
        cluster.child(f"core{hart}").set_u32("cpu", phandle)

    memory = root.child(f"memory@{board.memory_base:x}")
    memory.set_str("device_type", "memory")
    memory.set_u64("reg", board.memory_base, board.memory_size)

    soc = root.child("soc")
    soc.set_u32("#address-cells", 2).set_u32("#size-cells", 2)
    soc.set_str("compatible", "simple-bus")
    soc.set_empty("ranges")

    clint = soc.child(f"clint@{board.clint_base:x}")
    clint.set_strs("compatible", "sifive,clint0", "riscv,clint0")
    clint.set_u64("reg", board.clint_base, CLINT_SIZE)
    clint.set_u32(
        "interrupts-extended",
        *(c for p in intc_phandles for c in (p, IRQ_M_SOFT, p, IRQ_M_TIMER)),
    )

    plic_phandle = next(next_phandle)
    plic = soc.child(f"plic@{board.plic_base:x}")
    plic.set_u32("phandle", plic_phandle)
    plic.set_strs("compatible", "sifive,plic-1.0.0", "riscv,plic0")
    plic.set_u64("reg", board.plic_base, PLIC_SIZE)
    plic.set_u32("#address-cells", 0)
    plic.set_u32("#interrupt-cells", 1)
    plic.set_empty("interrupt-controller")
    plic.set_u32("riscv,ndev", board.plic_ndev)
    # Context 2h is hart h's M-mode, 2h+1 its S-mode.
    plic.set_u32(
        "interrupts-extended",
        *(c for p in intc_phandles for c in (p, IRQ_M_EXT, p, IRQ_S_EXT)),
    )

    uart_paths: list[str] = []
    test_phandle: int | None = None
    for dev in board.devices:
        node = soc.child(device_node_name(dev))
        if dev.kind == "uart":
            node.set_str("compatible", "ns16550a")
            node.set_u32("clock-frequency", UART_CLOCK_HZ)
            uart_paths.append(f"/soc/{node.name}")
        elif dev.kind == "syscon":
            node.set_strs("compatible", "sifive,test1", "sifive,test0", "syscon")
            if test_phandle is None:
                test_phandle = next(next_phandle)
                node.set_u32("phandle", test_phandle)
        elif dev.kind == "rtc":
            node.set_str("compatible", "google,goldfish-rtc")
        else:
            node.set_str("compatible", "virtio,mmio")
        node.set_u64("reg", dev.base, dev.size)
        if dev.irq is not None:
            node.set_u32("interrupt-parent", plic_phandle)
            node.set_u32("interrupts", dev.irq)

    if test_phandle is not None:
        for name, value in (("poweroff", POWEROFF_VALUE), ("reboot", REBOOT_VALUE)):
            node = root.child(name)
            node.set_str("compatible", f"syscon-{name}")
            node.set_u32("regmap", test_phandle)
            node.set_u32("offset", 0)
            node.set_u32("value", value)

    for index, path in enumerate(uart_paths):
        aliases.set_str(f"serial{index}", path)
    if not aliases.properties:
        root.children.remove(aliases)

    if board.bootargs:
        chosen.set_str("bootargs", board.bootargs)
    stdout = board.stdout_path or (uart_paths[0] if uart_paths else None)
    if stdout:
        chosen.set_str("stdout-path", stdout)
    if board.initrd is not None:
        chosen.set_u64("linux,initrd-start", board.initrd[0])
        chosen.set_u64("linux,initrd-end", board.initrd[1])
    if board.rng_seed:
        chosen.set_bytes("rng-seed", board.rng_seed)
    return root


def virt_device_tree(board: BoardSpec) -> bytes:
    """The DTB blob for a virt-board VM."""
    return to_dtb(virt_tree(board), reservations=board.reservations)
