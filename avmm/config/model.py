"""The config data model: frozen attrs classes, one per TOML table.

What a config file can say and which values are valid; nothing here knows
TOML or dicts (:mod:`avmm.config.parse` turns a file into these classes).
Validators raise :class:`FieldError` naming the key inside its table.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import attrs

from avmm.constants import (
    DEFAULT_SLICE,
    MAX_PCPUS,
    MAX_SLICE,
    MAX_VCPUS,
    RAM_BASE,
    ClockName,
    Irqchip,
    PolicyName,
)

Policy = PolicyName
ClockMode = ClockName
BootMode = Literal["direct", "firmware"]
ConsoleBackend = Literal["stdio", "null", "file", "pty", "tcp"]


# ------------------------------------------------------------------ sizes

_SIZE = re.compile(r"^\s*(\d+)\s*(|B|K|KiB|M|MiB|G|GiB|T|TiB)\s*$")
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class Size(int):
    """A byte count written as an integer or with a binary unit (``256MiB``)."""

    @classmethod
    def parse(cls, value: object) -> Size:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a size")
        if isinstance(value, int):
            return cls(value)
        if isinstance(value, str) and (m := _SIZE.match(value)):
            return cls(int(m.group(1)) * _UNITS[m.group(2)[:1]])
        raise ValueError(f"{show_value(value)} is not a size (use e.g. 256MiB or 1GiB)")

    def __str__(self) -> str:
        for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
            if self and self % (1 << shift) == 0:
                return f"{self >> shift}{unit}"
        return f"{int(self)}B"


def show_value(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


# ---------------------------------------------------------------- validators


class FieldError(ValueError):
    """A value failed validation; ``key`` names it inside its table."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(reason)


def _in_range(lo: int, hi: int) -> Any:
    def check(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
        if not lo <= value <= hi:
            raise FieldError(attr.name, f"{value} is out of range ({lo}..{hi})")

    return check


def _positive(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise FieldError(attr.name, f"{value} must be at least 1")


def _port(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= 65535:
        raise FieldError(attr.name, f"{value} is not a TCP port (0..65535; 0 picks a free one)")


# ------------------------------------------------------------------ schema


@attrs.frozen
class HostConfig:
    """The process: modelled host CPUs and the VMID allocator they share."""

    pcpus: int = attrs.field(default=1, validator=_in_range(1, MAX_PCPUS))
    vmid_bits: int = attrs.field(default=8, validator=_in_range(1, 16))


@attrs.frozen
class SchedConfig:
    """How vCPUs are interleaved on the pCPUs and how guest time passes."""

    policy: Policy = "round-robin"
    slice: int = attrs.field(default=DEFAULT_SLICE, validator=_in_range(1, MAX_SLICE))
    clock: ClockMode = "host"
    ips: int = attrs.field(default=100_000_000, validator=_in_range(1_000, 10**12))
    seed: int = attrs.field(default=0, validator=_in_range(0, 2**64 - 1))
    pause_exit: bool = False
    pause_window: int = attrs.field(default=1, validator=_positive)
    directed_yield: bool = True


@attrs.frozen
class MetricsConfig:
    """The Prometheus exporter."""

    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = attrs.field(default=9464, validator=_port)


@attrs.frozen
class ConsoleConfig:
    """Where the guest's serial console goes."""

    backend: ConsoleBackend = "stdio"
    path: Path | None = None  # file backend
    listen: str = "127.0.0.1"  # tcp backend
    port: int = attrs.field(default=0, validator=_port)  # tcp backend
    wait: bool = False  # tcp backend: the guest starts once a client connected (QEMU's server,wait)


_GDB_LISTEN = re.compile(r"^(unix:.+|(tcp:)?([\w.\-]*|\[[0-9a-fA-F:]+\]):?\d{1,5})$")


def _gdb_listen(_inst: object, attr: attrs.Attribute[str], value: str) -> None:
    if not _GDB_LISTEN.match(value):
        raise FieldError(attr.name, f'"{value}" is not HOST:PORT, :PORT, PORT or unix:PATH')


def _non_negative(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise FieldError(attr.name, f"{value} must be at least 0")


@attrs.frozen
class GdbConfig:
    """A gdb remote protocol server for the VM (``[vm.gdb]``)."""

    listen: str = attrs.field(default="127.0.0.1:1234", validator=_gdb_listen)
    wait: bool = False  # no instruction runs until a debugger continues (QEMU's -S)
    idle_timeout: float = attrs.field(default=0.0, validator=_non_negative)  # seconds, 0: none


@attrs.frozen
class BootConfig:
    """Direct boot (the kernel starts in S-mode, avmm answers SBI) or firmware boot
    (an M-mode image such as OpenSBI or a bare-metal ELF starts at reset)."""

    mode: BootMode = "direct"
    kernel: Path | None = None
    initrd: Path | None = None
    cmdline: str = ""
    firmware: Path | None = None


@attrs.frozen
class DiskConfig:
    """A virtio-blk disk backed by a raw image file.

    With ``create``, avmm makes a blank (sparse) image of that size the first
    time the file does not exist, like ``truncate -s``; an existing file is used
    as it is.
    """

    path: Path
    read_only: bool = False
    serial: str = ""
    create: Size | None = attrs.field(default=None)
    # copy-on-write: the guest's writes go to this file and ``path`` (the base) is
    # opened read-only, so many runs can share one base image (and one snapshot)
    overlay: Path | None = attrs.field(default=None)

    @create.validator
    def _create(self, attr: attrs.Attribute[Size | None], value: Size | None) -> None:
        if value is None:
            return
        if value < 512 or value % 512:
            raise FieldError("create", f"{value} is not a whole number of 512-byte sectors")
        if self.read_only:
            raise FieldError("create", "a disk avmm creates must be writable (read_only = false)")

    @overlay.validator
    def _overlay(self, attr: attrs.Attribute[Path | None], value: Path | None) -> None:
        if value is not None and self.read_only:
            raise FieldError("overlay", "an overlay takes the writes; drop read_only = true")


@attrs.frozen
class NetConfig:
    """A virtio-net interface on an in-process switch, a UDP link to a VM in another
    avmm process (``peer``, with ``listen``), or neither: a null backend."""

    switch: str | None = None
    mac: str | None = None
    listen: str | None = attrs.field(default=None)  # HOST:PORT the link receives on
    peer: str | None = None  # HOST:PORT of the other end

    @listen.validator
    def _link(self, attr: attrs.Attribute[str | None], value: str | None) -> None:
        if (value is None) != (self.peer is None):
            raise FieldError(
                "peer" if value is not None else "listen", "a link needs both listen and peer"
            )
        if value is not None and self.switch is not None:
            raise FieldError("switch", "a NIC is on a switch or on a link (listen/peer), not both")


@attrs.frozen
class VmConfig:
    """One virtual machine on the virt board."""

    name: str = ""
    memory: Size = attrs.field(default=Size(256 << 20), converter=Size)
    vcpus: int = attrs.field(default=1, validator=_in_range(1, MAX_VCPUS))
    irqchip: Irqchip = "core"
    sstc: bool = True
    boot: BootConfig = BootConfig()
    console: ConsoleConfig = ConsoleConfig()
    disks: tuple[DiskConfig, ...] = ()
    nets: tuple[NetConfig, ...] = ()
    rng: bool = False
    virtio_console: bool = False
    gdb: GdbConfig | None = None
    restore: Path | None = None  # a snapshot file to start from (avmm.snapshot)

    @memory.validator
    def _memory(self, attr: attrs.Attribute[Size], value: Size) -> None:
        if value < 16 << 20:
            raise FieldError("memory", f"{value} is less than the 16MiB minimum")
        if value % (1 << 20):
            raise FieldError("memory", f"{value} is not a whole number of MiB")
        if value > 0x80_0000_0000 - RAM_BASE:
            raise FieldError("memory", f"{value} is more RAM than the board can map")

    @property
    def virtio_devices(self) -> int:
        return len(self.disks) + len(self.nets) + int(self.rng) + int(self.virtio_console)


TraceEvent = Literal["exits", "interrupts", "traps", "sbi", "mmio", "insns"]


def _trace_range(_inst: object, attr: attrs.Attribute[str], value: str) -> None:
    if value and parse_range(value) is None:
        raise FieldError(attr.name, f'"{value}" is not LO-HI (e.g. 0x80000000-0x80200000)')


def parse_host_port(spec: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (an IPv4 address or name; ``:PORT`` means 127.0.0.1), or None."""
    host, sep, port = spec.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        return None
    return host or "127.0.0.1", int(port)


def parse_range(text: str) -> tuple[int, int] | None:
    """``LO-HI`` (inclusive, any base Python reads) or None."""
    lo, sep, hi = text.partition("-")
    try:
        a, b = int(lo, 0), int(hi, 0)
    except ValueError:
        return None
    return (a, b) if sep and 0 <= a <= b < 2**64 else None


@attrs.frozen
class TraceConfig:
    """QEMU's -d for avmm: what to trace, where to, and for which vCPUs/addresses."""

    events: tuple[TraceEvent, ...] = ()  # none: tracing is off
    file: Path = Path("avmm-trace.jsonl")
    vcpus: tuple[int, ...] = ()  # none: every vCPU
    range: str = attrs.field(default="", validator=_trace_range)  # "LO-HI"; "": everything
    max_lines: int = attrs.field(default=1_000_000, validator=_positive)


def _positive_seconds(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if not value > 0 or value == float("inf"):
        raise FieldError(attr.name, f"{value} is not a positive number of seconds")


@attrs.frozen
class SeriesConfig:
    """Metric series: chosen metrics sampled every ``interval`` host seconds into a
    JSON-lines file, for the whole run (``/metrics`` shows only the present)."""

    metrics: tuple[str, ...] = ()  # sample names as /metrics shows them; none: off
    file: Path = Path("avmm-series.jsonl")
    interval: float = attrs.field(default=1.0, validator=_positive_seconds)
    max_samples: int = attrs.field(default=1_000_000, validator=_positive)


def _api_listen(_inst: object, attr: attrs.Attribute[str], value: str) -> None:
    if value and not re.fullmatch(r"(([\w.\-]*|\[[0-9a-fA-F:]+\]):)?\d{1,5}", value):
        raise FieldError(attr.name, f'"{value}" is not PORT, :PORT or HOST:PORT')


@attrs.frozen
class ApiConfig:
    """The control API (``avmm ctl``): off unless a socket path or a TCP address is set."""

    path: Path | None = None  # a Unix socket
    listen: str = attrs.field(default="", validator=_api_listen)  # TCP, 127.0.0.1 by default
    max_clients: int = attrs.field(default=8, validator=_in_range(1, 1024))
    idle_timeout: float = attrs.field(default=600.0, validator=_non_negative)  # seconds, 0: none

    @property
    def enabled(self) -> bool:
        return self.path is not None or bool(self.listen)


@attrs.frozen
class Config:
    """A whole config file: the host, the scheduler, metrics, and one or more VMs."""

    version: Literal[1]
    vm: tuple[VmConfig, ...]
    host: HostConfig = HostConfig()
    sched: SchedConfig = SchedConfig()
    metrics: MetricsConfig = MetricsConfig()
    trace: TraceConfig = TraceConfig()
    series: SeriesConfig = SeriesConfig()
    api: ApiConfig = ApiConfig()
    source: Path | None = attrs.field(default=None, eq=False)
