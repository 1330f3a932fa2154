"""The stdio console when stdin cannot be polled (/dev/null under CI or a script):
the VM runs and its output still reaches stdout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from avmm.devices.backends import StdioChar

REPO = Path(__file__).resolve().parents[2]


async def test_stdio_console_with_stdin_on_dev_null_starts_and_writes() -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    read_end, write_end = os.pipe()
    try:
        console = StdioChar(stdin=devnull, stdout=write_end)
        console.attach(lambda data: None)  # starts reading: must not raise
        console.write(b"guest output\n")
        console.close()
        assert os.read(read_end, 100) == b"guest output\n"
    finally:
        for fd in (devnull, read_end, write_end):
            os.close(fd)


@pytest.mark.slow
def test_a_vm_on_the_stdio_console_runs_without_a_terminal(demo: Path, tmp_path: Path) -> None:
    toml = tmp_path / "hello.toml"
    toml.write_text(
        f"""version = 1
[vm]
boot = {{ mode = "firmware", firmware = "{demo / "hello.elf"}" }}
"""
    )
    proc = subprocess.run(
        [sys.executable, "-m", "avmm.cli", "run", str(toml)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.startswith(b"Hello from hart 0 of an RV64GC virt board!\n")
