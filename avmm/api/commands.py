"""The control API's commands: a table of names, argument specs and handlers.

A handler is a coroutine ``(controller, args) -> JSON-able value``; the
arguments arrive checked against its spec (unknown, missing and ill-typed
ones are InvalidArgument replies before it runs). A handler answers an
error by raising :class:`~avmm.api.protocol.ApiError`; any other
:class:`~avmm.errors.AvmmError` becomes a GenericError reply with its one
line, so a command built on a runtime call stays a few lines.

Every handler runs on the event loop's thread, between two slices (no slice
runs while Python code on the loop does), so what it reads is consistent and
what it changes takes effect at the next slice boundary.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from avmm.api.protocol import (
    COMMAND_NOT_FOUND,
    GENERIC_ERROR,
    INVALID_ARGUMENT,
    INVALID_STATE,
    NOT_FOUND,
    ApiError,
)
from avmm.errors import AvmmError, ConfigError
from avmm.runtime.exits import SystemEvent, SystemEventKind

if TYPE_CHECKING:
    from avmm.board.virt import Board
    from avmm.devices.base import IrqLine
    from avmm.runtime.host import Host
    from avmm.runtime.vm import Vm

_log = logging.getLogger("avmm.api")

MAX_CONSOLE_INPUT = 4096  # bytes of one console command


class Controller:
    """What the commands act on: the host, its boards by VM name, and the event
    sink of the server (``publish(name, data)``)."""

    def __init__(
        self,
        host: Host,
        boards: Mapping[str, Board],
        publish: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.host = host
        self.boards = dict(boards)
        self.publish = publish or (lambda _name, _data: None)
        self._lines: dict[tuple[str, int], IrqLine] = {}  # injected PLIC sources

    def vm(self, name: str | None) -> Vm:
        """The VM called ``name``; None names the only VM (an error with several)."""
        vms = self.host.vms
        if name is None:
            if len(vms) != 1:
                raise ApiError(INVALID_ARGUMENT, f"name a VM with vm=NAME (there are {len(vms)})")
            return next(iter(vms.values()))
        vm = vms.get(name)
        if vm is None:
            raise ApiError(NOT_FOUND, f'no VM called "{name}" (have: {", ".join(vms)})')
        return vm

    def vms(self, name: str | None) -> list[Vm]:
        """The VM ``name``, or every VM when None."""
        return list(self.host.vms.values()) if name is None else [self.vm(name)]

    def state(self, vm: Vm) -> str:
        """running, paused, resetting (a reboot under way) or ended."""
        board = self.boards.get(vm.name)
        if board is not None and board.result is not None:
            return "ended"
        result = vm.result
        if result is not None:
            exit = result.exit
            reboot = isinstance(exit, SystemEvent) and exit.kind is SystemEventKind.REBOOT
            return "resetting" if reboot and board is not None else "ended"
        return "paused" if vm.paused else "running"

    def plic_line(self, vm: Vm, source: int) -> IrqLine:
        """The control API's own input to PLIC ``source`` of ``vm`` (made once)."""
        key = (vm.name, source)
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = vm.irq_line(source)
        return line


# ------------------------------------------------------------------ arguments


@attrs.frozen
class Arg:
    """One argument: its JSON type (``str``, ``int``, ``bool``, ``list``), whether
    it is required, the values it may take, and a few words for ``commands``."""

    type: type
    help: str
    required: bool = False
    choices: tuple[str, ...] = ()


Handler = Callable[[Controller, dict[str, Any]], Awaitable[Any]]


@attrs.frozen
class Command:
    name: str
    handler: Handler
    help: str
    args: dict[str, Arg] = attrs.field(factory=dict)


def check_args(command: Command, raw: object) -> dict[str, Any]:
    """``raw`` checked against ``command``'s spec, or an InvalidArgument error."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ApiError(INVALID_ARGUMENT, '"arguments" must be an object')
    spec = command.args
    for name in raw:
        if name not in spec:
            known = ", ".join(spec) or "none"
            raise ApiError(
                INVALID_ARGUMENT, f'{command.name}: unknown argument "{name}" (takes: {known})'
            )
    out: dict[str, Any] = {}
    for name, arg in spec.items():
        if name not in raw:
            if arg.required:
                raise ApiError(INVALID_ARGUMENT, f'{command.name}: "{name}" is required')
            out[name] = None
            continue
        value = raw[name]
        # JSON has no int/bool distinction Python keeps: true is not 1 here.
        if isinstance(value, bool) != (arg.type is bool) or not isinstance(value, arg.type):
            raise ApiError(
                INVALID_ARGUMENT,
                f'{command.name}: "{name}" must be {_type_name(arg.type)}, not {_json(value)}',
            )
        if arg.choices and value not in arg.choices:
            raise ApiError(
                INVALID_ARGUMENT,
                f'{command.name}: "{name}" must be one of {", ".join(arg.choices)}',
            )
        out[name] = value
    return out


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", bool: "true or false", list: "a list"}[kind]


def _json(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 40 else text[:37] + "..."


async def run_command(ctl: Controller, name: object, raw_args: object) -> Any:
    """Run command ``name``; its return value, or :class:`ApiError`."""
    command = COMMANDS.get(name) if isinstance(name, str) else None
    if command is None:
        raise ApiError(COMMAND_NOT_FOUND, f"unknown command {_json(name)} (see: commands)")
    args = check_args(command, raw_args)
    try:
        return await command.handler(ctl, args)
    except ApiError:
        raise
    except ConfigError as err:  # a value the runtime refused: name what was wrong
        key = err.path.rpartition(".")[2]
        where = f"{command.name}: {key}" if key else command.name
        raise ApiError(INVALID_ARGUMENT, f"{where}: {err.reason}") from None
    except AvmmError as err:
        raise ApiError(GENERIC_ERROR, f"{command.name}: {err}") from None


# ------------------------------------------------------------------ handlers

_VM = Arg(str, "the VM's name (default: the only VM)")
_VMS = Arg(str, "the VM's name (default: every VM)")


async def _commands(ctl: Controller, args: dict[str, Any]) -> Any:
    return [
        {
            "name": c.name,
            "help": c.help,
            "args": {
                n: {"type": _type_name(a.type), "required": a.required, "help": a.help}
                for n, a in c.args.items()
            },
        }
        for c in COMMANDS.values()
    ]


async def _list(ctl: Controller, args: dict[str, Any]) -> Any:
    return [
        {
            "name": vm.name,
            "state": ctl.state(vm),
            "vcpus": len(vm.vcpus),
            "instructions": vm.machine.instret,
        }
        for vm in ctl.host.vms.values()
    ]


async def _info(ctl: Controller, args: dict[str, Any]) -> Any:
    vm = ctl.vm(args["vm"])
    host = ctl.host
    stats = vm.statistics()
    board = ctl.boards.get(vm.name)
    vcpus = []
    for vcpu, v in zip(vm.vcpus, stats.vcpus, strict=True):
        pcpu = host.scheduler.last_pcpu(vcpu)
        vcpus.append(
            {
                "vcpu": v.vcpu,
                "instructions": v.instret,
                "hsm": v.hsm_state,
                "halted": vcpu.halted,
                "pcpu": None if pcpu is None else pcpu.index,
                "slices": v.slices,
                "exits": {k: n for k, n in v.exits.items() if n},
            }
        )
    return {
        "name": vm.name,
        "state": ctl.state(vm),
        "vmid": stats.vmid,
        "vmid_generation": stats.vmid_generation,
        "irqchip": stats.irqchip,
        "instructions": stats.instret,
        "reboots": board.reboots if board is not None else 0,
        "console": board.console_where if board is not None else "",
        "pcpus": len(host.pcpus),
        "vcpus": vcpus,
    }


def _alive(ctl: Controller, vm: Vm, command: str) -> None:
    if ctl.state(vm) == "ended":
        raise ApiError(INVALID_STATE, f"{command}: {vm.name} has ended")


async def _pause(ctl: Controller, args: dict[str, Any]) -> Any:
    vms = ctl.vms(args["vm"])
    for vm in vms:
        _alive(ctl, vm, "pause")
    for vm in vms:
        if not vm.paused:
            vm.pause()  # no instruction runs from here on: we are between slices
            ctl.publish("STOP", {"vm": vm.name})
    return {vm.name: ctl.state(vm) for vm in vms}


async def _resume(ctl: Controller, args: dict[str, Any]) -> Any:
    vms = ctl.vms(args["vm"])
    for vm in vms:
        _alive(ctl, vm, "resume")
    for vm in vms:
        if vm.paused:
            vm.resume()
            ctl.publish("RESUME", {"vm": vm.name})
    return {vm.name: ctl.state(vm) for vm in vms}


async def _stop(ctl: Controller, args: dict[str, Any]) -> Any:
    vms = [vm for vm in ctl.vms(args["vm"]) if ctl.state(vm) != "ended"]
    for vm in vms:
        vm.stop()
    return {vm.name: "stopping" for vm in vms}


async def _reset(ctl: Controller, args: dict[str, Any]) -> Any:
    vm = ctl.vm(args["vm"])
    _alive(ctl, vm, "reset")
    if vm.name not in ctl.boards:
        raise ApiError(GENERIC_ERROR, f"reset: {vm.name} has no board to boot it again")
    vm.request_reset()
    return {vm.name: "resetting"}


async def _metrics(ctl: Controller, args: dict[str, Any]) -> Any:
    from avmm.api.metrics import metric_families

    names = args["names"]
    if names is not None and not all(isinstance(n, str) for n in names):
        raise ApiError(INVALID_ARGUMENT, 'metrics: "names" must be a list of strings')
    return metric_families(ctl.host, names)


async def _sched(ctl: Controller, args: dict[str, Any]) -> Any:
    host = ctl.host
    changes = {k: v for k, v in args.items() if v is not None}
    if changes:
        host.tune(**changes)
        ctl.publish("SCHED", dict(changes))
    return {
        "policy": host.policy_name,
        "slice": host.slice,
        "pause_exit": host.pause_exit,
        "pause_window": host.pause_window,
        "directed_yield": host.directed_yield,
        "clock": host.clock_name,
        "pcpus": len(host.pcpus),
    }


async def _irq(ctl: Controller, args: dict[str, Any]) -> Any:
    from avmm import _core

    vm = ctl.vm(args["vm"])
    _alive(ctl, vm, "irq")
    source, vcpu_index, kind = args["source"], args["vcpu"], args["kind"]
    level = True if args["level"] is None else args["level"]
    if (source is None) == (kind is None):
        raise ApiError(
            INVALID_ARGUMENT, 'irq: give either "source" (a PLIC line) or "kind" (a hart\'s)'
        )
    if source is not None:
        if vcpu_index is not None:
            raise ApiError(
                INVALID_ARGUMENT, 'irq: a PLIC source reaches harts by itself: no "vcpu"'
            )
        # An assertion is a new request each time: a fresh edge (low, then high), so
        # it is counted as a rising edge too; the line stays high until level=false.
        line = ctl.plic_line(vm, source)
        if level:
            line.set_level(False)
        line.set_level(level)
        return {"vm": vm.name, "source": source, "level": level}
    if vcpu_index is None:
        raise ApiError(INVALID_ARGUMENT, 'irq: "kind" needs "vcpu"')
    if not 0 <= vcpu_index < len(vm.vcpus):
        raise ApiError(NOT_FOUND, f"irq: {vm.name} has no vcpu {vcpu_index}")
    if not level:
        raise ApiError(INVALID_ARGUMENT, "irq: a software interrupt is only posted (level true)")
    vm.vcpus[vcpu_index].post_interrupt(_core.MIP_SSIP)
    return {"vm": vm.name, "vcpu": vcpu_index, "kind": kind}


async def _console(ctl: Controller, args: dict[str, Any]) -> Any:
    vm = ctl.vm(args["vm"])
    board = ctl.boards.get(vm.name)
    if board is None or board.hub is None:
        raise ApiError(GENERIC_ERROR, f"console: {vm.name} has no console")
    data = args["data"].encode()
    if len(data) > MAX_CONSOLE_INPUT:
        raise ApiError(
            INVALID_ARGUMENT, f"console: {len(data)} bytes is more than {MAX_CONSOLE_INPUT}"
        )
    board.hub.feed(data)
    return {"vm": vm.name, "bytes": len(data)}


def _file(path: str) -> Path:
    """A path the client named, relative to avmm's own folder, made absolute."""
    if not path or "\0" in path:
        raise ApiError(INVALID_ARGUMENT, f"path: {path!r} is not a file name")
    return Path(path).expanduser().absolute()


async def _snapshot(ctl: Controller, args: dict[str, Any]) -> Any:
    from avmm.snapshot import save_snapshot

    return plain(await save_snapshot(ctl.vm(args.get("vm")), _file(args["path"])))


async def _restore(ctl: Controller, args: dict[str, Any]) -> Any:
    from avmm.snapshot import restore_snapshot

    return plain(await restore_snapshot(ctl.vm(args.get("vm")), _file(args["path"])))


async def _migrate(ctl: Controller, args: dict[str, Any]) -> Any:
    from avmm.snapshot.migrate import migrate_out, parse_address

    vm = ctl.vm(args.get("vm"))
    try:
        parse_address(args["address"], "address")
    except ConfigError as err:
        raise ApiError(INVALID_ARGUMENT, str(err)) from None
    rounds = args.get("max_rounds")
    if rounds is not None and not 1 <= rounds <= 1000:
        raise ApiError(INVALID_ARGUMENT, f"max_rounds: {rounds} is out of range (1..1000)")
    info = await migrate_out(vm, args["address"], max_rounds=rounds or 30)
    return plain(info)


async def _capabilities(ctl: Controller, args: dict[str, Any]) -> Any:
    raise AssertionError("the server answers capabilities itself")  # pragma: no cover


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "capabilities",
            _capabilities,
            "negotiate: must come first; enable lists what this client wants",
            {"enable": Arg(list, "capabilities to turn on: events")},
        ),
        Command("commands", _commands, "every command, its arguments and what it does"),
        Command("list", _list, "every VM: name, state, vCPUs, instructions"),
        Command(
            "info",
            _info,
            "one VM: state, VMID, pCPUs, per vCPU its instructions, HSM state, pCPU, exits",
            {"vm": _VM},
        ),
        Command("pause", _pause, "stop running the VM's vCPUs at once", {"vm": _VMS}),
        Command("resume", _resume, "run a paused VM again", {"vm": _VMS}),
        Command("stop", _stop, "end the VM (every VM: avmm exits with its summary)", {"vm": _VMS}),
        Command("reset", _reset, "reboot the VM, as a guest's SBI reset does", {"vm": _VM}),
        Command(
            "metrics",
            _metrics,
            "the metric families /metrics serves, as JSON",
            {"names": Arg(list, "only families whose name starts with one of these")},
        ),
        Command(
            "sched",
            _sched,
            "the scheduler's knobs; the ones given change from the next slice on",
            {
                "slice": Arg(int, "instructions per slice"),
                "policy": Arg(str, "round-robin or random", choices=("round-robin", "random")),
                "pause_exit": Arg(bool, "pause-loop exiting"),
                "pause_window": Arg(int, "exit at the Nth pause of a slice"),
                "directed_yield": Arg(bool, "an IPI's target runs next"),
            },
        ),
        Command(
            "irq",
            _irq,
            "assert (or deassert) a PLIC source, or post a hart's software interrupt",
            {
                "vm": _VM,
                "source": Arg(int, "a PLIC source, 1..95"),
                "level": Arg(bool, "PLIC: true asserts (a new request), false deasserts"),
                "vcpu": Arg(int, "the hart for kind"),
                "kind": Arg(
                    str,
                    "software: the hart's supervisor software interrupt (SSIP)",
                    choices=("software",),
                ),
            },
        ),
        Command(
            "console",
            _console,
            "send bytes to the VM's console input, as if typed",
            {"vm": _VM, "data": Arg(str, 'text (UTF-8), e.g. "ls\\r"', required=True)},
        ),
        Command(
            "snapshot",
            _snapshot,
            "save the VM (all vCPUs, RAM, devices, clocks) to a file at a slice boundary",
            {"vm": _VM, "path": Arg(str, "the snapshot file to write", required=True)},
        ),
        Command(
            "restore",
            _restore,
            "replace the VM's state with a snapshot of a VM of the same shape",
            {"vm": _VM, "path": Arg(str, "the snapshot file to read", required=True)},
        ),
        Command(
            "migrate",
            _migrate,
            "move the VM to the avmm waiting with --incoming ADDR; this one stops",
            {
                "vm": _VM,
                "address": Arg(str, "HOST:PORT, :PORT or unix:PATH", required=True),
                "max_rounds": Arg(int, "pre-copy rounds at most (default 30)"),
            },
        ),
    )
}


def plain(info: object) -> Any:
    """An attrs info record as JSON-able data (paths and enums as strings)."""
    if attrs.has(type(info)):
        return {k: plain(v) for k, v in attrs.asdict(info, recurse=False).items()}  # type: ignore[arg-type]
    if isinstance(info, dict):
        return {str(k): plain(v) for k, v in info.items()}
    if isinstance(info, list | tuple):
        return [plain(v) for v in info]
    if info is None or isinstance(info, bool | int | float | str):
        return info
    return str(getattr(info, "value", info))
