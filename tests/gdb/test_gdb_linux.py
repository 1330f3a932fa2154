"""Real gdb-multiarch attached to a running 4-vCPU Linux VM, with the kernel's
vmlinux for symbols; after detach the VM finishes its self-check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from guests.build import build
from tests.gdb.gdbrig import Avmm, run_gdb

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("gdb")]


def config(tmp_path: Path, linux: tuple[Path, Path]) -> Path:
    kernel, initrd = linux
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"")
    path = tmp_path / "vm.toml"
    path.write_text(
        f"""version = 1
[vm]
name = "lx"
vcpus = 4
memory = "256MiB"
[vm.boot]
mode = "direct"
kernel = "{kernel}"
initrd = "{initrd}"
cmdline = "console=ttyS0 earlycon avmm.check=1"
[vm.console]
backend = "file"
path = "{tmp_path / "console.txt"}"
[[vm.disks]]
path = "{disk}"
create = "64MiB"
[vm.gdb]
listen = "127.0.0.1:0"
"""
    )
    disk.unlink()
    return path


def test_attach_break_backtrace_step_watch_interrupt_and_detach(
    linux: tuple[Path, Path], tmp_path: Path
) -> None:
    vmlinux = build("linux", quiet=True) / "vmlinux"
    avmm = Avmm([str(config(tmp_path, linux))], tmp_path)
    try:
        out = run_gdb(
            avmm.address,
            vmlinux,
            """
info threads
shell (sleep 0.3; kill -INT $PPID) &
continue
info threads
break __schedule
continue
bt 3
stepi
p $pc
delete
watch jiffies
continue
delete
detach
""",
            guard=120,
        )
        # Ctrl-C first: with the translator the boot is over soon after attaching
        threads = re.findall(r"^\*?\s+(\d) +Thread \d \(vcpu\d [MSU]-mode", out, re.M)
        assert threads[:4] == ["1", "2", "3", "4"], out
        hit = re.search(r"Thread (\d) hit Breakpoint 1, __schedule \(", out)
        assert hit, out
        assert re.search(r"^#1 .* in \w+ \(", out, re.M), out  # a backtrace past frame 0
        assert re.search(r"\$1 = \(void \(\*\)\(\)\) 0x\w+ <__schedule\+\d+>", out), out
        assert re.search(
            r"Hardware watchpoint 2: jiffies\n\nOld value = \d+\nNew value = \d+", out
        ), out
        assert re.search(r"Thread \d received signal SIGINT", out), out
        assert "[Inferior 1 (Remote target) detached]" in out, out
        assert avmm.finish(120) == 0
        console = (tmp_path / "console.txt").read_text(errors="replace")
        assert "avmm-check: PASS" in console, console[-2000:]
    finally:
        avmm.kill()
