"""The ``avmm`` command: run VMs from config files, validate configs, watch metrics.

Exit status of ``avmm run``: the guest's exit code (HTIF, the syscon device,
an SBI reset reason), 0 on a clean poweroff or a stop by signal; 2 for a bad
config or argument; 1 for an internal error or a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avmm.errors import AvmmError, ConfigError
from avmm.version import __version__

if TYPE_CHECKING:  # the CLI imports the runtime lazily, so --help stays fast
    from avmm.runtime.host import Host

EXIT_INTERNAL = 1
EXIT_USAGE = 2

EPILOG = """\
exit status of `avmm run`:
  the guest's exit code (HTIF tohost, the syscon test device, SBI system reset),
  0 on a clean poweroff or a stop by SIGINT/SIGTERM,
  2 for a bad config file or argument, 1 for an internal error or --timeout.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits 2 too; keep its usage line
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"avmm: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="avmm",
        description="An event-driven asyncio VMM for SMP RISC-V guests.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"avmm {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    run = sub.add_parser(
        "run",
        help="run the VMs of a config file, or a kernel given on the command line",
        description="Run the VMs of CONFIG, or a quick launch of --kernel (like qemu -kernel).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
        metavar="stdio|null|pty|file:PATH|tcp[:PORT]",
        help="where every VM's console goes (overrides the config)",
    )
    run.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="write a JSON report: per-vCPU instructions and exits, times, exit status",
    )
    run.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop the VMs after SECONDS of wall time and exit with status 1",
    )
    debug = run.add_argument_group("debugging (the first VM)")
    debug.add_argument(
        "--gdb",
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
        metavar="EVENTS",
        help="comma-separated: exits, interrupts, traps, sbi, mmio, insns, or all",
    )
    trace.add_argument("--trace-file", type=Path, metavar="PATH", help="default avmm-trace.jsonl")
    trace.add_argument("--trace-vcpus", metavar="N,...", help="only these vCPUs")
    trace.add_argument("--trace-range", metavar="LO-HI", help="only addresses in [LO, HI]")
    quick = run.add_argument_group("quick launch without a config file")
    quick.add_argument(
        "--kernel",
        type=Path,
        metavar="PATH",
        help="a Linux Image (direct boot) or a bare-metal ELF (M-mode, HTIF)",
    )
    quick.add_argument("--vcpus", type=int, metavar="N", help="number of vCPUs (default 1)")
    quick.add_argument("--memory", metavar="SIZE", help="guest RAM, e.g. 512MiB (default 256MiB)")
    quick.add_argument("--initrd", type=Path, metavar="PATH", help="initramfs for the kernel")
    quick.add_argument("--append", metavar="CMDLINE", help="kernel command line")
    quick.add_argument(
        "--bios",
        metavar="PATH|default|none",
        help="M-mode firmware that starts the kernel (default: none, avmm answers "
        "SBI itself; 'default' is Debian's OpenSBI fw_dynamic)",
    )

    validate = sub.add_parser("validate", help="check a config file and print the resolved machine")
    validate.add_argument("config", type=Path)
    validate.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (repeatable)",
    )

    stat = sub.add_parser(
        "stat", help="live exit rates of a running avmm (like kvm_stat)", add_help=False
    )
    stat.add_argument("args", nargs=argparse.REMAINDER)

    sub.add_parser(  # listed here for --help; main() hands its arguments to avmm.sweep.cli
        "sweep", help="run an experiment file's points, collect a table and plots", add_help=False
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sweep"]:  # its own parser: `avmm sweep --report DIR` starts with an option
        from avmm.sweep import cli as sweep

        return sweep.main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            return _validate(args)
        if args.command == "stat":
            from avmm.obs import stat

            return stat.main(args.args)
        return _run(args)
    except ConfigError as err:
        _error(str(err))
        for note in getattr(err, "__notes__", []):
            print(f"avmm: error: {note}", file=sys.stderr)
        return EXIT_USAGE
    except AvmmError as err:
        _error(str(err))
        return EXIT_INTERNAL


def _error(message: str) -> None:
    print(f"avmm: error: {message}", file=sys.stderr)


# ------------------------------------------------------------------- config


def _load(args: argparse.Namespace) -> Any:
    from avmm import config

    overrides = list(args.overrides)
    if getattr(args, "console", None):
        overrides += _console_overrides(args.console)
    overrides += _gdb_overrides(args)
    overrides += _trace_overrides(args)
    if args.config is not None:
        if getattr(args, "kernel", None) is not None:
            raise ConfigError("--kernel", "give either a config file or --kernel, not both")
        for flag in ("vcpus", "memory", "initrd", "append", "bios"):
            if getattr(args, flag, None) is not None:
                raise ConfigError(
                    f"--{flag}",
                    "only for a quick launch with --kernel; use --set with a config file",
                )
        return config.load(args.config, overrides)
    if getattr(args, "kernel", None) is None:
        raise ConfigError("", "give a config file or --kernel PATH (see avmm run --help)")
    data = {"version": 1, "vm": _quick_vm(args)}
    if not overrides:
        return config.quick_config(data, base=Path.cwd())
    config.apply_overrides(data, overrides)
    return config.from_dict(data, base=Path.cwd())


def _quick_vm(args: argparse.Namespace) -> dict[str, Any]:
    vm: dict[str, Any] = {}
    if args.vcpus is not None:
        vm["vcpus"] = args.vcpus
    if args.memory is not None:
        vm["memory"] = args.memory
    kernel = str(args.kernel)
    boot: dict[str, Any] = {}
    if _is_elf(args.kernel):
        # A bare-metal ELF runs in M-mode from reset; its tohost symbol enables HTIF.
        if args.bios not in (None, "none"):
            raise ConfigError("--bios", "a bare-metal ELF is its own firmware")
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
    return vm


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

        Listen.parse(listen, "--gdb")  # a bad address is named by its flag
    out = [f"vm[0].gdb.listen={_toml(listen or '127.0.0.1:1234')}"]
    if wait:
        out.append("vm[0].gdb.wait=true")
    return out


def _trace_overrides(args: argparse.Namespace) -> list[str]:
    out = []
    events = getattr(args, "trace", None)
    if events is not None:
        from avmm.trace import EVENT_NAMES  # only a traced run loads the tracer

        names = list(EVENT_NAMES) if events == "all" else [e.strip() for e in events.split(",")]
        for name in names:
            if name not in EVENT_NAMES:
                raise ConfigError(
                    "--trace", f'"{name}" is not one of {", ".join(EVENT_NAMES)}, all'
                )
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


def _console_overrides(spec: str) -> list[str]:
    kind, _, arg = spec.partition(":")
    if kind in ("stdio", "null", "pty") and not arg:
        return [f'vm.console.backend="{kind}"']
    if kind == "file" and arg:
        return [
            'vm.console.backend="file"',
            f"vm.console.path={_toml(str(Path(arg).absolute()))}",
        ]
    if kind == "tcp":
        port = arg or "0"
        if not port.isdigit():
            raise ConfigError("--console", f'"{spec}" is not tcp or tcp:PORT')
        return ['vm.console.backend="tcp"', f"vm.console.port={port}"]
    raise ConfigError(
        "--console", f'"{spec}" is not one of stdio, null, pty, file:PATH, tcp[:PORT]'
    )


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


def _run(args: argparse.Namespace) -> int:
    from avmm.runtime import host

    cfg = _load(args)
    if args.timeout is not None and args.timeout <= 0:
        raise ConfigError("--timeout", f"{args.timeout} must be a positive number of seconds")
    return host.run(_run_async(cfg, args.timeout, args.report))


async def _run_async(cfg: Any, timeout: float | None, report: Path | None) -> int:
    from avmm.board.virt import build_config
    from avmm.runtime.host import Host, SignalHandler

    wall0 = time.monotonic()
    status = 0
    timed_out = False
    async with Host.from_config(cfg) as host:
        boards = await build_config(host, cfg)
        exporter = None
        if cfg.metrics.enabled:  # prometheus-client is imported only for a run that exports
            from avmm.obs.exporter import exporter_from_config

            exporter = exporter_from_config(host, cfg.metrics)
        if exporter is not None:
            print(f"avmm: metrics at {exporter.url}", file=sys.stderr, flush=True)
        progress = _Progress(host) if _wants_progress(boards) else None
        tracer = _start_trace(host, cfg.trace)
        series = _start_series(host, cfg.series)
        try:
            with SignalHandler(host):
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
            print(
                f"avmm: {result.name}: {_ending(result.exit)}, exit code {result.code}"
                + (f", {board.reboots} reboot(s)" if board.reboots else ""),
                file=sys.stderr,
            )
            if result.code and not status:
                status = result.code
        if timed_out:
            _error(f"timeout: stopped after {timeout:g} s")
            status = EXIT_INTERNAL
        print(host.summary(), file=sys.stderr)
        if report is not None:
            _write_report(report, host, boards, results, status, time.monotonic() - wall0)
    return status


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
    print(f"avmm: tracing {', '.join(config.events)} to {config.file}", file=sys.stderr)
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
    print(f"avmm: metric series every {config.interval:g} s to {config.file}", file=sys.stderr)
    return recorder


def _ending(exit: Any) -> str:
    """How a VM ended, in a few words."""
    from avmm.runtime.exits import HtifExit, InternalError, Interrupted, SystemEvent

    if isinstance(exit, SystemEvent):
        return "powered off by the guest" if exit.kind.name == "SHUTDOWN" else exit.kind.value
    if isinstance(exit, HtifExit):
        return "exit through HTIF"
    if isinstance(exit, Interrupted):
        return f"stopped ({exit.reason.name.lower()})"
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
                "detail": str(result.exit),
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
    path.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
