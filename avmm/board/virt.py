"""The virt board: a whole machine assembled from a VM's config onto a host.

:meth:`Board.build` assembles one VM in visible phases, as kvmtool and
Firecracker do: memory -> core (vCPUs) -> interrupt controllers -> devices
(syscon, RTC, UART) -> virtio -> boot. :meth:`Board.close` tears it down in
reverse. Nothing registers itself on import; the layout comes from
:func:`avmm.board.layout.plan` and the boot images from :mod:`avmm.board.boot`.

:meth:`Board.run` runs the VM until it ends. A reboot (SBI SRST, syscon
0x7777) resets the harts and devices and boots again from the same images;
a poweroff ends the run with the guest's exit code. Disks are flushed when
the VM stops. :func:`run_config` runs every VM of a config on one host, with
the virtio-net switches shared by name.

    config = avmm.config.load("configs/linux-check.toml")
    results = avmm.run(run_config(config))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from avmm.board import boot
from avmm.board.hostio import ConsoleHub, Switches, open_console, tell_user
from avmm.board.layout import (
    RTC_BASE,
    RTC_IRQ,
    SYSCON_BASE,
    UART_BASE,
    UART_IRQ,
    Layout,
    Slot,
    mac_address,
    parse_mac,
    plan,
)
from avmm.board.layout import describe as describe_config
from avmm.config import Config, VmConfig, parse_host_port
from avmm.constants import CLINT_BASE, PLIC_BASE, PLIC_NDEV
from avmm.devices.base import CharBackend, MmioDevice, NetPort
from avmm.devices.rtc import GoldfishRtc
from avmm.devices.syscon import SifiveTest
from avmm.devices.uart import Ns16550a
from avmm.errors import ConfigError
from avmm.runtime.exits import SystemEvent, SystemEventKind
from avmm.runtime.host import Host
from avmm.runtime.vm import Vm, VmResult

if TYPE_CHECKING:
    from avmm.devices.backends.block import RawImage
    from avmm.devices.backends.overlay import OverlayImage
    from avmm.devices.virtio.device import VirtioDevice
    from avmm.gdb import GdbServer

_log = logging.getLogger("avmm.board")

__all__ = ["Board", "build_config", "describe_config", "run_config"]


class Board:
    """One VM of the virt board, its devices and their host backends."""

    def __init__(self, host: Host, config: VmConfig, layout: Layout) -> None:
        self.host = host
        self.config = config
        self.layout = layout
        self.vm: Vm | None = None
        self.hub: ConsoleHub | None = None
        self.console_where = ""  # "pty /dev/pts/3", "tcp 127.0.0.1:4321", ...
        self.devices: dict[str, MmioDevice] = {}  # by name, in layout order
        self.disks: list[RawImage | OverlayImage] = []
        self.net_ports: list[NetPort] = []
        self.boot_state: boot.BootState | None = None
        self.reboots = 0
        self.result: VmResult | None = None
        self._closed = False
        self._notify: Callable[[str], None] = tell_user

    # ------------------------------------------------------------ assembly

    @classmethod
    async def build(
        cls,
        host: Host,
        config: VmConfig,
        *,
        switches: Switches | None = None,
        console: CharBackend | None = None,
        notify: Callable[[str], None] = tell_user,
    ) -> Board:
        """Assemble ``config`` on ``host``; the board is ready to :meth:`run`.

        ``console`` replaces the backend the config names (tests pass a
        :class:`~avmm.runtime.console.CaptureConsole`). ``notify`` receives the lines a
        user needs (where a pty or TCP console is). On any failure everything
        already built is released and the error is raised.
        """
        board = cls(host, config, plan(config))
        try:
            board._notify = notify
            await board._console(console, notify)
            vm = board._core()
            board._memory(vm)
            board._vcpus(vm)
            board._irqchip(vm)
            board._devices(vm)
            board._virtio(vm, switches if switches is not None else Switches())
            board._boot(vm)
        except BaseException:
            await board.close()
            if board.vm is not None:
                host.vms.pop(board.vm.name, None)
            raise
        host.on_shutdown(board.close)
        return board

    async def _console(self, backend: CharBackend | None, notify: Callable[[str], None]) -> None:
        if backend is None:
            backend, self.console_where = await open_console(
                self.config.console, self.config.name, on_quit=self.host.request_stop, notify=notify
            )
        else:
            self.console_where = type(backend).__name__
        self.hub = ConsoleHub(backend)

    def _core(self) -> Vm:
        assert self.hub is not None
        config = self.config
        self.vm = self.host.create_vm(
            config.name, irqchip=config.irqchip, sstc=config.sstc, console=self.hub.port()
        )
        return self.vm

    def _memory(self, vm: Vm) -> None:
        vm.add_memory_slot(self.layout.ram_base, self.layout.ram_size)

    def _vcpus(self, vm: Vm) -> None:
        for _ in range(self.layout.vcpus):
            vm.create_vcpu()

    def _irqchip(self, vm: Vm) -> None:
        vm.setup_irqchip(clint_base=CLINT_BASE, plic_base=PLIC_BASE, ndev=PLIC_NDEV)

    def _add(self, vm: Vm, slot: Slot, device: MmioDevice) -> None:
        vm.add_device(slot.base, device, name=slot.name)
        self.devices[slot.name] = device

    def _devices(self, vm: Vm) -> None:
        assert self.hub is not None
        layout = self.layout
        syscon = layout.slot("syscon")
        assert syscon.base == SYSCON_BASE
        self._add(vm, syscon, SifiveTest(vm, name=syscon.name))
        rtc_slot = layout.slot("rtc")
        assert (rtc_slot.base, rtc_slot.irq) == (RTC_BASE, RTC_IRQ)
        rtc = GoldfishRtc(
            vm.irq_line(RTC_IRQ),
            vm.wall_clock,
            name=rtc_slot.name,
            on_deadline=lambda _deadline: vm.deadlines_changed(),
        )
        self._add(vm, rtc_slot, rtc)
        vm.add_wall_alarm(rtc)
        uart = layout.slot("uart")
        assert (uart.base, uart.irq) == (UART_BASE, UART_IRQ)
        self._add(vm, uart, Ns16550a(self.hub.port(), vm.irq_line(UART_IRQ), name=uart.name))

    def _virtio(self, vm: Vm, switches: Switches) -> None:
        if not self.layout.virtio:
            return
        # Imported here: a board without virtio devices does not load them.
        from avmm.devices.virtio.mmio import VirtioMmio

        for slot in self.layout.virtio:
            assert slot.irq is not None
            device = self._virtio_device(vm, slot, switches)
            self._add(vm, slot, VirtioMmio(device, vm.guest_memory, vm.irq_line(slot.irq)))

    def _virtio_device(self, vm: Vm, slot: Slot, switches: Switches) -> VirtioDevice:
        assert self.hub is not None
        config = self.config
        if slot.kind == "virtio-blk":
            from avmm.devices.backends.block import RawImage, ensure_image
            from avmm.devices.backends.overlay import OverlayImage
            from avmm.devices.virtio.blk import VirtioBlk

            disk = config.disks[slot.index]
            if disk.create is not None and ensure_image(disk.path, disk.create):
                self._notify(f"avmm: {config.name}: created blank disk {disk.path} ({disk.create})")
            image: RawImage | OverlayImage
            if disk.overlay is not None:
                image = OverlayImage(disk.path, disk.overlay)
            else:
                image = RawImage(disk.path, read_only=disk.read_only)
            self.disks.append(image)
            return VirtioBlk(
                image, vm.spawner, read_only=disk.read_only, serial=disk.serial, name=slot.name
            )
        if slot.kind == "virtio-net":
            from avmm.devices.backends.net import NullNet, UdpLink
            from avmm.devices.virtio.net import VirtioNet

            net = config.nets[slot.index]
            port: NetPort
            if net.switch:
                port = switches.get(net.switch).port()
            elif net.listen is not None and net.peer is not None:
                listen, peer = parse_host_port(net.listen), parse_host_port(net.peer)
                assert listen is not None and peer is not None  # checked with the config
                port = UdpLink(listen, peer)
            else:
                port = NullNet()
            self.net_ports.append(port)
            mac = parse_mac(net.mac) if net.mac else mac_address(config.name, slot.index)
            return VirtioNet(port, mac=mac, name=slot.name)
        if slot.kind == "virtio-rng":
            from avmm.devices.virtio.rng import VirtioRng

            return VirtioRng(name=slot.name)
        if slot.kind == "virtio-console":
            from avmm.devices.virtio.console import VirtioConsole

            return VirtioConsole(self.hub.port(), name=slot.name)
        raise AssertionError(f"unknown virtio slot {slot.kind}")

    def _boot(self, vm: Vm) -> None:
        seed = rng_seed(self.host, self.config.name, self.reboots)
        self.boot_state = boot.load(vm, self.layout, self.config.boot, rng_seed=seed)

    # ----------------------------------------------------------------- run

    async def run(self, *, max_reboots: int | None = None) -> VmResult:
        """Run until the VM powers off, fails or is stopped; reboots start it again.

        With ``max_reboots``, a reboot past that many ends the run with the
        reboot as its result (a guest that reboots in a loop).
        """
        vm = self._built()
        gdb = await self._gdb(vm)
        try:
            while True:
                result = await vm.run()
                exit = result.exit
                if not (isinstance(exit, SystemEvent) and exit.kind is SystemEventKind.REBOOT):
                    break
                if max_reboots is not None and self.reboots >= max_reboots:
                    break
                await self.reboot()
        finally:
            await self.flush()
            if gdb is not None:
                await gdb.close()
        self.result = result
        return result

    async def _gdb(self, vm: Vm) -> GdbServer | None:
        """The gdb server of ``[vm.gdb]``, listening before the first instruction."""
        config = self.config.gdb
        if config is None:
            return None
        from avmm.gdb import Listen, serve

        listen = Listen.parse(config.listen, "vm.gdb.listen")
        server = await serve(vm, listen, wait=config.wait, idle_timeout=config.idle_timeout or None)
        waiting = ", waiting for it to start the VM" if config.wait else ""
        self._notify(f"avmm: {vm.name}: gdb server at {server.address}{waiting}")
        return server

    async def reboot(self) -> None:
        """Restart the machine from its boot state: device work finished, devices and
        harts reset, the images loaded again."""
        vm = self._built()
        await vm.spawner.drain()
        for device in self.devices.values():
            reset = getattr(device, "reset", None)
            if reset is not None:
                reset()
        vm.reset()
        self._boot(vm)
        self.reboots += 1
        _log.info("%s: reboot %d", vm.name, self.reboots)

    async def flush(self) -> None:
        """Finish device work and write every disk's data through to its image."""
        if self.vm is not None:
            await self.vm.spawner.drain()
        for disk in self.disks:
            if not disk.read_only:
                try:
                    await disk.flush()
                except Exception as err:  # a failing host disk must not hide the result
                    _log.error("%s: flushing %s failed: %s", self.config.name, disk.path, err)

    async def close(self) -> None:
        """Tear down in reverse: disks flushed and closed, net ports, the console."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            await self.flush()
        for disk in reversed(self.disks):
            disk.close()
        for port in reversed(self.net_ports):
            port.close()
        if self.hub is not None:
            self.hub.close()

    def _built(self) -> Vm:
        if self.vm is None or self.boot_state is None:
            raise ConfigError(self.config.name, "the board is not built")
        return self.vm

    # --------------------------------------------------------------- views

    @property
    def console_backend(self) -> CharBackend | None:
        return self.hub.backend if self.hub is not None else None

    def device_stats(self) -> dict[str, dict[str, Any]]:
        """Each device's counters as plain data (for the metrics exporter)."""
        from avmm.devices.virtio.mmio import VirtioMmio

        out: dict[str, dict[str, Any]] = {}
        for name, device in self.devices.items():
            stats: dict[str, Any] = {}
            if isinstance(device, VirtioMmio):
                stats.update(_stats(device.device))
                stats.update({f"transport_{k}": v for k, v in _stats(device).items()})
            else:
                stats.update(_stats(device))
            out[name] = stats
        return out

    def dtb(self) -> bytes:
        """The device tree blob the guest was given, read back from its RAM."""
        vm = self._built()
        state = self.boot_state
        assert state is not None
        return vm.guest_memory.read(state.dtb, state.dtb_size)

    def describe(self) -> dict[str, Any]:
        """The resolved machine as plain data: layout, console, boot images."""
        data = describe_config(self.config)
        data["console"] = self.console_where
        if self.boot_state is not None:
            data["boot"]["loaded"] = self.boot_state.describe()
        data["reboots"] = self.reboots
        return data


def _stats(owner: object) -> dict[str, Any]:
    value = getattr(owner, "stats", None)
    return attrs.asdict(value) if value is not None and attrs.has(type(value)) else {}


# ----------------------------------------------------------------- configs


def _check_host_resources(config: Config, replaced: frozenset[str]) -> None:
    stdio = [
        vm.name for vm in config.vm if vm.console.backend == "stdio" and vm.name not in replaced
    ]
    if len(stdio) > 1:
        index = next(i for i, vm in enumerate(config.vm) if vm.name == stdio[1])
        raise ConfigError(
            f"vm[{index}].console.backend",
            f"stdio is already the console of {stdio[0]} (use pty, tcp, file or null)",
        )


async def build_config(
    host: Host,
    config: Config,
    *,
    consoles: dict[str, CharBackend] | None = None,
    switches: Switches | None = None,
    notify: Callable[[str], None] = tell_user,
) -> list[Board]:
    """Every VM of ``config`` as a board on ``host``, the switches shared by name.
    ``consoles`` replaces the console backend of the VMs it names."""
    _check_host_resources(config, frozenset(consoles or ()))
    switches = switches if switches is not None else Switches()
    boards = []
    for vm in config.vm:
        override = (consoles or {}).get(vm.name)
        boards.append(
            await Board.build(host, vm, switches=switches, console=override, notify=notify)
        )
    return boards


async def run_config(
    config: Config,
    *,
    consoles: dict[str, CharBackend] | None = None,
    notify: Callable[[str], None] = tell_user,
    max_reboots: int | None = None,
) -> dict[str, VmResult]:
    """Build and run every VM of ``config`` on a new host; their results by name."""
    async with Host.from_config(config) as host:
        boards = await build_config(host, config, consoles=consoles, notify=notify)
        results = await asyncio.gather(*(b.run(max_reboots=max_reboots) for b in boards))
    return {r.name: r for r in results}


RNG_SEED_BYTES = 64


def rng_seed(host: Host, vm: str, boot_count: int) -> bytes:
    """``/chosen/rng-seed`` for one boot of ``vm``: entropy for the kernel's crng at
    its first instruction, as QEMU's virt gives (without it Linux waits for
    virtio-rng or jitter before its crng is ready).

    From the host's CSPRNG, except under the deterministic policy, where it is
    derived from the scheduler's seed, the VM's name and the boot count, so runs
    stay reproducible (and each reboot still gets a new seed).
    """
    if host.policy_name != "deterministic":
        return os.urandom(RNG_SEED_BYTES)
    import hashlib  # only the deterministic policy: a quick launch does not load it

    return hashlib.sha512(f"avmm rng-seed {host.seed} {vm} {boot_count}".encode()).digest()
