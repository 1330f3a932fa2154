"""A guest console as a user at a terminal sees it: wait for text, type lines.

Shared by the tests that drive a VM's console through a pty (``avmm run`` under a
pty, or a VM whose console backend is ``pty``)."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import time

GUARD = 120.0  # seconds to wait for any one pattern before failing (a hang guard)


class ConsoleSession:
    """Reads a console file descriptor; :meth:`expect` consumes output in order."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.output = ""
        self._seen = 0

    def expect(self, pattern: str, guard: float = GUARD) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + guard
        with selectors.DefaultSelector() as sel:
            sel.register(self.fd, selectors.EVENT_READ)
            while True:
                m = regex.search(self.output, self._seen)
                if m:
                    self._seen = m.end()
                    return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {pattern!r}; console:\n{self.output[-3000:]}")
                if sel.select(min(left, 1.0)):
                    try:
                        chunk = os.read(self.fd, 4096)
                    except OSError:  # EIO: the other side of the pty is gone
                        chunk = b""
                    if not chunk:
                        raise AssertionError(f"console closed; console:\n{self.output[-3000:]}")
                    self.output += chunk.decode(errors="replace").replace("\r", "")

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")


def lines_until(proc: subprocess.Popen[bytes], *patterns: str) -> list[re.Match[str]]:
    """Read ``proc``'s stderr until every pattern matched a line (the pty a console is
    on, the address an ``--incoming`` VMM waits on, ...): the matches, in order."""
    assert proc.stderr is not None
    found: dict[str, re.Match[str]] = {}
    deadline = time.monotonic() + GUARD
    while len(found) < len(patterns) and time.monotonic() < deadline:
        line = proc.stderr.readline().decode().strip()
        if not line:
            break
        for p in patterns:
            if m := re.match(p, line):
                found[p] = m
    assert len(found) == len(patterns), f"missing {patterns} (exit {proc.poll()})"
    return [found[p] for p in patterns]
