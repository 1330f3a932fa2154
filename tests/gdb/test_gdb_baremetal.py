"""Real gdb-multiarch on a bare-metal guest started with --gdb-wait (QEMU's -s -S)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.gdb.gdbrig import Avmm, Rsp, closed_by_peer, run_gdb

pytestmark = pytest.mark.usefixtures("gdb")


def start(elf: Path, tmp_path: Path, *flags: str) -> Avmm:
    return Avmm(["--kernel", str(elf), "--gdb", "127.0.0.1:0", *flags], tmp_path)


def test_break_at_entry_step_change_a_register_and_memory_then_finish(
    prog: Path, tmp_path: Path
) -> None:
    avmm = start(prog, tmp_path, "--gdb-wait")
    out = run_gdb(
        avmm.address,
        prog,
        """
p/x $pc
info threads
break *work
continue
p $a0
set $a0 = 10
stepi
p $a0
p/x $pc
p $priv
set *(long*)&magic = 20
x/2gx &counter
continue
""",
    )
    assert "$1 = 0x80000000" in out, out  # nothing ran before gdb came
    assert "Thread 1 (vcpu0 M-mode" in out, out
    assert "Breakpoint 1, 0x000000008000001c in work ()" in out, out
    assert "$2 = 5" in out and "$3 = 11" in out, out
    assert "$5 = 3" in out, out  # M-mode
    assert "0x80001010:\t0x0000000000000000\t0x0000000000000014" in out, out  # counter, magic
    assert "exited with code 037" in out, out  # 11 + 20 = 31
    assert avmm.finish() == 31


def test_info_registers_csr_fpu_and_priv(prog: Path, tmp_path: Path) -> None:
    avmm = start(prog, tmp_path, "--gdb-wait")
    out = run_gdb(avmm.address, prog, "info registers csr\ninfo registers float\nkill\n")
    for name in ("mstatus", "misa", "mtvec", "satp", "tselect", "tdata1", "priv", "mhartid"):
        assert re.search(rf"^{name}\s+0x", out, re.M), (name, out)
    assert re.search(r"^misa\s+0x8000000000141\w+\s+RV64ACDFIMSU", out, re.M), out
    for name in ("ft0", "fa0", "fflags", "frm", "fcsr"):
        assert re.search(rf"^{name}\s", out, re.M), (name, out)
    assert avmm.finish() == 0  # kill stops the VM


def test_hardware_breakpoint_and_read_and_write_watchpoints(prog: Path, tmp_path: Path) -> None:
    avmm = start(prog, tmp_path, "--gdb-wait")
    out = run_gdb(
        avmm.address,
        prog,
        """
hbreak *work
continue
delete
watch *(long*)&counter
rwatch *(long*)&magic
continue
continue
continue
""",
    )
    assert "Breakpoint 1, 0x000000008000001c in work ()" in out, out
    assert "Hardware watchpoint 2: *(long*)&counter\n\nOld value = 0\nNew value = 6" in out, out
    assert "Hardware read watchpoint 3: *(long*)&magic\n\nValue = 1" in out, out
    assert "exited with code 07" in out, out
    assert avmm.finish() == 7


def test_stepping_over_mmio_accesses_moves_one_instruction(prog: Path, tmp_path: Path) -> None:
    avmm = start(prog, tmp_path, "--gdb-wait")
    out = run_gdb(
        avmm.address,
        prog,
        "break *mmio\ncontinue\nstepi\np (long)$pc - (long)&mmio\nstepi\np $t5 == ($a3 & 0xff)\n"
        "p (long)$pc - (long)&mmio\ncontinue\n",
    )
    # the store, then the load with its value: one instruction each
    assert "$1 = 4\n" in out and "$2 = 1\n$3 = 8\n" in out, out
    assert avmm.finish() == 7


def test_a_second_client_is_refused_and_a_vanished_client_resumes_the_vm(
    prog: Path, tmp_path: Path
) -> None:
    avmm = start(prog, tmp_path, "--gdb-wait")
    first = Rsp(*avmm.host_port())
    assert first.ask(b"?").startswith(b"T05thread:1;")
    second = Rsp(*avmm.host_port())
    assert closed_by_peer(second.sock)
    second.close()
    first.close()  # gone without detaching: the VM runs to its end
    assert avmm.finish() == 7
    assert "refused a second client" in avmm.stderr


def test_unix_socket(prog: Path, tmp_path: Path) -> None:
    sock = tmp_path / "gdb.sock"
    avmm = Avmm(["--kernel", str(prog), "--gdb", f"unix:{sock}", "-S"], tmp_path)
    assert avmm.address == f"unix:{sock}"
    import socket

    client = socket.socket(socket.AF_UNIX)
    client.connect(str(sock))
    rsp = Rsp.__new__(Rsp)
    rsp.sock, rsp.buf = client, b""
    assert rsp.ask(b"qAttached") == b"1"
    assert rsp.ask(b"D") == b"OK"
    client.close()
    assert avmm.finish() == 7
    assert not sock.exists()
