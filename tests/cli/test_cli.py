"""`avmm` as a user types it: exit statuses, errors, quick launches, reports."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.consolesession import GUARD, ConsoleSession

AVMM = [sys.executable, "-m", "avmm.cli"]
REPO = Path(__file__).resolve().parents[2]
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
        'avmm: error: --console: "serial" is not one of stdio, null, pty, file:PATH, '
        "tcp[:PORT][,nowait]"
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
    out = avmm("run", "--kernel", spin, "--console", "null", "--timeout", "500ms")
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert lines[0] == "avmm: vm: stopped by --timeout after 0.5 s"
    assert lines[1] == "avmm: error: --timeout: stopped after 0.5 s; exit status 1"
    assert "exit code 0" not in out.stderr  # it said so, then exited 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1x", 'argument --timeout: "1x" is not a duration (e.g. 30, 30s, 500ms, 2m)'),
        ("-3", 'argument --timeout: "-3" must be a positive number of seconds'),
    ],
)
def test_a_bad_timeout_is_named_before_anything_runs(
    value: str, message: str, asm_guest: Callable[[str], Path]
) -> None:
    out = avmm("run", "--kernel", asm_guest("1:  j 1b\n"), f"--timeout={value}")
    assert out.returncode == 2
    assert out.stderr.splitlines()[-1] == f"avmm: error: {message}"


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
    # Words, not Python reprs, in the report and in the summary.
    assert data["vms"]["vm"]["exit"]["detail"] == "powered off by the guest"
    summary = [line for line in out.stderr.splitlines() if "vcpu1:" in line]
    assert re.fullmatch(
        r"avmm: +vcpu1: \d+ instructions, \d+ slices, halted [\d.]+ s, "
        r"exits: [a-z_]+ \d+(, [a-z_]+ \d+)*",
        summary[0],
    ), summary
    assert "{" not in out.stderr and "SystemEvent(" not in report.read_text()


def test_a_report_into_a_missing_folder_is_refused_before_the_run(demo: Path) -> None:
    out = avmm("run", "--kernel", demo / "hello.elf", "--report", "/nonexistent/dir/r.json")
    assert out.returncode == 2
    assert out.stderr == (
        "avmm: error: --report: /nonexistent/dir does not exist (cannot write r.json there)\n"
    )
    assert out.stdout == ""  # the guest never ran


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


# ------------------------------------------------------------- QEMU's habits


def test_qemu_spellings_run_a_quick_launch(demo: Path) -> None:
    out = avmm("run", "-kernel", demo / "hello.elf", "-smp", "2", "-m", "64", "-nographic")
    assert out.returncode == 0, out.stderr
    assert "2 hart(s)" in out.stdout
    assert "64 MiB of RAM" in out.stdout  # -m 64 is MiB, as in QEMU
    out = avmm("run", "--kernel", demo / "hello.elf", "--memory", "32", "--vcpus", "cpus=3")
    assert out.returncode == 0, out.stderr
    assert "32 MiB of RAM" in out.stdout and "3 hart(s)" in out.stdout


def test_qemu_trace_names_and_gdb_flags_are_run_options(tmp_path: Path, demo: Path) -> None:
    trace = tmp_path / "t.jsonl"
    out = avmm(
        "run", "-kernel", demo / "smp-demo.elf", "-smp", "2", "-d", "int", "--trace-file", trace
    )
    assert out.returncode == 0, out.stderr
    events = {json.loads(line)["event"] for line in trace.read_text().splitlines()}
    assert events <= {"interrupt", "end"} and "interrupt" in events


def test_an_unknown_option_gets_the_usage_of_run_not_of_avmm(demo: Path) -> None:
    out = avmm("run", "--kernel", demo / "hello.elf", "-smp", "2", "-enable-kvm")
    assert out.returncode == 2
    assert out.stderr.startswith("usage: avmm run ")
    assert out.stderr.splitlines()[-1] == "avmm: error: unrecognized arguments: -enable-kvm"


@pytest.mark.parametrize("flag", ["--vcpus", "-smp"])
def test_an_error_names_the_flag_as_typed_not_the_config_key(flag: str, demo: Path) -> None:
    out = avmm("run", "--kernel", demo / "hello.elf", flag, "65")
    assert out.returncode == 2
    assert out.stderr == f"avmm: error: {flag}: 65 is out of range (1..64)\n"


def test_a_missing_kernel_is_named_by_its_flag_without_dotdot(tmp_path: Path) -> None:
    # From tests/, as a user in a fresh clone would type it: the hint to build the
    # guest appears, and the path is the plain absolute one.
    out = subprocess.run(
        [*AVMM, "run", "-kernel", "../guests/out/nosuch/Image"],
        cwd=REPO / "tests",
        env={**os.environ, "PYTHONPATH": str(REPO)},  # this checkout's avmm, from tests/
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr == (
        f"avmm: error: -kernel: {REPO}/guests/out/nosuch/Image does not exist "
        "(build it with `python -m guests.build nosuch`)\n"
    )


def test_validate_prints_paths_without_dotdot(tmp_path: Path, demo: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "guest.elf").write_bytes((demo / "hello.elf").read_bytes())
    config = tmp_path / "sub" / "c.toml"
    config.write_text('version = 1\n[vm]\nboot.mode = "firmware"\nboot.firmware = "../guest.elf"\n')
    out = avmm("validate", config)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["vms"][0]["boot"]["firmware"] == str(tmp_path / "guest.elf")


def test_a_quick_launch_takes_disks_and_networks(tmp_path: Path, demo: Path) -> None:
    disk = tmp_path / "scratch.img"
    out = avmm(
        "run",
        "--kernel",
        demo / "hello.elf",
        "--disk",
        f"{disk},create=16M",
        "--disk",
        f"{tmp_path / 'other.img'},create=1M,serial=data",
        "--net",
        "lan",
    )
    assert out.returncode == 0, out.stderr
    assert disk.stat().st_size == 16 << 20
    assert f"avmm: vm: created blank disk {disk}" in out.stderr
    out = avmm(
        "run",
        "--kernel",
        demo / "hello.elf",
        "--disk",
        f"{disk},ro",
        "--net",
        "lan",
        "-v",
        "--console",
        "null",
    )
    assert out.returncode == 0, out.stderr
    built = next(line for line in out.stderr.splitlines() if "vm: built: " in line)
    machine = json.loads(built.split("vm: built: ", 1)[1])
    kinds = [d["kind"] for d in machine["devices"]]
    assert kinds.count("virtio-blk") == 1 and kinds.count("virtio-net") == 1


def test_a_bad_disk_option_is_named(tmp_path: Path, demo: Path) -> None:
    out = avmm("run", "--kernel", demo / "hello.elf", "--disk", f"{tmp_path / 'd.img'},rw")
    assert out.returncode == 2
    assert out.stderr.startswith('avmm: error: --disk: "rw" is not one of ro, create=SIZE')


def test_a_tcp_console_waits_for_its_client_so_nothing_is_lost(demo: Path) -> None:
    proc = subprocess.Popen(
        [*AVMM, "run", "--kernel", str(demo / "hello.elf"), "--console", "tcp"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.fullmatch(
            r"avmm: vm: console on tcp 127\.0\.0\.1:(\d+): waiting for a client "
            r"before the guest starts\n",
            line,
        )
        assert m, line
        time.sleep(0.5)
        assert proc.poll() is None  # still waiting: the guest has not run
        with socket.create_connection(("127.0.0.1", int(m[1])), timeout=30) as client:
            data = b""
            while b"bye" not in data:
                chunk = client.recv(4096)
                assert chunk, data
                data += chunk
        assert data.startswith(b"Hello from hart 0")  # from its very first line
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_a_tcp_console_with_nowait_starts_at_once(demo: Path) -> None:
    out = avmm("run", "--kernel", demo / "hello.elf", "--console", "tcp:0,nowait")
    assert out.returncode == 0, out.stderr
    assert re.search(r"^avmm: vm: console on tcp 127\.0\.0\.1:\d+$", out.stderr, re.M)


# --------------------------------------------------------------------- messages


UNMAPPED_STORE = "    li t2, 0x30000000\n    sw zero, 0(t2)\n" + EXIT_WITH.format(value=1)


def test_guest_errors_are_prefixed_with_avmm_and_the_vm(asm_guest: Callable[[str], Path]) -> None:
    out = avmm("run", "--kernel", asm_guest(UNMAPPED_STORE), "--console", "null")
    assert out.returncode == 0, out.stderr
    errors = [line for line in out.stderr.splitlines() if "guest error" in line]
    assert errors and errors[0].startswith("avmm: warning: vm: guest error: ")
    assert "0x30000000" in errors[0]


def test_quiet_keeps_warnings_and_a_log_file_gets_every_line(
    tmp_path: Path, asm_guest: Callable[[str], Path]
) -> None:
    log = tmp_path / "avmm.log"
    out = avmm(
        "run", "--kernel", asm_guest(UNMAPPED_STORE), "--console", "null", "-q", "--log-file", log
    )
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert lines and all(line.startswith("avmm: warning: vm: guest error: ") for line in lines)
    logged = log.read_text().splitlines()
    assert any("guest error" in line for line in logged)
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d avmm: ", line) for line in logged)
    out = avmm("run", "--kernel", asm_guest(UNMAPPED_STORE), "--console", "null", "-qq")
    assert out.stderr == ""


def test_verbose_shows_debug_lines(demo: Path) -> None:
    quiet = avmm("run", "--kernel", demo / "hello.elf", "--console", "null")
    loud = avmm("run", "--kernel", demo / "hello.elf", "--console", "null", "-v")
    assert "vm: built: " not in quiet.stderr
    assert "avmm: vm: built: {" in loud.stderr
    assert all(line.startswith("avmm: ") for line in loud.stderr.splitlines())


@pytest.mark.parametrize("command", ["run", "validate", "stat", "sweep"])
def test_every_subcommand_has_help_with_examples(command: str) -> None:
    out = avmm(command, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: avmm {command}")
    examples = out.stdout.split("examples:\n", 1)[1]
    assert f"  avmm {command} " in examples


def test_stat_once_needs_no_url() -> None:
    out = avmm("stat", "--once", "--interval", "0.1")
    if out.returncode == 0:  # another avmm happens to export on the default address
        assert out.stdout.startswith("avmm stat  http://127.0.0.1:9464/metrics, rates over ")
        return
    # Nothing exports there: the message says where it looked and that metrics
    # are off by default.
    assert out.returncode == 1
    assert out.stderr.startswith("avmm stat: cannot read http://127.0.0.1:9464/metrics: ")
    assert "--set metrics.enabled=true" in out.stderr
