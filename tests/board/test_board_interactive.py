"""An interactive Linux session on the board's pty console: the VMM prints the pty's
path, a user opens it, waits for the busybox prompt, types commands, reboots the
guest (SBI SRST), types again and powers off; the VMM exits with status 0."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.consolesession import GUARD, ConsoleSession, lines_until

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PROMPT = "avmm:/# "


def test_a_user_types_commands_into_the_shell_reboots_and_powers_off(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    kernel, initrd = linux
    toml = tmp_path / "shell.toml"
    toml.write_text(
        f"""version = 1
[[vm]]
name = "shell"
vcpus = 2
memory = "256MiB"
console = {{ backend = "pty" }}
rng = true
[vm.boot]
mode = "direct"
kernel = "{kernel}"
initrd = "{initrd}"
cmdline = "console=ttyS0"
"""
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "avmm.cli", "run", str(toml)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        (pty,) = lines_until(proc, r"avmm: shell: console on (/dev/pts/\d+)$")
        fd = os.open(pty[1], os.O_RDWR | os.O_NOCTTY)
        try:
            s = ConsoleSession(fd)
            s.expect("avmm: userspace up")
            s.expect(re.escape(PROMPT))
            s.type("echo $((6 * 7)) is the answer")
            s.expect(r"\n42 is the answer\n")
            s.expect(re.escape(PROMPT))
            s.type("cat /sys/devices/system/cpu/online; uname -sm")
            s.expect(r"\n0-1\nLinux riscv64\n")
            s.expect(re.escape(PROMPT))
            s.type("head -c 16 /dev/hwrng | wc -c")  # virtio-rng behind /dev/hwrng
            s.expect(r"\n16\n")
            s.expect(re.escape(PROMPT))
            s.type("date -u +%F")  # the Goldfish RTC follows the host's wall clock
            today = dt.datetime.now(dt.UTC).date()
            days = {str(today), str(today - dt.timedelta(days=1))}
            assert s.expect(r"\n(\d{4}-\d\d-\d\d)\n")[1] in days
            s.expect(re.escape(PROMPT))
            s.type("reboot -f")
            s.expect("avmm: userspace up")  # the second boot
            s.expect(re.escape(PROMPT))
            s.type("cat /proc/cmdline")
            s.expect(r"\nconsole=ttyS0\n")
            s.expect(re.escape(PROMPT))
            s.type("poweroff -f")
            s.expect("reboot: Power down")
        finally:
            os.close(fd)
        code = proc.wait(timeout=GUARD)
        assert proc.stderr is not None
        tail = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
    assert code == 0, tail
    assert "avmm: shell: powered off by the guest, exit code 0, 1 reboot(s)" in tail
