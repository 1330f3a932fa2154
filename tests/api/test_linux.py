"""The control API with a real Linux guest: its shell reads what ``console``
sends, an interrupt asserted on the RTC's PLIC line shows in the guest's
/proc/interrupts, and a paused Linux answers again after ``resume``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from avmm.api import ApiClient
from tests.api.conftest import AVMM, GUARD, wait_until

RTC_IRQ = 11  # board/layout.py


def test_a_linux_shell_driven_through_the_api(tmp_path: Path, linux: tuple[Path, Path]) -> None:
    kernel, initrd = linux
    sock = tmp_path / "api.sock"
    console = tmp_path / "console.log"
    proc = subprocess.Popen(
        [
            *AVMM,
            "run",
            "--kernel",
            str(kernel),
            "--initrd",
            str(initrd),
            "--vcpus",
            "2",
            "--append",
            "console=ttyS0",
            "--console",
            f"file:{console}",
            "--api",
            str(sock),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def text() -> str:
        return console.read_text(errors="replace") if console.exists() else ""

    def rtc_interrupts(marker: str) -> int:
        """Send a command that prints the RTC line of /proc/interrupts; its total."""
        api.execute("console", data=f"grep rtc /proc/interrupts; echo {marker}\r")
        wait_until(marker, lambda: f"\n{marker}" in text())
        out = text().rsplit(f"echo {marker}", 1)[1]
        m = re.search(rf"^\s*\d+:\s+([\d ]+?)\s+SiFive PLIC\s+{RTC_IRQ}\s.*rtc", out, re.M)
        assert m is not None, out
        return sum(int(n) for n in m[1].split())

    try:
        wait_until("the shell", lambda: "avmm: shell on the console" in text())
        with ApiClient(str(sock)) as api:
            api.execute("console", data="echo api-$((40+2))\r")
            wait_until("the shell's answer", lambda: "\napi-42" in text())
            before = rtc_interrupts("mark-1")
            for _ in range(3):
                api.execute("irq", source=RTC_IRQ)
            assert rtc_interrupts("mark-2") == before + 3

            assert api.execute("pause") == {"vm": "paused"}
            api.execute("console", data="echo after-$((6*7))\r")
            assert api.execute("info")["state"] == "paused"
            assert "after-42" not in text().rsplit("echo after-", 1)[-1]
            assert api.execute("resume") == {"vm": "running"}
            wait_until("the shell after resume", lambda: "\nafter-42" in text())
            assert api.execute("stop") == {"vm": "stopping"}
        assert proc.wait(timeout=GUARD) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
