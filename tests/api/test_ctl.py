"""``avmm ctl`` against a real ``avmm run --api``: the lifecycle a user drives.

The guest (guests/demo/ctl-echo.c) spins on vCPU 1, echoes console lines
and reports injected interrupts on its console; the counts come from the
real Prometheus exporter of the same process.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.api.conftest import GUARD, Running, start, wait_until


def test_pause_freezes_the_vcpus_instruction_counts_and_resume_moves_them_again(
    running: Running,
) -> None:
    wait_until("vCPU 1 to run", lambda: running.vcpu_instructions().get("1", 0) > 0)
    out = running.ctl("pause")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "vm: paused\n"
    frozen = running.vcpu_instructions()
    time.sleep(0.5)
    assert running.vcpu_instructions() == frozen
    listed = running.ctl("list")
    assert listed.stdout.split("\n")[1].split()[:3] == ["vm", "paused", "2"]

    out = running.ctl("resume")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "vm: running\n"
    wait_until(
        "vCPU 1's count to move",
        lambda: running.vcpu_instructions()["1"] > frozen["1"],
    )


def test_a_new_slice_shows_in_info_metrics_and_the_slices_the_vcpu_runs(
    running: Running,
) -> None:
    out = running.ctl("sched", "slice=2500")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("policy round-robin, slice 2500,")
    assert running.samples("avmm_scheduler_slice_instructions") == {(): 2500.0}
    # vCPU 1 spins and has no other exit: from now on each of its slices retires
    # exactly one budget of 2,500 instructions.
    before_i, before_s = _counts(running)
    wait_until("vCPU 1 to run", lambda: _counts(running)[1] > before_s)
    after_i, after_s = _counts(running)
    assert after_i - before_i == 2500 * (after_s - before_s)
    out = running.ctl("sched")
    assert "slice 2500" in out.stdout


def _counts(running: Running) -> tuple[float, float]:
    """vCPU 1's instructions and slices, from one scrape."""
    key = (("vcpu", "1"), ("vm", "vm"))
    got = running.scrape("avmm_vcpu_instructions_total", "avmm_vcpu_slices_total")
    return got["avmm_vcpu_instructions_total"][key], got["avmm_vcpu_slices_total"][key]


def test_stop_ends_the_process_cleanly_with_its_summary(running: Running) -> None:
    out = running.ctl("stop")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "vm: stopping\n"
    assert running.proc.wait(timeout=GUARD) == 0
    err = running.stderr.read_text()
    assert "avmm: vm: stopped, exit code 0" in err
    assert "avmm: 1 VM(s) on 1 pCPU(s)" in err
    assert not running.socket.exists()  # the socket file goes with the process


def test_console_input_reaches_the_guest(running: Running) -> None:
    out = running.ctl("console", 'data="hello from ctl\\r"')
    assert out.returncode == 0, out.stderr
    assert out.stdout == "vm vm, bytes 15\n"
    running.expect_console("echo: hello from ctl\n")


def test_injected_interrupts_reach_the_guest(running: Running) -> None:
    for _ in range(2):
        out = running.ctl("irq", "source=40")
        assert out.returncode == 0, out.stderr
        running.expect_console(f"irq 40 (count {_ + 1})")
    out = running.ctl("irq", "vcpu=0", "kind=software")
    assert out.returncode == 0, out.stderr
    running.expect_console("ssip (count 1)")
    assert running.samples("avmm_irq_injections_total")[(("irq", "40"), ("vm", "vm"))] == 2


def test_info_names_the_vm_its_vcpus_and_pcpus(tmp_path: Path, demo: Path) -> None:
    run = start(tmp_path, "--set", "host.pcpus=2", vcpus=3, demo=demo)
    try:
        out = run.ctl("info")
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0].startswith("vm: running, 3 vCPU(s) on 2 pCPU(s), VMID 1 (generation 1)")
        assert lines[1] == f"  console: file {run.console}"
        assert [line.split(":")[0] for line in lines[2:]] == ["  vcpu0", "  vcpu1", "  vcpu2"]
        assert "(halted)" in lines[2]  # vCPU 0 waits in WFI for input
        assert "pCPU " in lines[3]
        json_out = run.ctl("info", "vm", "--json")
        assert json_out.stdout.startswith('{"return": {"name": "vm", "state": "running"')
    finally:
        run.proc.kill()
        run.proc.wait()


def test_reset_reboots_the_guest(running: Running) -> None:
    out = running.ctl("reset")
    assert out.returncode == 0, out.stderr
    wait_until("a second boot", lambda: running.console_text().count("ctl-echo: ready") == 2)
    wait_until("the reboot to count", lambda: "1 reboot(s)" in running.ctl("info").stdout)


def test_errors_are_one_line_with_an_exit_status(running: Running, tmp_path: Path) -> None:
    cases = [
        (("bogus",), 1, 'avmm: error: unknown command "bogus" (see: commands) (CommandNotFound)'),
        (
            ("sched", "slice=0"),
            1,
            "avmm: error: sched: slice: 0 is out of range (1..100000000) (InvalidArgument)",
        ),
        (
            ("sched", "policy=deterministic"),
            1,
            'avmm: error: sched: "policy" must be one of round-robin, random (InvalidArgument)',
        ),
        (
            ("info", "nope"),
            1,
            'avmm: error: no VM called "nope" (have: vm) (NotFound)',
        ),
        (("info", "a", "b"), 2, 'avmm: error: "b" is not KEY=VALUE'),
    ]
    for args, status, line in cases:
        out = running.ctl(*args)
        assert (out.returncode, out.stderr) == (status, line + "\n"), args
    gone = tmp_path / "nothing.sock"
    out = Running(running.proc, gone, running.console, running.stderr).ctl("list")
    assert out.returncode == 1
    assert out.stderr == f"avmm: error: cannot connect to {gone}: No such file or directory\n"
    # and the VM ran on through all of it
    assert running.ctl("list").stdout.split("\n")[1].split()[1] == "running"
