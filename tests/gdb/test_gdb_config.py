"""[vm.gdb], --gdb, --gdb-wait, -s and -S: mistakes are one line naming the key or
flag (exit status 2)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from avmm import config
from avmm.errors import ConfigError


def avmm(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "avmm.cli", "run", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def vm(prog: Path, **gdb: object) -> dict[str, object]:
    boot = {"mode": "firmware", "firmware": str(prog)}
    return {"version": 1, "vm": {"boot": boot, "gdb": gdb}}


def test_gdb_section_defaults_and_errors(prog: Path) -> None:
    cfg = config.from_dict(vm(prog), base=Path("/"))
    gdb = cfg.vm[0].gdb
    assert gdb is not None
    assert (gdb.listen, gdb.wait, gdb.idle_timeout) == ("127.0.0.1:1234", False, 0.0)
    boot = {"mode": "firmware", "firmware": str(prog)}
    assert config.from_dict({"version": 1, "vm": {"boot": boot}}).vm[0].gdb is None
    for bad, key in (
        ({"listen": "example.com:http"}, "vm.gdb.listen"),
        ({"wait": "yes"}, "vm.gdb.wait"),
        ({"idle_timeout": -1}, "vm.gdb.idle_timeout"),
        ({"port": 1234}, "vm.gdb.port"),
    ):
        with pytest.raises(ConfigError) as err:
            config.from_dict(vm(prog, **bad), base=Path("/"))
        assert str(err.value).startswith(f"{key}:"), err.value


def test_bad_gdb_flags_exit_2_naming_the_flag(prog: Path) -> None:
    out = avmm("--kernel", prog, "--gdb", "nowhere:port")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        'avmm: error: --gdb: "nowhere:port" is not HOST:PORT, :PORT, PORT or unix:PATH'
    )
    out = avmm("--kernel", prog, "-s", "--gdb", ":1")
    assert (out.returncode, out.stderr.strip()) == (
        2,
        "avmm: error: -s: give either -s or --gdb ADDR",
    )


def test_a_port_in_use_is_named(prog: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = avmm("--kernel", prog, "--gdb", f"127.0.0.1:{port}")
    assert out.returncode == 2
    assert out.stderr.startswith(f"avmm: error: vm.gdb.listen: cannot listen on 127.0.0.1:{port}")


def test_without_gdb_flags_the_guest_just_runs(prog: Path) -> None:
    out = avmm("--kernel", prog)
    assert out.returncode == 7 and "gdb" not in out.stderr
