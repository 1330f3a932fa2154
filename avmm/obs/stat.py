"""``avmm stat``: a running avmm's exit rates, refreshed like ``kvm_stat`` / ``top``.

    avmm stat [URL] [--interval SECONDS] [--once] [--sort rate|total|name]

Reads the Prometheus endpoint of a running avmm (default
``http://127.0.0.1:9464/metrics``; ``host:port`` is enough) every interval
and shows, per exit reason, per vCPU and per VM, the totals and the rates
between the last two reads. The live view (:mod:`avmm.obs.statview`, on
rich) scrolls, sorts and draws each reason's recent rates as a sparkline;
``--once`` prints a single text snapshot (two reads an interval apart) and
exits: for scripts and pipes.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TextIO

import attrs
from prometheus_client.parser import text_string_to_metric_families

DEFAULT_URL = "http://127.0.0.1:9464/metrics"
SORTS = ("rate", "total", "name")
# Said when nothing answers: a user's first `avmm stat` usually meets an avmm
# that exports nothing, because metrics are off unless asked for.
NOT_LISTENING_HINT = (
    "is an avmm running with metrics on? They are off by default: "
    "--set metrics.enabled=true, or [metrics] enabled = true"
)

# (sample name, sorted label pairs) -> value
Key = tuple[str, tuple[tuple[str, str], ...]]


class FetchError(Exception):
    """The endpoint could not be read or parsed, or is not an avmm's."""


@attrs.frozen
class Sample:
    """One read of the endpoint."""

    time: float  # time.monotonic() of the read
    values: dict[Key, float]

    def series(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {labels: v for (n, labels), v in self.values.items() if n == name}


def normalize_url(url: str | None) -> str:
    """``None`` -> the default; ``host:port`` -> ``http://host:port/metrics``."""
    if not url:
        return DEFAULT_URL
    if "://" not in url:
        url = f"http://{url}"
    scheme, rest = url.split("://", 1)
    if "/" not in rest:
        url = f"{scheme}://{rest}/metrics"
    return url


def parse(text: str, at: float) -> Sample:
    values: dict[Key, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                values[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
    except ValueError as err:
        raise FetchError(f"not a Prometheus exposition: {err}") from err
    return Sample(at, values)


def fetch(url: str, timeout: float = 5.0) -> Sample:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        hint = ""
        if isinstance(reason, ConnectionRefusedError):
            hint = f" ({NOT_LISTENING_HINT})"
        raise FetchError(f"cannot read {url}: {reason}{hint}") from err
    sample = parse(text, time.monotonic())
    if not any(name.startswith("avmm_") for name, _ in sample.values):
        raise FetchError(
            f"{url} is not an avmm metrics endpoint (it exports no avmm_* metric); "
            "give the address avmm printed as `avmm: metrics at URL`"
        )
    return sample


# ---------------------------------------------------------------- the view


@attrs.frozen
class Row:
    name: str
    total: float
    rate: float | None  # None until two reads exist


@attrs.frozen
class VcpuRow:
    name: str  # vm/vcpu
    mips: float | None
    exits: float | None  # exits per second (budget excluded)
    halt: float | None  # share of the time spent halted, 0..1
    steal: float | None  # steal time over its VM's guest time (runnable, no pCPU), 0..1
    reasons: dict[str, float | None]  # exits per second by reason


@attrs.frozen
class Frame:
    """What one refresh shows."""

    vms: int
    vcpus: int
    instructions: Row
    reasons: tuple[Row, ...]  # sorted by rate, then total
    vcpu_rows: tuple[VcpuRow, ...]
    interval: float | None  # seconds between the two reads


def _label(labels: tuple[tuple[str, str], ...], name: str) -> str:
    return dict(labels).get(name, "")


def _rate(cur: float, prev: float | None, dt: float | None) -> float | None:
    if prev is None or dt is None or dt <= 0:
        return None
    delta = cur - prev if cur >= prev else cur  # a restarted avmm starts again from 0
    return delta / dt


def compute(prev: Sample | None, cur: Sample, sort: str = "rate") -> Frame:
    """Totals and the rates between ``prev`` and ``cur`` (None when ``prev`` is);
    reasons ordered by ``sort`` (rate, total or name)."""
    dt = cur.time - prev.time if prev is not None else None

    def before(name: str, labels: tuple[tuple[str, str], ...]) -> float | None:
        return None if prev is None else prev.values.get((name, labels))

    exits = cur.series("avmm_vcpu_exits_total")
    by_reason: dict[str, list[float]] = {}
    per_vcpu: dict[tuple[str, str], dict[str, float | None]] = {}
    for labels, value in exits.items():
        reason = _label(labels, "reason")
        rate = _rate(value, before("avmm_vcpu_exits_total", labels), dt)
        acc = by_reason.setdefault(reason, [0.0, 0.0, 0.0])  # total, rate, rates known
        acc[0] += value
        if rate is not None:
            acc[1] += rate
            acc[2] = 1.0
        vcpu = (_label(labels, "vm"), _label(labels, "vcpu"))
        per_vcpu.setdefault(vcpu, {})[reason] = rate
    reasons = tuple(
        sorted(
            (Row(r, t, rate if known else None) for r, (t, rate, known) in by_reason.items()),
            key=_ORDER[sort],
        )
    )
    instr = cur.series("avmm_vcpu_instructions_total")
    halt = cur.series("avmm_vcpu_halt_wait_seconds_total")
    steal = cur.series("avmm_vcpu_steal_seconds_total")
    guest = {
        _label(labels, "vm"): _rate(value, before("avmm_vm_guest_time_seconds", labels), dt)
        for labels, value in cur.series("avmm_vm_guest_time_seconds").items()
    }
    rows = []
    total_instr, total_rate, known = 0.0, 0.0, False
    for labels, value in sorted(instr.items(), key=lambda kv: _vcpu_order(kv[0])):
        vm, index = _label(labels, "vm"), _label(labels, "vcpu")
        rate = _rate(value, before("avmm_vcpu_instructions_total", labels), dt)
        total_instr += value
        if rate is not None:
            total_rate += rate
            known = True
        h = halt.get(labels)
        halt_rate = (
            None if h is None else _rate(h, before("avmm_vcpu_halt_wait_seconds_total", labels), dt)
        )
        s, g = steal.get(labels), guest.get(vm)
        steal_rate = (
            None if s is None else _rate(s, before("avmm_vcpu_steal_seconds_total", labels), dt)
        )
        steal_share = None if steal_rate is None or not g else steal_rate / g
        by = per_vcpu.get((vm, index), {})
        busy = [r for k, r in by.items() if k != "budget"]
        exit_rate = None if any(r is None for r in busy) else sum(r for r in busy if r is not None)
        rows.append(
            VcpuRow(
                name=f"{vm}/{index}",
                mips=None if rate is None else rate / 1e6,
                exits=exit_rate,
                halt=None if halt_rate is None else min(max(halt_rate, 0.0), 1.0),
                steal=None if steal_share is None else min(max(steal_share, 0.0), 1.0),
                reasons=by,
            )
        )
    return Frame(
        vms=len({_label(k, "vm") for k in instr}),
        vcpus=len(instr),
        instructions=Row("instructions", total_instr, total_rate if known else None),
        reasons=reasons,
        vcpu_rows=tuple(rows),
        interval=dt,
    )


_ORDER: dict[str, Callable[[Row], tuple[float | str, ...]]] = {
    "rate": lambda row: (-(row.rate or 0.0), -row.total, row.name),
    "total": lambda row: (-row.total, -(row.rate or 0.0), row.name),
    "name": lambda row: (row.name,),
}


def vm_rows(frame: Frame) -> tuple[VcpuRow, ...]:
    """The vCPU rows summed per VM (halt and steal: the mean shares of its vCPUs)."""
    groups: dict[str, list[VcpuRow]] = {}
    for row in frame.vcpu_rows:
        groups.setdefault(row.name.split("/", 1)[0], []).append(row)

    def total(values: list[float | None]) -> float | None:
        return None if any(v is None for v in values) else sum(v or 0.0 for v in values)

    out = []
    for vm, rows in groups.items():
        halt = total([r.halt for r in rows])
        steal = total([r.steal for r in rows])
        reasons = {k for r in rows for k in r.reasons}
        out.append(
            VcpuRow(
                name=f"{vm} ({len(rows)})",
                mips=total([r.mips for r in rows]),
                exits=total([r.exits for r in rows]),
                halt=None if halt is None else halt / len(rows),
                steal=None if steal is None else steal / len(rows),
                reasons={k: total([r.reasons.get(k, 0.0) for r in rows]) for k in reasons},
            )
        )
    return tuple(out)


def _vcpu_order(labels: tuple[tuple[str, str], ...]) -> tuple[str, int]:
    index = _label(labels, "vcpu")
    return _label(labels, "vm"), int(index) if index.isdigit() else -1


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def render(frame: Frame, url: str, width: int = 100) -> list[str]:
    """The frame as text lines (what ``--once`` prints)."""
    every = "" if frame.interval is None else f", rates over {frame.interval:.1f} s"
    mips = frame.instructions.rate
    lines = [
        f"avmm stat  {url}{every}",
        f"{frame.vms} VM(s), {frame.vcpus} vCPU(s), "
        f"{_num(None if mips is None else mips / 1e6, '{:,.1f}')} MIPS",
        "",
        f"{'Exit reason':<16}{'Total':>16}{'/s':>14}{'%/s':>8}",
    ]
    busy_rate = sum(r.rate or 0.0 for r in frame.reasons)
    for row in frame.reasons:
        if not row.total:
            continue
        share = None if row.rate is None or not busy_rate else 100 * row.rate / busy_rate
        lines.append(
            f"{row.name:<16}{_num(row.total):>16}{_num(row.rate):>14}{_num(share, '{:.1f}'):>8}"
        )
    shown = [r.name for r in frame.reasons if r.total and r.name != "budget"]
    head = f"{'vCPU':<14}{'MIPS':>9}{'exits/s':>11}{'halt%':>7}{'steal%':>7}"
    cols = []
    for name in shown:
        if len(head) + 12 > width:
            break
        head += f"{name[:11]:>12}"
        cols.append(name)
    lines += ["", head]
    for v in frame.vcpu_rows:
        line = (
            f"{v.name[:13]:<14}{_num(v.mips, '{:,.2f}'):>9}{_num(v.exits):>11}"
            f"{_num(None if v.halt is None else 100 * v.halt, '{:.0f}'):>7}"
            f"{_num(None if v.steal is None else 100 * v.steal, '{:.0f}'):>7}"
        )
        for name in cols:
            line += f"{_num(v.reasons.get(name)):>12}"
        lines.append(line)
    return [line[:width] for line in lines]


# ---------------------------------------------------------------- front ends


def run_once(url: str, interval: float, sort: str = "rate", out: TextIO | None = None) -> int:
    """Two reads ``interval`` apart, one text frame on stdout; 1 on a read error."""
    stream = out if out is not None else sys.stdout
    try:
        first = fetch(url)
        time.sleep(interval)
        second = fetch(url)
    except FetchError as err:
        print(f"avmm stat: {err}", file=sys.stderr)
        return 1
    try:
        for line in render(compute(first, second, sort), url, width=200):
            print(line.rstrip(), file=stream)
        stream.flush()
    except BrokenPipeError:
        # `avmm stat --once | head -3`: the reader has what it wanted. Point
        # stdout at /dev/null so the interpreter's final flush is quiet too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    return 0
