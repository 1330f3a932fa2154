"""``avmm stat``'s live view: a full-screen table on rich, refreshed every interval.

rich draws (tables that fit the terminal, colours, the alternate screen);
this module only reads keys and keeps the view's state. Keys: ``q`` quits,
up/down and PgUp/PgDn scroll the vCPU (or VM) table, ``s`` cycles the sort
of the exit reasons (rate, total, name), ``v`` switches between the per-vCPU
and the per-VM table. Rows that do not fit are scrolled to, never cut off
silently: the footer says which rows are shown. Imported only by the live
view, so ``avmm stat --once`` and the rest of avmm never load rich.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Iterator

import attrs
from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from avmm.obs.stat import SORTS, FetchError, Frame, Sample, VcpuRow, compute, fetch, vm_rows

HISTORY = 24  # reads kept for each reason's sparkline
_BARS_UTF8 = "▁▂▃▄▅▆▇█"
_BARS_ASCII = " .:-=+*#"
_KEYS = {
    "\x1b[A": "up",
    "\x1b[B": "down",
    "\x1b[5~": "pgup",
    "\x1b[6~": "pgdn",
    "k": "up",
    "j": "down",
    " ": "pgdn",
}


def sparkline(values: list[float], bars: str = _BARS_UTF8) -> str:
    """``values`` as one bar each, scaled to their own maximum."""
    top = max(values, default=0.0)
    if top <= 0:
        return bars[0] * len(values)
    last = len(bars) - 1
    return "".join(bars[min(last, round(last * v / top))] for v in values)


@attrs.define
class View:
    """What the user chose (sort, table, scroll) and what the reads gave."""

    url: str
    interval: float
    sort: str = "rate"
    per_vm: bool = False
    offset: int = 0
    page: int = 10  # rows of the lower table that fit, from the last draw
    frame: Frame | None = None
    prev: Sample | None = None  # the last read
    before: Sample | None = None  # the read before it
    status: str = "waiting for the first read ..."
    history: dict[str, collections.deque[float]] = attrs.Factory(dict)

    def read(self) -> None:
        try:
            cur = fetch(self.url, timeout=max(self.interval, 1.0))
        except FetchError as err:
            self.status = f"{err} -- retrying"
            return
        self.frame = compute(self.prev, cur, self.sort)
        self.before, self.prev = self.prev, cur
        self.status = ""
        for row in self.frame.reasons:
            if row.rate is not None:
                self.history.setdefault(row.name, collections.deque(maxlen=HISTORY)).append(
                    row.rate
                )

    def key(self, name: str) -> bool:
        """Apply a key; False when it quits."""
        if name in ("q", "Q"):
            return False
        if name == "s":
            self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
            if self.prev is not None:
                self.frame = compute(self.before, self.prev, self.sort)
        elif name == "v":
            self.per_vm = not self.per_vm
            self.offset = 0
        elif name in ("up", "down", "pgup", "pgdn"):
            step = {"up": -1, "down": 1, "pgup": -self.page, "pgdn": self.page}[name]
            self.offset = max(0, min(self.offset + step, max(0, len(self.rows()) - self.page)))
        return True

    def rows(self) -> tuple[VcpuRow, ...]:
        if self.frame is None:
            return ()
        return vm_rows(self.frame) if self.per_vm else self.frame.vcpu_rows


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def _reasons(view: View, frame: Frame, bars: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for title in ("Exit reason", "Total", "/s", "%/s"):
        table.add_column(title, justify="left" if title == "Exit reason" else "right")
    table.add_column(f"last {HISTORY} reads")
    busy = sum(r.rate or 0.0 for r in frame.reasons)
    for row in frame.reasons:
        if not row.total:
            continue
        share = None if row.rate is None or not busy else 100 * row.rate / busy
        spark = sparkline(list(view.history.get(row.name, ())), bars)
        table.add_row(
            row.name, _num(row.total), _num(row.rate), _num(share, "{:.1f}"), Text(spark, "cyan")
        )
    return table


def _lower(view: View, frame: Frame, rows: tuple[VcpuRow, ...], width: int) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("VM (vCPUs)" if view.per_vm else "vCPU")
    for title in ("MIPS", "exits/s", "halt%", "steal%"):
        table.add_column(title, justify="right")
    shown = [r.name for r in frame.reasons if r.total and r.name != "budget"]
    used = 47
    cols = []
    for name in shown:
        if used + 12 > width:
            break
        table.add_column(name[:11], justify="right")
        cols.append(name)
        used += 12
    for v in rows:
        halt = None if v.halt is None else 100 * v.halt
        steal = None if v.steal is None else 100 * v.steal
        table.add_row(
            v.name,
            _num(v.mips, "{:,.2f}"),
            _num(v.exits),
            _num(halt, "{:.0f}"),
            _num(steal, "{:.0f}"),
            *(_num(v.reasons.get(name)) for name in cols),
        )
    return table


def render(view: View, console: Console) -> RenderableType:
    """The whole screen: header, reasons, the visible part of the lower table, footer."""
    width, height = console.size
    frame = view.frame
    head = Text(f"avmm stat  {view.url}", style="bold")
    if frame is None:
        return Group(head, Text(view.status), Text(" q quits ", style="reverse"))
    every = "" if frame.interval is None else f", rates over {frame.interval:.1f} s"
    mips = frame.instructions.rate
    summary = Text(
        f"{frame.vms} VM(s), {frame.vcpus} vCPU(s), "
        f"{_num(None if mips is None else mips / 1e6, '{:,.1f}')} MIPS{every}"
    )
    bars = _BARS_UTF8 if console.encoding.lower().startswith("utf") else _BARS_ASCII
    reasons = _reasons(view, frame, bars)
    rows = view.rows()
    # Every line but the lower table's rows, measured as rich will draw them
    # (the footer is the +1); what is left is the page of rows shown.
    fixed = Group(head, summary, reasons, _lower(view, frame, (), width))
    used = len(console.render_lines(fixed, console.options, pad=False)) + 1
    view.page = max(1, height - used)
    view.offset = max(0, min(view.offset, max(0, len(rows) - view.page)))
    visible = rows[view.offset : view.offset + view.page]
    lower = _lower(view, frame, visible, width)
    first, last = view.offset + 1, view.offset + len(visible)
    where = f"rows {first}-{last} of {len(rows)}" if len(rows) > len(visible) else ""
    keys = [
        where + (" (up/down/PgUp/PgDn scroll)" if where else ""),
        f"s sort: {view.sort}",
        "v per-vCPU" if view.per_vm else "v per-VM",
        "q quits",
    ]
    footer = " " + " | ".join(k for k in keys if k) + " "
    if view.status:
        footer = f" {view.status} |" + footer
    return Group(head, summary, reasons, lower, Text(footer[: max(width - 1, 1)], style="reverse"))


@contextlib.contextmanager
def _cbreak() -> Iterator[int]:
    """stdin in cbreak mode (keys one at a time, no echo), restored on exit."""
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _keys(fd: int, timeout: float) -> list[str]:
    """Keys typed within ``timeout`` seconds (escape sequences as names)."""
    ready, _, _ = select.select([fd], [], [], max(timeout, 0.0))
    if not ready:
        return []
    data = os.read(fd, 64).decode(errors="replace")
    out = []
    while data:
        for seq, name in _KEYS.items():
            if data.startswith(seq) and len(seq) > 1:
                out.append(name)
                data = data[len(seq) :]
                break
        else:
            out.append(_KEYS.get(data[0], data[0]))
            data = data[1:]
    return out


def live(url: str, interval: float, sort: str = "rate") -> int:
    """Full screen until ``q``: read every ``interval`` seconds, redraw on keys."""
    console = Console(highlight=False)
    view = View(url, interval, sort)
    with _cbreak() as fd, Live(console=console, screen=True, auto_refresh=False) as screen:
        next_read = 0.0
        while True:
            now = time.monotonic()
            if now >= next_read:
                next_read = now + interval
                view.read()
                screen.update(render(view, console), refresh=True)
            for key in _keys(fd, min(0.1, next_read - time.monotonic())):
                if not view.key(key):
                    return 0
                screen.update(render(view, console), refresh=True)
