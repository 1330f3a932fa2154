"""``avmm run`` as a child process, its stderr collected line by line on a thread
(so a test can wait for a line without ever blocking on the pipe)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

AVMM = [sys.executable, "-m", "avmm.cli"]
REPO = Path(__file__).resolve().parents[2]
# Waits that fail a test rather than hang CI (not measurements).
GUARD = 60.0


class Avmm:
    """One ``avmm`` process; ``lines`` is its stderr so far."""

    def __init__(self, args: Sequence[str | os.PathLike[str]], **popen: Any) -> None:
        popen.setdefault("stdin", subprocess.DEVNULL)
        popen.setdefault("stdout", subprocess.DEVNULL)
        self.proc = subprocess.Popen(
            [*AVMM, *map(os.fspath, args)], stderr=subprocess.PIPE, cwd=REPO, **popen
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(self.proc.stderr,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def wait_line(self, pattern: str, timeout: float = GUARD) -> re.Match[str]:
        """The first stderr line matching ``pattern``, waiting for it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for line in self.lines[seen:]:
                m = regex.search(line)
                if m:
                    return m
            seen = len(self.lines)
            if self.proc.poll() is not None and seen == len(self.lines):
                self._reader.join(1)
                for line in self.lines[seen:]:
                    m = regex.search(line)
                    if m:
                        return m
                raise AssertionError(f"avmm ended ({self.proc.returncode}):\n{self.stderr}")
            time.sleep(0.02)
        raise AssertionError(f"no line like {pattern!r} within {timeout} s:\n{self.stderr}")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = GUARD) -> int:
        """The exit status (killing the process if it does not end in time)."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(5)
            raise AssertionError(f"avmm did not end within {timeout} s:\n{self.stderr}") from None
        self._reader.join(5)
        return code

    def kill(self) -> None:
        """End the process if a failed test left it running; close its pipes."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._reader.join(5)
        for stream in (self.proc.stdout, self.proc.stdin):
            if stream is not None:
                stream.close()
