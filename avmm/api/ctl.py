"""``avmm ctl SOCKET COMMAND [ARGS]``: the control API from the command line.

Like ``lkvm list/pause/resume/stop``: one command per run, a human-readable
answer by default, the raw reply with ``--json``. ``ARGS`` are ``KEY=VALUE``
(``VALUE`` is read as JSON when it is JSON — ``8``, ``true``, ``"a\\r"`` — and
as a plain string otherwise); a first bare word is the VM's name.

Exit status: 0 when the command succeeded, 1 for an error reply or a server
that cannot be reached, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from avmm.api.client import DEFAULT_TIMEOUT, ApiClient, ApiConnectionError
from avmm.api.protocol import ApiError
from avmm.cli.usage import EXIT_USAGE, Parser

EXIT_FAILED = 1


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="avmm ctl",
        description="Drive a running avmm through its control API (avmm run --api PATH).",
        epilog="commands: list, info, pause, resume, stop, reset, metrics, sched, irq, console, "
        "commands (the server lists them with their arguments)",
    )
    p.add_argument("socket", metavar="SOCKET", help="the API's Unix socket, or tcp:[HOST:]PORT")
    p.add_argument("command", metavar="COMMAND")
    p.add_argument(
        "args", nargs="*", default=[], metavar="ARGS", help="KEY=VALUE ...; a first bare word: vm"
    )
    p.add_argument("--json", action="store_true", help="print the raw JSON reply")
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"wait at most this long for the server (default {DEFAULT_TIMEOUT:g})",
    )
    return p


def parse_args(words: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` words (and a first bare word as ``vm``) as the arguments object."""
    out: dict[str, Any] = {}
    for i, word in enumerate(words):
        key, sep, value = word.partition("=")
        if not sep:
            if i == 0:
                out["vm"] = word
                continue
            raise ValueError(f'"{word}" is not KEY=VALUE')
        if not key:
            raise ValueError(f'"{word}" has no KEY')
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    try:
        arguments = parse_args(args.args)
    except ValueError as err:
        print(f"avmm: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.timeout <= 0:
        print(f"avmm: error: --timeout: {args.timeout} must be positive", file=sys.stderr)
        return EXIT_USAGE
    try:
        with ApiClient(args.socket, timeout=args.timeout) as api:
            reply = api.request(args.command, arguments)
    except (ApiConnectionError, ApiError) as err:
        print(f"avmm: error: {err}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(reply))
        return EXIT_FAILED if "error" in reply else 0
    if "error" in reply:
        error = reply["error"]
        print(f"avmm: error: {error.get('desc')} ({error.get('class')})", file=sys.stderr)
        return EXIT_FAILED
    for line in render(args.command, reply.get("return")):
        print(line)
    return 0


# ------------------------------------------------------------------ output


def render(command: str, value: Any) -> list[str]:
    """A reply's ``return`` as lines for a person."""
    show = _RENDER.get(command)
    if show is not None:
        try:
            return show(value)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # an unexpected shape: the JSON is still readable
    return [json.dumps(value, indent=2)]


def _list(value: Any) -> list[str]:
    lines = [f"{'NAME':16} {'STATE':10} {'VCPUS':>5} {'INSTRUCTIONS':>16}"]
    for vm in value:
        lines.append(f"{vm['name']:16} {vm['state']:10} {vm['vcpus']:>5} {vm['instructions']:>16}")
    return lines


def _info(value: Any) -> list[str]:
    lines = [
        f"{value['name']}: {value['state']}, {len(value['vcpus'])} vCPU(s) on "
        f"{value['pcpus']} pCPU(s), VMID {value['vmid']} (generation "
        f"{value['vmid_generation']}), irqchip {value['irqchip']}, "
        f"{value['instructions']} instructions, {value['reboots']} reboot(s)",
        f"  console: {value['console']}",
    ]
    for v in value["vcpus"]:
        exits = ", ".join(f"{k} {n}" for k, n in v["exits"].items() if k != "budget") or "-"
        pcpu = "-" if v["pcpu"] is None else v["pcpu"]
        lines.append(
            f"  vcpu{v['vcpu']}: {v['instructions']} instructions, {v['hsm']}"
            f"{' (halted)' if v['halted'] else ''}, pCPU {pcpu}, {v['slices']} slices, "
            f"exits: {exits}"
        )
    return lines


def _states(value: Any) -> list[str]:
    return [f"{name}: {state}" for name, state in value.items()] or ["no VM"]


def _sched(value: Any) -> list[str]:
    return [
        f"policy {value['policy']}, slice {value['slice']}, pause_exit "
        f"{str(value['pause_exit']).lower()} (window {value['pause_window']}), directed_yield "
        f"{str(value['directed_yield']).lower()}, clock {value['clock']}, {value['pcpus']} pCPU(s)"
    ]


def _metrics(value: Any) -> list[str]:
    lines = []
    for family in value:
        for s in family["samples"]:
            labels = ",".join(f'{k}="{v}"' for k, v in s["labels"].items())
            lines.append(
                f"{s['name']}{{{labels}}} {s['value']}" if labels else f"{s['name']} {s['value']}"
            )
    return lines


def _commands(value: Any) -> list[str]:
    lines = []
    for c in value:
        args = " ".join(f"{n}=..." if a["required"] else f"[{n}=...]" for n, a in c["args"].items())
        lines.append(f"{c['name']} {args}".rstrip())
        lines.append(f"    {c['help']}")
    return lines


def _done(value: Any) -> list[str]:
    return [", ".join(f"{k} {_word(v)}" for k, v in value.items())]


def _saved(value: Any) -> list[str]:
    return [
        f"{value['vm']}: {value['path']}, {value['file_bytes'] / 2**20:.1f} MiB "
        f"({value['ram_bytes'] / 2**20:.1f} MiB of RAM), {value['seconds']:.2f} s"
    ]


def _migrated(value: Any) -> list[str]:
    return [
        f"{value['vm']}: migrated to {value['address']} in {value['seconds']:.2f} s, "
        f"{value['rounds']} round(s), {value['bytes_sent'] / 2**20:.1f} MiB sent, "
        f"downtime {value['downtime'] * 1000:.1f} ms"
    ]


def _word(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


_RENDER = {
    "list": _list,
    "info": _info,
    "pause": _states,
    "resume": _states,
    "stop": _states,
    "reset": _states,
    "sched": _sched,
    "metrics": _metrics,
    "commands": _commands,
    "irq": _done,
    "console": _done,
    "snapshot": _saved,
    "restore": _saved,
    "migrate": _migrated,
}
