"""``avmm run --trace``: each event kind with its fields, the filters, the line
cap, and nothing traced (no file) without the flag."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.gdb.gdbrig import build_prog

HEX = str


@pytest.fixture(scope="module")
def prog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_prog(tmp_path_factory.mktemp("prog"))


def avmm(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "avmm.cli", "run", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_instructions_exits_and_mmio_of_a_bare_metal_guest(prog: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    run = avmm("--kernel", prog, "--trace", "insns,exits,mmio", "--trace-file", out)
    assert run.returncode == 7, run.stderr
    assert f"tracing insns, exits, mmio to {out}" in run.stderr
    trace = lines(out)
    insns = [t for t in trace if t["event"] == "insn"]
    assert insns[0] == {"event": "insn", "vm": "vm", "vcpu": 0, "pc": "0x80000000",
                        "insn": insns[0]["insn"]}  # fmt: skip
    assert len(insns) == 22  # every instruction up to the store to tohost, once
    assert [int(t["pc"], 16) for t in insns[:3]] == [0x8000_0000, 0x8000_0004, 0x8000_0008]
    assert insns[-1]["insn"] == "0xd33023"  # sd a3, 0(t1)
    mmio = [t for t in trace if t["event"] == "mmio"]
    assert mmio[0] == {"event": "mmio", "vm": "vm", "vcpu": 0, "device": "uart",
                       "addr": "0x10000007", "size": 1, "write": True, "value": "0xf"}  # fmt: skip
    assert mmio[1]["write"] is False and mmio[1]["value"] == "0xf"
    exits = [t["reason"] for t in trace if t["event"] == "exit"]
    assert exits == ["mmio_write", "mmio_read", "htif"]
    assert all(
        set(t) == {"event", "vm", "vcpu", "reason", "pc"} for t in trace if t["event"] == "exit"
    )
    assert trace[-1] == {"event": "end", "lines": len(trace) - 1, "dropped": 0, "lost": 0}


def test_a_range_and_the_line_cap(prog: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    run = avmm("--kernel", prog, "--trace", "insns", "--trace-file", out,
               "--trace-range", "0x80000010-0x80000020")  # fmt: skip
    assert run.returncode == 7, run.stderr
    assert [t["pc"] for t in lines(out)[:-1]] == [hex(0x8000_0010 + 4 * i) for i in range(5)]
    run = avmm(
        "--kernel", prog, "--trace", "all", "--trace-file", out, "--set", "trace.max_lines=3"
    )
    assert run.returncode == 7, run.stderr
    trace = lines(out)
    assert len(trace) == 5
    assert trace[3] == {"event": "truncated", "max_lines": 3}
    assert trace[4]["event"] == "end" and trace[4]["lines"] == 3


def test_bad_trace_arguments_name_the_flag(prog: Path, tmp_path: Path) -> None:
    run = avmm("--kernel", prog, "--trace", "exits,syscalls")
    assert run.returncode == 2
    assert run.stderr.startswith('avmm: error: --trace: "syscalls" is not one of exits,')
    run = avmm("--kernel", prog, "--trace", "exits", "--trace-range", "80000000")
    assert (run.returncode, run.stderr.split(":")[2]) == (2, " --trace-range")
    run = avmm("--kernel", prog, "--trace", "exits", "--trace-file", tmp_path / "no" / "t.jsonl")
    assert run.returncode == 2 and "trace.file: cannot write" in run.stderr


def test_without_trace_nothing_is_written(prog: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "avmm.cli", "run", "--kernel", str(prog)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 7
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_interrupts_traps_and_sbi_calls_of_linux(linux: tuple[Path, Path], tmp_path: Path) -> None:
    kernel, initrd = linux
    out = tmp_path / "t.jsonl"
    config = tmp_path / "vm.toml"
    config.write_text(
        f"""version = 1
[vm]
vcpus = 2
sstc = false  # timers through SBI TIME, so the trace has those calls
boot = {{ kernel = "{kernel}", initrd = "{initrd}", cmdline = "console=ttyS0 avmm.check=1" }}
console.backend = "null"
disks = [{{ path = "{tmp_path / "disk.img"}", create = "64MiB" }}]
[trace]
events = ["interrupts", "traps", "sbi", "exits"]
vcpus = [1]
max_lines = 200000
file = "{out}"
"""
    )
    run = avmm(config)
    assert run.returncode == 0, run.stderr
    trace = lines(out)
    kinds = {t["event"] for t in trace}
    assert {"interrupt", "trap", "sbi", "exit", "end"} <= kinds, kinds
    assert {t["vcpu"] for t in trace if "vcpu" in t} == {1}
    irq = next(t for t in trace if t["event"] == "interrupt")
    assert set(irq) == {"event", "vm", "vcpu", "cause", "pc", "from", "to"}
    assert irq["to"] == "S" and irq["cause"] in (1, 5, 9)  # S-mode software, timer, external
    trap = next(t for t in trace if t["event"] == "trap" and t["from"] == "U")
    assert set(trap) == {"event", "vm", "vcpu", "cause", "tval", "pc", "from", "to"}
    assert trap["to"] == "S" and trap["cause"] in (8, 12, 13, 15)  # ecall, page faults
    sbi = next(t for t in trace if t["event"] == "sbi")
    assert set(sbi) == {"event", "vm", "vcpu", "ext", "fid", "error"}
    assert any(t["event"] == "sbi" and t["ext"] == "0x54494d45" for t in trace)  # TIME
