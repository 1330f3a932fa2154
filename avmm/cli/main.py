"""The ``avmm`` command: run VMs from config files, validate configs, watch metrics.

Exit status of ``avmm run``: the guest's exit code (HTIF, the syscon device,
an SBI reset reason), 0 on a clean poweroff or a stop by signal; 2 for a bad
config, argument or snapshot file; 1 for an internal error or a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from avmm import logs
from avmm.cli.usage import EXIT_USAGE, Parser
from avmm.errors import AvmmError, BootError, ConfigError, DeviceError, SnapshotError
from avmm.version import __version__

if TYPE_CHECKING:  # the CLI imports the runtime lazily, so --help stays fast
    from avmm.runtime.host import Host

EXIT_INTERNAL = 1

EPILOG = """\
exit status of `avmm run`:
  the guest's exit code (HTIF tohost, the syscon test device, SBI system reset),
  0 on a clean poweroff or a stop by SIGINT/SIGTERM/SIGHUP/SIGQUIT,
  2 for a bad config file or argument (or a file it names that cannot be used,
  a snapshot file included), 1 for an internal error or --timeout.
"""

RUN_EXAMPLES = """\
examples:
  avmm run configs/demo.toml
  avmm run configs/linux-check.toml --set vm.vcpus=2 --report report.json
  avmm run -kernel guests/out/linux/Image -initrd guests/out/initramfs/initramfs.cpio.gz \\
           -smp 4 -m 512 -append "console=ttyS0" --disk scratch.img,create=64M
  avmm run --kernel guests/out/demo/hello.elf -s -S   # wait for gdb on :1234
  avmm run configs/demo.toml --console tcp:4444        # waits for a client; ,nowait does not
"""

VALIDATE_EXAMPLES = """\
examples:
  avmm validate configs/demo.toml
  avmm validate configs/multi-vm.toml --set host.pcpus=4
"""

STAT_EXAMPLES = """\
examples:
  avmm stat                          # http://127.0.0.1:9464/metrics, full screen
  avmm stat 127.0.0.1:9464 --once    # one text snapshot, for scripts
  avmm stat --once --sort total      # reasons by total instead of by rate

keys in the live view: q quits, up/down/PgUp/PgDn scroll, s changes the sort,
v switches between the per-vCPU and the per-VM table.
avmm exports metrics only when asked: --set metrics.enabled=true (or [metrics]).
"""

# Where a quick launch's config keys come from: the error for a key names the
# flag as the user typed it (`-smp: 65 is out of range`), not the key.
_FLAG_OF_KEY = (
    ("vm.vcpus", "vcpus"),
    ("vm.memory", "memory"),
    ("vm.boot.kernel", "kernel"),
    ("vm.boot.initrd", "initrd"),
    ("vm.boot.cmdline", "append"),
    ("vm.boot.firmware", "bios"),
    ("vm.boot", "kernel"),
    ("vm.disks", "disk"),
    ("vm.nets", "net"),
    ("vm.console", "console"),
    ("vm[0].gdb", "gdb"),
    ("trace.events", "trace"),
    ("trace.file", "trace_file"),
    ("trace.vcpus", "trace_vcpus"),
    ("trace.range", "trace_range"),
)


class _Spelled(argparse.Action):
    """Stores the value and how the user spelled the flag (``-smp`` or ``--vcpus``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        spelled = dict(getattr(namespace, "spelled", None) or {})
        spelled[self.dest] = option_string or self.dest
        namespace.spelled = spelled


class _Appended(_Spelled):
    """:class:`_Spelled` for a repeatable flag (``--disk``, ``--net``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        items = [*(getattr(namespace, self.dest, None) or []), values]
        super().__call__(parser, namespace, items, option_string)


def _duration(text: str) -> float:
    """``30``, ``30s``, ``500ms``, ``2m``, ``1h``: seconds (for ``--timeout``)."""
    units = (("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0))
    number, scale = text.strip(), 1.0
    for suffix, factor in units:
        if number.endswith(suffix) and number[: -len(suffix)].strip():
            number, scale = number[: -len(suffix)], factor
            break
    try:
        seconds = float(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'"{text}" is not a duration (e.g. 30, 30s, 500ms, 2m)'
        ) from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f'"{text}" must be a positive number of seconds')
    return seconds


def _add_logging(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """-v/-q/--log-file, on the top-level parser and on every subcommand's."""
    keep: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    group = parser.add_argument_group("messages")
    group.add_argument(
        "-v", "--verbose", action="count", help="more messages (debug lines)", **keep
    )
    group.add_argument(
        "-q", "--quiet", action="count", help="only warnings and errors (-qq: only errors)", **keep
    )
    group.add_argument(
        "--log-file", type=Path, metavar="PATH", help="also append every message to PATH", **keep
    )


def _build_run(run: argparse.ArgumentParser) -> None:
    run.add_argument("config", nargs="?", type=Path, help="TOML config file (version = 1)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set vm.vcpus=8 "
        "--set sched.policy=deterministic (repeatable)",
    )
    run.add_argument(
        "--console",
        action=_Spelled,
        metavar="stdio|null|pty|file:PATH|tcp[:PORT][,nowait]",
        help="where every VM's console goes (overrides the config); a tcp console "
        "waits for its first client unless ,nowait",
    )
    run.add_argument(
        "-nographic",
        action="store_true",
        help="QEMU's -nographic: the console on this terminal (stdio)",
    )
    run.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="write a JSON report: per-vCPU instructions and exits, times, exit status",
    )
    run.add_argument(
        "--timeout",
        type=_duration,
        metavar="SECONDS",
        help="stop the VMs after that much wall time (30, 30s, 500ms, 2m) and exit with status 1",
    )
    run.add_argument("--api", metavar="PATH", help="serve the control API (avmm ctl) on PATH")
    snap = run.add_argument_group("snapshots (a config of one VM)")
    snap.add_argument(
        "--restore",
        type=Path,
        metavar="FILE",
        help="start the VM from a snapshot file instead of booting it (vm.restore)",
    )
    snap.add_argument(
        "--snapshot",
        type=Path,
        metavar="FILE",
        help="with --snapshot-at: write a snapshot of the VM to FILE, then stop",
    )
    snap.add_argument(
        "--snapshot-at",
        type=int,
        metavar="INSNS",
        help="take the --snapshot at the first slice boundary after INSNS guest instructions",
    )
    snap.add_argument(
        "--incoming",
        metavar="ADDR",
        help="wait for a live migration of the VM on ADDR (HOST:PORT, :PORT or unix:PATH; "
        "default host 127.0.0.1), then run it",
    )
    debug = run.add_argument_group("debugging (the first VM)")
    debug.add_argument(
        "--gdb",
        action=_Spelled,
        nargs="?",
        const="127.0.0.1:1234",
        metavar="ADDR",
        help="serve gdb's remote protocol on ADDR: HOST:PORT, :PORT or unix:PATH "
        "(default 127.0.0.1:1234)",
    )
    debug.add_argument(
        "--gdb-wait",
        action="store_true",
        help="run no instruction until gdb continues (implies --gdb)",
    )
    debug.add_argument("-s", dest="gdb_s", action="store_true", help="QEMU's -s: --gdb :1234")
    debug.add_argument("-S", dest="gdb_wait_s", action="store_true", help="QEMU's -S: --gdb-wait")
    trace = run.add_argument_group("traces (QEMU's -d), as JSON lines")
    trace.add_argument(
        "--trace",
        "-d",
        action=_Spelled,
        metavar="EVENTS",
        help="comma-separated: exits, interrupts (int), traps, sbi, mmio, insns (exec), or all",
    )
    trace.add_argument(
        "--trace-file",
        action=_Spelled,
        type=Path,
        metavar="PATH",
        help="default avmm-trace.jsonl",
    )
    trace.add_argument("--trace-vcpus", action=_Spelled, metavar="N,...", help="only these vCPUs")
    trace.add_argument(
        "--trace-range", action=_Spelled, metavar="LO-HI", help="only addresses in [LO, HI]"
    )
    quick = run.add_argument_group(
        "quick launch without a config file (QEMU's spellings work too: -kernel, -smp, -m, ...)"
    )
    quick.add_argument(
        "--kernel",
        "-kernel",
        action=_Spelled,
        type=Path,
        metavar="PATH",
        help="a Linux Image (direct boot) or a bare-metal ELF (M-mode, HTIF)",
    )
    quick.add_argument(
        "--vcpus", "-smp", action=_Spelled, metavar="N", help="number of vCPUs (default 1)"
    )
    quick.add_argument(
        "--memory",
        "-m",
        action=_Spelled,
        metavar="SIZE",
        help="guest RAM: MiB without a unit, as QEMU (512), or 1G, 512MiB (default 256)",
    )
    quick.add_argument(
        "--initrd", "-initrd", action=_Spelled, type=Path, metavar="PATH", help="initramfs"
    )
    quick.add_argument(
        "--append", "-append", action=_Spelled, metavar="CMDLINE", help="kernel command line"
    )
    quick.add_argument(
        "--bios",
        "-bios",
        action=_Spelled,
        metavar="PATH|default|none",
        help="M-mode firmware that starts the kernel (default: none, avmm answers "
        "SBI itself; 'default' is Debian's OpenSBI fw_dynamic)",
    )
    quick.add_argument(
        "--disk",
        action=_Appended,
        metavar="PATH[,ro][,create=SIZE]",
        help="a virtio-blk disk on a raw image; create=SIZE makes a sparse one if PATH "
        "does not exist (repeatable)",
    )
    quick.add_argument(
        "--net",
        action=_Appended,
        metavar="SWITCH",
        help="a virtio-net interface on the in-process switch SWITCH (repeatable)",
    )


def _build_validate(validate: argparse.ArgumentParser) -> None:
    validate.add_argument("config", type=Path, help="TOML config file (version = 1)")
    validate.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (repeatable)",
    )


def _build_stat(stat: argparse.ArgumentParser) -> None:
    stat.add_argument(
        "url",
        nargs="?",
        help="the metrics endpoint (default http://127.0.0.1:9464/metrics; host:port will do)",
    )
    stat.add_argument(
        "-d",
        "--interval",
        type=_duration,
        default=1.0,
        metavar="SECONDS",
        help="seconds between reads (default 1)",
    )
    stat.add_argument(
        "--once", action="store_true", help="print one text snapshot (two reads) and exit"
    )
    stat.add_argument(
        "--sort",
        choices=("rate", "total", "name"),
        default="rate",
        help="order of the exit reasons (default: rate)",
    )


def _do_stat(args: argparse.Namespace) -> int:
    from avmm.obs import stat

    url = stat.normalize_url(args.url)
    if args.once or not (sys.stdout.isatty() and sys.stdin.isatty()):
        return stat.run_once(url, args.interval, args.sort)
    from avmm.obs import statview  # rich: only for the live view

    try:
        return statview.live(url, args.interval, args.sort)
    except KeyboardInterrupt:
        return 0


class Command(NamedTuple):
    """One subcommand: its help line, examples, arguments and what it does.

    The table below is the one place to add a subcommand (``avmm ctl`` and
    friends): :func:`_parser` builds every parser from it and :func:`main`
    dispatches through it.
    """

    help: str
    description: str
    examples: str
    build: Callable[[argparse.ArgumentParser], None]
    handle: Callable[[argparse.Namespace], int]


def _do_run(args: argparse.Namespace) -> int:
    return _run(args)


def _do_validate(args: argparse.Namespace) -> int:
    return _validate(args)


COMMANDS: dict[str, Command] = {
    "run": Command(
        help="run the VMs of a config file, or a kernel given on the command line",
        description="Run the VMs of CONFIG, or a quick launch of --kernel (like qemu -kernel).",
        examples=RUN_EXAMPLES + "\n" + EPILOG,
        build=_build_run,
        handle=_do_run,
    ),
    "validate": Command(
        help="check a config file and print the resolved machine",
        description="Check CONFIG (with its --set overrides) and print the resolved machine "
        "as JSON: host, scheduler, metrics, and per VM its address map, IRQs, devices and "
        "boot images. Exit status 0, or 2 with one line naming what is wrong.",
        examples=VALIDATE_EXAMPLES,
        build=_build_validate,
        handle=_do_validate,
    ),
    "stat": Command(
        help="live exit rates of a running avmm (like kvm_stat)",
        description="Exit rates per reason, per vCPU and per VM of a running avmm, read from "
        "its Prometheus endpoint (kvm_stat for avmm).",
        examples=STAT_EXAMPLES,
        build=_build_stat,
        handle=_do_stat,
    ),
}


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each subcommand's (for its own usage in errors)."""
    parser = Parser(
        prog="avmm",
        description="An event-driven asyncio VMM for SMP RISC-V guests.",
        epilog="run `avmm COMMAND --help` for a command's options and examples\n\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"avmm {__version__}")
    _add_logging(parser, top=True)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    parsers: dict[str, argparse.ArgumentParser] = {}
    for name, command in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=command.help,
            description=command.description,
            epilog=command.examples,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,  # -smp, -m and -s must never be read as each other's prefix
        )
        command.build(p)
        _add_logging(p)
        parsers[name] = p
    sub.add_parser(  # listed here for --help; main() hands its arguments to avmm.sweep.cli
        "sweep", help="run an experiment file's points, collect a table and plots", add_help=False
    )
    sub.add_parser(  # the same: main() hands its arguments to avmm.api.ctl
        "ctl", help="drive a running avmm through its control API (run --api)", add_help=False
    )
    return parser, parsers


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sweep"]:  # its own parser: `avmm sweep --report DIR` starts with an option
        from avmm.sweep import cli as sweep

        return sweep.main(argv[1:])
    if argv[:1] == ["ctl"]:
        from avmm.api import ctl

        return ctl.main(argv[1:])
    parser, parsers = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the subcommand, with its usage (`-smp` is `run`'s, not avmm's)
        parsers[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        _configure_logging(args)
        return COMMANDS[args.command].handle(args)
    except ConfigError as err:
        _error(str(err))
        for note in getattr(err, "__notes__", []):
            _error(note)
        return EXIT_USAGE
    except SnapshotError as err:  # a bad snapshot file: nothing ran
        _error(str(err))
        return EXIT_USAGE
    except AvmmError as err:
        _error(str(err))
        return EXIT_INTERNAL


def _configure_logging(args: argparse.Namespace) -> None:
    log_file = getattr(args, "log_file", None)
    if log_file is not None:
        try:
            with log_file.open("a"):
                pass
        except OSError as err:
            raise ConfigError("--log-file", f"cannot write {log_file}: {err.strerror}") from None
    verbosity = (getattr(args, "verbose", 0) or 0) - (getattr(args, "quiet", 0) or 0)
    logs.configure(verbosity, log_file)


def _error(message: str) -> None:
    """``avmm: error: MESSAGE``, in order with the other lines (the log's writer)."""
    if logs.configured():
        _log.error("%s", message)
    else:  # before logging is set up (a bad --log-file)
        print(f"avmm: error: {message}", file=sys.stderr)


# ------------------------------------------------------------------- config


def _typed(args: argparse.Namespace, dest: str) -> str:
    """How the user spelled the flag behind ``dest`` (``-smp``), for errors."""
    spelled: dict[str, str] = getattr(args, "spelled", None) or {}
    return spelled.get(dest, "--" + dest.replace("_", "-"))


def _flag_error(args: argparse.Namespace, err: ConfigError) -> ConfigError:
    """``err`` about a key a flag set, told with the flag the user typed."""
    spelled: dict[str, str] = getattr(args, "spelled", None) or {}
    for key, dest in _FLAG_OF_KEY:
        if dest in spelled and (err.path == key or err.path.startswith((key + ".", key + "["))):
            return ConfigError(spelled[dest], err.reason)
    return err


def _load(args: argparse.Namespace) -> Any:
    from avmm import config

    overrides = list(args.overrides)
    console = getattr(args, "console", None)
    if getattr(args, "nographic", False):
        if console is not None:
            raise ConfigError("-nographic", f"give either -nographic or {_typed(args, 'console')}")
        console = "stdio"
    if console:
        overrides += _console_overrides(console, _typed(args, "console"))
    overrides += _gdb_overrides(args)
    overrides += _trace_overrides(args)
    if getattr(args, "api", None):
        overrides.append(f"api.path={_toml(str(Path(args.api).absolute()))}")
    if args.config is not None:
        if getattr(args, "kernel", None) is not None:
            raise ConfigError(
                _typed(args, "kernel"), "give either a config file or --kernel, not both"
            )
        for flag in ("vcpus", "memory", "initrd", "append", "bios", "disk", "net"):
            if getattr(args, flag, None) is not None:
                raise ConfigError(
                    _typed(args, flag),
                    "only for a quick launch with --kernel; use --set with a config file",
                )
        try:
            return config.load(args.config, overrides)
        except ConfigError as err:
            raise _flag_error(args, err) from None
    if getattr(args, "kernel", None) is None:
        raise ConfigError("", "give a config file or --kernel PATH (see avmm run --help)")
    data = {"version": 1, "vm": _quick_vm(args)}
    try:
        if not overrides:
            return config.quick_config(data, base=Path.cwd())
        config.apply_overrides(data, overrides)
        return config.from_dict(data, base=Path.cwd())
    except ConfigError as err:
        raise _flag_error(args, err) from None


def _quick_vm(args: argparse.Namespace) -> dict[str, Any]:
    vm: dict[str, Any] = {}
    if args.vcpus is not None:
        vm["vcpus"] = _vcpus(args.vcpus, _typed(args, "vcpus"))
    if args.memory is not None:
        # QEMU's -m: a bare number is MiB.
        vm["memory"] = f"{args.memory}MiB" if args.memory.strip().isdigit() else args.memory
    kernel = str(args.kernel)
    boot: dict[str, Any] = {}
    if _is_elf(args.kernel):
        # A bare-metal ELF runs in M-mode from reset; its tohost symbol enables HTIF.
        if args.bios not in (None, "none"):
            raise ConfigError(_typed(args, "bios"), "a bare-metal ELF is its own firmware")
        boot = {"mode": "firmware", "firmware": kernel}
    elif args.bios in (None, "none"):
        boot = {"mode": "direct", "kernel": kernel}
    else:
        boot = {"mode": "firmware", "kernel": kernel}
        if args.bios != "default":
            boot["firmware"] = args.bios
    if args.initrd is not None:
        boot["initrd"] = str(args.initrd)
    if args.append is not None:
        boot["cmdline"] = args.append
    vm["boot"] = boot
    if args.disk:
        vm["disks"] = [_disk(spec, _typed(args, "disk")) for spec in args.disk]
    if args.net:
        vm["nets"] = [{"switch": name} for name in args.net]
    return vm


def _vcpus(text: str, flag: str) -> int:
    """``4`` or QEMU's ``cpus=4`` (``-smp 4,cpus=4`` too: the other keys describe a
    topology avmm does not model)."""
    count: str | None = None
    for i, part in enumerate(text.split(",")):
        key, sep, value = part.partition("=")
        if not sep and i == 0:
            count = key
        elif key.strip() == "cpus":
            count = value
    if count is None or not count.strip().isdigit():
        raise ConfigError(flag, f'"{text}" is not a number of vCPUs (e.g. 4 or cpus=4)')
    return int(count)


def _disk(spec: str, flag: str) -> dict[str, Any]:
    """``PATH[,ro][,create=SIZE][,serial=S]`` as a ``[[vm.disks]]`` table."""
    path, *options = spec.split(",")
    if not path:
        raise ConfigError(flag, f'"{spec}" has no path (PATH[,ro][,create=SIZE])')
    disk: dict[str, Any] = {"path": str(Path(path).absolute())}
    for option in options:
        key, sep, value = option.partition("=")
        if option in ("ro", "readonly"):
            disk["read_only"] = True
        elif key == "create" and sep and value:
            disk["create"] = int(value) if value.isdigit() else value
        elif key == "serial" and sep:
            disk["serial"] = value
        else:
            raise ConfigError(
                flag, f'"{option}" is not one of ro, create=SIZE, serial=NAME (in "{spec}")'
            )
    return disk


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False  # config validation names the missing file


def _toml(value: object) -> str:
    """``value`` as a TOML literal for a ``--set`` override: JSON's strings, numbers
    and arrays read the same in TOML (json is imported only by runs with such flags)."""
    import json

    return json.dumps(value)


def _gdb_overrides(args: argparse.Namespace) -> list[str]:
    """--gdb, --gdb-wait, -s, -S as overrides of the first VM's [vm.gdb]."""
    listen = getattr(args, "gdb", None)
    if getattr(args, "gdb_s", False):
        if listen is not None:
            raise ConfigError("-s", "give either -s or --gdb ADDR")
        listen = "127.0.0.1:1234"
    wait = getattr(args, "gdb_wait", False) or getattr(args, "gdb_wait_s", False)
    if listen is None and not wait:
        return []
    if listen is not None:
        from avmm.gdb.server import Listen

        Listen.parse(listen, _typed(args, "gdb"))  # a bad address is named by its flag
    out = [f"vm[0].gdb.listen={_toml(listen or '127.0.0.1:1234')}"]
    if wait:
        out.append("vm[0].gdb.wait=true")
    return out


# QEMU's -d names for the events avmm traces.
_QEMU_TRACE_NAMES = {"int": "interrupts", "exec": "insns", "in_asm": "insns"}


def _trace_overrides(args: argparse.Namespace) -> list[str]:
    out = []
    events = getattr(args, "trace", None)
    if events is not None:
        from avmm.trace import EVENT_NAMES  # only a traced run loads the tracer

        flag = _typed(args, "trace")
        names = list(EVENT_NAMES) if events == "all" else [e.strip() for e in events.split(",")]
        names = [_QEMU_TRACE_NAMES.get(name, name) for name in names]
        for name in names:
            if name not in EVENT_NAMES:
                raise ConfigError(flag, f'"{name}" is not one of {", ".join(EVENT_NAMES)}, all')
        out.append(f"trace.events={_toml(names)}")
    path = getattr(args, "trace_file", None)
    if path is not None:
        out.append(f"trace.file={_toml(str(path.absolute()))}")
    vcpus = getattr(args, "trace_vcpus", None)
    if vcpus is not None:
        try:
            numbers = [int(v) for v in vcpus.split(",")]
        except ValueError:
            raise ConfigError("--trace-vcpus", f'"{vcpus}" is not a list like 0,2') from None
        out.append(f"trace.vcpus={_toml(numbers)}")
    span = getattr(args, "trace_range", None)
    if span is not None:
        from avmm.config import parse_range

        if parse_range(span) is None:
            raise ConfigError(
                "--trace-range", f'"{span}" is not LO-HI (e.g. 0x80000000-0x80200000)'
            )
        out.append(f"trace.range={_toml(span)}")
    return out


def _console_overrides(spec: str, flag: str = "--console") -> list[str]:
    """``--console`` as overrides of every VM's ``[vm.console]``.

    ``tcp[:PORT]`` waits for its first client before the guest starts, as
    QEMU's ``server`` mode does (a short guest's output is not lost), unless
    ``,nowait`` follows.
    """
    head, *options = spec.split(",")
    kind, _, arg = head.partition(":")
    choices = "stdio, null, pty, file:PATH, tcp[:PORT][,nowait]"
    if kind != "tcp" and options and kind != "file":
        raise ConfigError(flag, f'"{spec}": only a tcp console takes options (,wait or ,nowait)')
    if kind in ("stdio", "null", "pty") and not arg:
        return [f'vm.console.backend="{kind}"']
    if kind == "file" and arg:
        path = ",".join([arg, *options])  # a comma is part of a file name
        return [
            'vm.console.backend="file"',
            f"vm.console.path={_toml(str(Path(path).absolute()))}",
        ]
    if kind == "tcp":
        port = arg or "0"
        if not port.isdigit():
            raise ConfigError(flag, f'"{spec}" is not tcp, tcp:PORT or tcp:PORT,nowait')
        wait = True
        for option in options:
            if option not in ("wait", "nowait"):
                raise ConfigError(flag, f'"{option}" is not wait or nowait (in "{spec}")')
            wait = option == "wait"
        return [
            'vm.console.backend="tcp"',
            f"vm.console.port={port}",
            f"vm.console.wait={'true' if wait else 'false'}",
        ]
    raise ConfigError(flag, f'"{spec}" is not one of {choices}')


def _validate(args: argparse.Namespace) -> int:
    import json

    from avmm.board.virt import describe_config
    from avmm.config import to_dict

    cfg = _load(args)
    plain = to_dict(cfg)
    machine = {
        "host": plain["host"],
        "sched": plain["sched"],
        "metrics": plain["metrics"],
        "vms": [describe_config(vm) for vm in cfg.vm],
    }

    print(json.dumps(machine, indent=2))
    return 0


# ---------------------------------------------------------------------- run


_log = logs.get("cli")


def _run(args: argparse.Namespace) -> int:
    # Start-up makes many long-lived objects (modules, classes, the config, the
    # boards) and no garbage worth a collection: the collector waits until the VMs
    # start (_start_collector), so it neither walks them now nor on every later pass.
    gc.disable()
    try:
        from avmm.runtime import host

        cfg = _snapshot_args(_load(args), args)
        if args.report is not None:
            _check_writable(args.report, "--report")
        save = (args.snapshot.absolute(), args.snapshot_at) if args.snapshot is not None else None
        try:
            return host.run(_run_async(cfg, args.timeout, args.report, save, args.incoming))
        except KeyboardInterrupt:  # before the VMs ran (e.g. waiting for a console client)
            _error("interrupted before the VMs started")
            return EXIT_INTERNAL
    finally:
        gc.enable()


def _start_collector() -> None:
    """What exists now lives for the whole run: freeze it, then collect as usual."""
    gc.freeze()
    gc.enable()


def _check_writable(path: Path, flag: str) -> None:
    """Refuse, before anything runs, a file the end of the run could not write."""
    folder = path.absolute().parent
    if not folder.is_dir():
        raise ConfigError(flag, f"{folder} does not exist (cannot write {path.name} there)")
    if path.is_dir():
        raise ConfigError(flag, f"{path} is a directory")
    if not os.access(folder, os.W_OK):
        raise ConfigError(flag, f"{folder} is not writable")


def _snapshot_args(cfg: Any, args: argparse.Namespace) -> Any:
    """--restore as the VM's ``restore`` key; --snapshot and --snapshot-at checked."""
    import attrs

    if (args.snapshot is None) != (args.snapshot_at is None):
        flag = "--snapshot" if args.snapshot is None else "--snapshot-at"
        raise ConfigError(flag, "--snapshot FILE and --snapshot-at INSNS go together")
    if args.snapshot_at is not None and args.snapshot_at < 0:
        raise ConfigError("--snapshot-at", f"{args.snapshot_at} must be 0 or more instructions")
    one_vm = (
        ("--restore", args.restore),
        ("--snapshot", args.snapshot),
        ("--incoming", args.incoming),
    )
    for flag, value in one_vm:
        if value is not None and len(cfg.vm) != 1:
            raise ConfigError(flag, f"only for a config of one VM (this one has {len(cfg.vm)})")
    if args.incoming is not None:
        from avmm.snapshot.migrate import parse_address

        parse_address(args.incoming, "--incoming")
        if args.restore is not None:
            raise ConfigError("--incoming", "give either --incoming or --restore")
    if args.snapshot is not None and not args.snapshot.absolute().parent.is_dir():
        raise ConfigError("--snapshot", f"{args.snapshot.absolute().parent} does not exist")
    if args.restore is None:
        return cfg
    if not args.restore.is_file():
        raise ConfigError("--restore", f"{args.restore} does not exist")
    vm = attrs.evolve(cfg.vm[0], restore=args.restore.absolute())
    return attrs.evolve(cfg, vm=(vm,))


async def _restore(boards: Sequence[Any]) -> None:
    """Each VM with a ``restore`` file takes its state before anything runs."""
    for board in boards:
        if board.config.restore is not None:
            from avmm.snapshot import restore_snapshot  # only a restoring run loads it

            info = await restore_snapshot(board.vm, board.config.restore)
            _log.info(
                "%s: restored from %s (%.1f MiB, %.2f s)",
                info.vm,
                info.path,
                info.file_bytes / 2**20,
                info.seconds,
            )


def _arm_snapshot(host: Host, boards: Sequence[Any], save: tuple[Path, int]) -> list[str]:
    """--snapshot-at: when the host has run that many instructions, the scheduler holds;
    the snapshot is written and every VM stops. Returns where an error will be put."""
    from avmm.snapshot import save_snapshot

    path, at = save
    vm = boards[0].vm
    # an error line, or "" until the snapshot is written
    errors: list[str] = [f"--snapshot-at: the VM ended before {at} instructions; no snapshot"]
    tasks: list[asyncio.Task[None]] = []

    async def save_and_stop() -> None:
        errors.clear()
        try:
            info = await save_snapshot(vm, path)
            _log.info(
                "%s: snapshot at %d instructions written to %s (%.1f MiB, %.2f s)",
                info.vm,
                vm.machine.instret,
                info.path,
                info.file_bytes / 2**20,
                info.seconds,
            )
        except AvmmError as err:
            errors.append(str(err))
        finally:
            host.request_stop()
            host.scheduler.unhold()

    def on_hold() -> None:
        tasks.append(asyncio.get_running_loop().create_task(save_and_stop()))

    host.scheduler.on_hold = on_hold
    host.scheduler.hold_at = at
    return errors


async def _incoming(boards: Sequence[Any], address: str) -> None:
    """--incoming: the VM takes a migrated VM's state before it runs."""
    from avmm.snapshot.migrate import receive_migration

    vm = boards[0].vm

    def listening(where: str) -> None:
        _log.info("%s: waiting for a migration on %s", vm.name, where)

    seconds = await receive_migration(vm, address, on_listening=listening)
    _log.info("%s: migrated in (%.2f s), running", vm.name, seconds)


async def _run_async(
    cfg: Any,
    timeout: float | None,
    report: Path | None,
    save: tuple[Path, int] | None = None,
    incoming: str | None = None,
) -> int:
    from avmm.board.virt import build_config
    from avmm.runtime.host import Host, SignalHandler

    wall0 = time.monotonic()
    status = 0
    timed_out = False
    async with Host.from_config(cfg) as host:
        try:
            boards = await build_config(host, cfg)
        except (BootError, DeviceError) as err:  # a file the run needs: exit 2, one line
            raise ConfigError("", str(err)) from None
        if _log.isEnabledFor(logging.DEBUG):  # -v: what each VM was built as
            for board in boards:
                _log.debug("%s: built: %s", board.config.name, _toml(board.describe()))
        ready: list[str] = []  # lines logged once signals are handled: scripts wait on them
        if cfg.api.enabled:  # first: a bad [api] leaves nothing running; closed with the host
            from avmm.api.server import start_api

            api = await start_api(host, boards, cfg.api)
            assert api is not None
            ready.append(f"control API at {', '.join(api.addresses)}")
        await _restore(boards)
        if incoming is not None:
            await _incoming(boards, incoming)
        snapshot_errors = _arm_snapshot(host, boards, save) if save is not None else []
        exporter = None
        if cfg.metrics.enabled:  # prometheus-client is imported only for a run that exports
            from avmm.obs.exporter import exporter_from_config

            exporter = exporter_from_config(host, cfg.metrics)
            if exporter is not None:
                ready.append(f"metrics at {exporter.url}")
        progress = _Progress(host) if _wants_progress(boards) else None
        tracer = _start_trace(host, cfg.trace)
        series = _start_series(host, cfg.series)
        _start_collector()
        try:
            with SignalHandler(host):
                for line in ready:
                    _log.info("%s", line)
                runs = asyncio.gather(*(board.run() for board in boards))
                try:
                    results = await asyncio.wait_for(asyncio.shield(runs), timeout)
                except TimeoutError:
                    timed_out = True
                    host.request_stop()
                    results = await runs
        finally:
            if series is not None:
                await series.aclose()
            if tracer is not None:
                tracer.close()
            if progress is not None:
                progress.close()
            if exporter is not None:
                exporter.close()
        for board, result in zip(boards, results, strict=True):
            if timed_out and _stopped(result.exit):
                _log.info("%s: stopped by --timeout after %g s", result.name, timeout)
            else:
                _log.info(
                    "%s: %s, exit code %d%s",
                    result.name,
                    ending(result.exit),
                    result.code,
                    f", {board.reboots} reboot(s)" if board.reboots else "",
                )
            if result.code and not status:
                status = result.code
        if timed_out:
            _error(f"--timeout: stopped after {timeout:g} s; exit status {EXIT_INTERNAL}")
            status = EXIT_INTERNAL
        for message in snapshot_errors:
            _error(message)
            status = EXIT_USAGE
        for line in host.summary().splitlines():
            _log.info("%s", line.removeprefix("avmm: "))
        if report is not None:
            try:
                _write_report(report, host, boards, results, status, time.monotonic() - wall0)
            except OSError as err:
                _error(f"--report: cannot write {report}: {err.strerror}")
                status = status or EXIT_INTERNAL
    return status


def _stopped(exit: Any) -> bool:
    from avmm.runtime.exits import Interrupted

    return isinstance(exit, Interrupted)


def _start_trace(host: Host, config: Any) -> Any:
    """The tracer of ``[trace]``, started on every VM built, or None."""
    if not config.events:
        return None
    from avmm.config import parse_range
    from avmm.trace import TraceFilter, Tracer

    lo, hi = parse_range(config.range) or (0, 2**64 - 1)
    where = TraceFilter(frozenset(config.vcpus) or None, lo, hi)
    try:
        tracer = Tracer.to_file(
            host, config.events, config.file, where=where, max_lines=config.max_lines
        )
    except OSError as err:
        raise ConfigError("trace.file", f"cannot write {config.file}: {err.strerror}") from None
    tracer.start()
    _log.info("tracing %s to %s", ", ".join(config.events), config.file)
    return tracer


def _start_series(host: Host, config: Any) -> Any:
    """The metric-series recorder of ``[series]``, started, or None."""
    if not config.metrics:
        return None
    from avmm.obs.series import SeriesRecorder, check_names

    names = check_names(config.metrics)  # a wrong name fails before the file is made
    try:
        recorder = SeriesRecorder.to_file(
            host, names, config.file, interval=config.interval, max_samples=config.max_samples
        )
    except OSError as err:
        raise ConfigError("series.file", f"cannot write {config.file}: {err.strerror}") from None
    recorder.start()
    _log.info("metric series every %g s to %s", config.interval, config.file)
    return recorder


def ending(exit: Any) -> str:
    """How a VM ended, in a few words."""
    from avmm.runtime.exits import HtifExit, InternalError, Interrupted, SystemEvent

    if isinstance(exit, SystemEvent):
        if exit.kind.name == "SHUTDOWN":
            return "powered off by the guest"
        return f"{exit.kind.name.lower().replace('_', ' ')} by vcpu{exit.vcpu}"
    if isinstance(exit, HtifExit):
        return "exit through HTIF"
    if isinstance(exit, Interrupted):
        return {"SIGNAL": "stopped by a signal", "PAUSE": "paused"}.get(exit.reason.name, "stopped")
    if isinstance(exit, InternalError):
        return f"internal error on vcpu{exit.vcpu}: {exit.message}"
    return type(exit).__name__


def _wants_progress(boards: Sequence[Any]) -> bool:
    """Show progress where a person waits: a terminal, and no guest console on it."""
    return sys.stderr.isatty() and all(b.config.console.backend not in ("stdio",) for b in boards)


class _Progress:
    """One status line on stderr while headless VMs run (instructions, MIPS)."""

    PERIOD = 1.0

    def __init__(self, host: Host) -> None:
        self._host = host
        self._start = time.monotonic()
        self._last = (self._start, 0)
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.PERIOD)
            now = time.monotonic()
            instret = sum(vm.machine.instret for vm in self._host.vms.values())
            then, before = self._last
            self._last = (now, instret)
            mips = (instret - before) / max(now - then, 1e-9) / 1e6
            sys.stderr.write(
                f"\ravmm: {now - self._start:6.1f} s  {instret / 1e6:10.1f} M instructions"
                f"  {mips:7.1f} MIPS "
            )
            sys.stderr.flush()

    def close(self) -> None:
        self._task.cancel()
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def _write_report(
    path: Path, host: Any, boards: Sequence[Any], results: Sequence[Any], status: int, wall: float
) -> None:
    import json

    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats = host.statistics()
    vms = {}
    for board, result, vm in zip(boards, results, stats.vms, strict=True):
        vms[vm.name] = {
            "exit": {
                "kind": type(result.exit).__name__,
                "code": result.code,
                "detail": ending(result.exit),
            },
            "reboots": board.reboots,
            "instructions": vm.instret,
            "vmid": vm.vmid,
            "vcpus": [
                {
                    "vcpu": v.vcpu,
                    "instructions": v.instret,
                    "exits": {k: n for k, n in v.exits.items() if n},
                    "slices": v.slices,
                    "halt_wait_seconds": round(v.halt_wait_seconds, 6),
                    "directed_yields": v.directed_yields,
                    "pause_exits": v.pause_exits,
                    "remote_tlb_flushes": v.remote_tlb_flushes,
                    "steal_seconds": round(v.steal_seconds, 9),
                    "yield_hints": v.yield_hints,
                }
                for v in vm.vcpus
            ],
        }
    data = {
        "avmm": __version__,
        "exit_status": status,
        "wall_seconds": round(wall, 6),
        "host_cpu_seconds": round(usage.ru_utime + usage.ru_stime, 6),
        "policy": stats.policy,
        "clock": stats.clock,
        "slice": stats.slice,
        "vmids": {
            "bits": stats.vmids.bits,
            "generation": stats.vmids.generation,
            "rollovers": stats.vmids.rollovers,
        },
        "vms": vms,
    }
    # whole or not at all: written beside it, then renamed over it
    part = path.with_name(f".{path.name}.part")
    try:
        part.write_text(json.dumps(data, indent=2) + "\n")
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
