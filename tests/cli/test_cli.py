"""`avmm` as a user types it: exit statuses, errors, quick launches, reports."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.consolesession import GUARD, ConsoleSession

AVMM = [sys.executable, "-m", "avmm.cli"]
EXIT_WITH = "    li t0, {value}\n    la t1, tohost\n    sd t0, 0(t1)\n1:  j 1b\n"


def avmm(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AVMM, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_help_documents_the_exit_statuses() -> None:
    out = avmm("run", "--help")
    assert out.returncode == 0
    assert "exit status" in out.stdout
    assert "2 for a bad config file or argument" in out.stdout


def test_bad_config_exits_2_with_one_line_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('version = 1\n[vm]\nmemory = "12XB"\nboot.kernel = "Image"\n')
    out = avmm("run", config)
    assert out.returncode == 2
    assert out.stderr.splitlines()[0].startswith('avmm: error: vm.memory: "12XB" is not a size')


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    out = avmm("run", tmp_path / "nope.toml")
    assert out.returncode == 2
    assert "cannot read config" in out.stderr


def test_bad_console_argument_exits_2(tmp_path: Path, asm_guest: Callable[[str], Path]) -> None:
    out = avmm("run", "--kernel", asm_guest(EXIT_WITH.format(value=1)), "--console", "serial")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        'avmm: error: --console: "serial" is not one of stdio, null, pty, file:PATH, tcp[:PORT]'
    )


def test_config_and_kernel_together_are_refused(tmp_path: Path) -> None:
    out = avmm("run", tmp_path / "a.toml", "--kernel", tmp_path / "Image")
    assert out.returncode == 2
    assert "either a config file or --kernel" in out.stderr


def test_unknown_option_exits_2() -> None:
    out = avmm("run", "--vcpu", "4")
    assert out.returncode == 2
    assert "avmm: error:" in out.stderr


def test_guest_exit_code_is_the_exit_status(asm_guest: Callable[[str], Path]) -> None:
    # HTIF: an odd value ends the run with code value >> 1.
    out = avmm(
        "run", "--kernel", asm_guest(EXIT_WITH.format(value=(7 << 1) | 1)), "--console", "null"
    )
    assert out.returncode == 7


def test_quick_launch_of_a_bare_metal_elf_shows_its_console(demo: Path) -> None:
    out = avmm("run", "--kernel", demo / "hello.elf")
    assert out.returncode == 0, out.stderr
    assert "hello" in out.stdout.lower()


def test_set_overrides_a_config_key(tmp_path: Path, demo: Path) -> None:
    config = tmp_path / "demo.toml"
    config.write_text(
        f'version = 1\n[vm]\nvcpus = 4\nboot.mode = "firmware"\n'
        f'boot.firmware = "{demo / "smp-demo.elf"}"\n'
    )
    out = avmm("run", config, "--set", "vm.vcpus=2")
    assert out.returncode == 0, out.stderr
    assert "smp-demo: PASS 2 harts" in out.stdout


def test_timeout_stops_the_guest_and_exits_1(asm_guest: Callable[[str], Path]) -> None:
    spin = asm_guest("1:  j 1b\n")
    out = avmm("run", "--kernel", spin, "--console", "null", "--timeout", "0.5")
    assert out.returncode == 1
    assert "avmm: error: timeout: stopped after 0.5 s" in out.stderr


def test_report_has_per_vcpu_instructions_and_exits(tmp_path: Path, demo: Path) -> None:
    report = tmp_path / "report.json"
    out = avmm("run", "--kernel", demo / "smp-demo.elf", "--vcpus", "4", "--report", report)
    assert out.returncode == 0, out.stderr
    data = json.loads(report.read_text())
    assert data["exit_status"] == 0
    assert data["wall_seconds"] > 0 and data["host_cpu_seconds"] > 0
    assert data["vmids"]["rollovers"] == 0
    vcpus = data["vms"]["vm"]["vcpus"]
    assert [v["vcpu"] for v in vcpus] == [0, 1, 2, 3]
    assert all(v["instructions"] > 0 for v in vcpus)
    assert sum(v["instructions"] for v in vcpus) == data["vms"]["vm"]["instructions"]
    assert all(v["exits"].get("budget", 0) > 0 for v in vcpus)


def test_validate_prints_the_resolved_machine(tmp_path: Path, demo: Path) -> None:
    config = tmp_path / "demo.toml"
    config.write_text(
        'version = 1\n[vm]\nvcpus = 3\nmemory = "64MiB"\nboot.mode = "firmware"\n'
        f'boot.firmware = "{demo / "smp-demo.elf"}"\n'
    )
    out = avmm("validate", config, "--set", "vm.irqchip=python")
    assert out.returncode == 0, out.stderr
    machine = json.loads(out.stdout)
    (vm,) = machine["vms"]
    assert vm["vcpus"] == 3
    assert vm["irqchip"] == "python"
    assert vm["memory"] == {"base": "0x80000000", "size": "0x4000000"}
    assert vm["boot"]["firmware"] == str(demo / "smp-demo.elf")
    assert {d["kind"] for d in vm["devices"]} >= {"clint", "plic"}
    assert machine["sched"]["policy"] == "round-robin"


@pytest.mark.slow
def test_sigterm_stops_a_running_vm_cleanly_and_keeps_its_disk_writes(
    tmp_path: Path, linux: tuple[Path, Path]
) -> None:
    kernel, initrd = linux
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    config = tmp_path / "shell.toml"
    config.write_text(
        f'version = 1\n[vm]\nvcpus = 2\nboot.kernel = "{kernel}"\nboot.initrd = "{initrd}"\n'
        'boot.cmdline = "console=ttyS0"\n'
        f'[[vm.disks]]\npath = "{disk}"\n'
    )
    leader, follower = os.openpty()
    proc = subprocess.Popen(
        [*AVMM, "run", str(config)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    try:
        console = ConsoleSession(leader)
        console.expect("avmm: userspace up")
        console.type("")
        console.expect("# ")
        console.type(
            "echo avmm-sigterm-marker | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null;"
            " echo done-$((40+2))"
        )
        console.expect("done-42")
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=GUARD)  # a hang guard, not a speed assertion
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    assert status == 0
    assert disk.read_bytes().startswith(b"avmm-sigterm-marker\n")


def test_a_headless_run_shows_progress_on_a_terminal(asm_guest: Callable[[str], Path]) -> None:
    spin = asm_guest("1:  j 1b\n")
    leader, follower = os.openpty()
    proc = subprocess.Popen(
        [*AVMM, "run", "--kernel", str(spin), "--console", "null", "--timeout", "2.5"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    try:
        console = ConsoleSession(leader)
        console.expect(r"avmm: +\d+\.\d s +\d+\.\d M instructions +\d+\.\d MIPS")
        assert proc.wait(timeout=GUARD) == 1  # the timeout ends it
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)


def test_metrics_on_a_free_port_print_their_address(demo: Path) -> None:
    out = avmm(
        "run",
        "--kernel",
        demo / "hello.elf",
        "--set",
        "metrics.enabled=true",
        "--set",
        "metrics.port=0",
    )
    assert out.returncode == 0, out.stderr
    m = re.search(r"^avmm: metrics at http://127\.0\.0\.1:(\d+)/metrics$", out.stderr, re.M)
    assert m is not None and int(m[1]) > 0, out.stderr
