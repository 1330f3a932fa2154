"""The protocol against a real ``avmm run --api``: negotiation, events, and
clients that misbehave — garbage, oversized lines, half-open connections, one
too many — while the VM runs on and well-behaved clients are served."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from io import BufferedReader
from pathlib import Path
from typing import Any

import pytest

from avmm.api import ApiClient, ApiError
from avmm.api.protocol import MAX_LINE
from tests.api.conftest import AVMM, GUARD, Running, start, wait_until


def _raw(path: Path) -> tuple[socket.socket, BufferedReader]:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(GUARD)
    sock.connect(str(path))
    return sock, sock.makefile("rb")


def _read(f: BufferedReader) -> dict[str, Any]:
    line = f.readline()
    assert line, "the server closed the connection"
    message = json.loads(line)
    assert isinstance(message, dict)
    return message


def test_a_session_greets_negotiates_and_answers_with_ids(running: Running) -> None:
    sock, f = _raw(running.socket)
    with sock, f:
        greeting = _read(f)["greeting"]
        assert isinstance(greeting, dict)
        assert (greeting["protocol"], greeting["capabilities"], greeting["vms"]) == (
            1,
            ["events"],
            ["vm"],
        )
        sock.sendall(b'{"execute": "list", "id": "a"}\n')
        assert _read(f) == {
            "error": {"class": "CapabilitiesNeeded", "desc": 'send "capabilities" first'},
            "id": "a",
        }
        sock.sendall(b'{"execute": "capabilities", "id": 1}\n')
        assert _read(f) == {"return": {"enabled": []}, "id": 1}
        sock.sendall(b'{"execute": "list", "id": [2]}\n')
        reply = _read(f)
        assert reply["id"] == [2]
        assert reply["return"][0]["name"] == "vm"


def test_events_tell_a_client_what_happened(running: Running) -> None:
    with (
        ApiClient(str(running.socket), events=True) as api,
        ApiClient(str(running.socket)) as other,
    ):
        other.execute("pause")
        assert api.wait_event("STOP", GUARD)["data"] == {"vm": "vm"}
        other.execute("resume")
        assert api.wait_event("RESUME", GUARD)["data"] == {"vm": "vm"}
        other.execute("sched", slice=4000)
        assert api.wait_event("SCHED", GUARD)["data"] == {"slice": 4000}
        other.execute("reset", vm="vm")
        assert api.wait_event("RESET", GUARD)["data"] == {"vm": "vm"}
        other.execute("stop")
        event = api.wait_event("SHUTDOWN", GUARD)
        assert event["data"] == {"vm": "vm", "exit": "Interrupted", "code": 0}
        assert set(event["timestamp"]) == {"seconds", "microseconds"}
    assert running.proc.wait(timeout=GUARD) == 0


def test_bad_requests_get_error_replies_and_the_session_goes_on(running: Running) -> None:
    with ApiClient(str(running.socket)) as api:
        cases = [
            (("nope", {}), "CommandNotFound"),
            (("sched", {"slice": "fast"}), "InvalidArgument"),
            (("sched", {"slice": True}), "InvalidArgument"),
            (("sched", {"policy": "deterministic"}), "InvalidArgument"),
            (("pause", {"vm": "other"}), "NotFound"),
            (("pause", {"speed": 1}), "InvalidArgument"),
            (("irq", {"source": 96}), "InvalidArgument"),
            (("irq", {"source": 40, "vcpu": 0}), "InvalidArgument"),
            (("irq", {"vcpu": 9, "kind": "software"}), "NotFound"),
            (("console", {}), "InvalidArgument"),
            (("console", {"data": "x" * 5000}), "InvalidArgument"),
            (("metrics", {"names": [1]}), "InvalidArgument"),
        ]
        for (command, args), cls in cases:
            with pytest.raises(ApiError) as err:
                api.execute(command, **args)
            assert err.value.cls == cls, (command, args, err.value.desc)
            assert "\n" not in err.value.desc
        assert api.execute("list")[0]["state"] == "running"
        # the metrics command needs no HTTP exporter and matches /metrics
        (family,) = api.execute("metrics", names=["avmm_scheduler_slice_instructions"])
        assert family["samples"] == [
            {"name": "avmm_scheduler_slice_instructions", "labels": {}, "value": 30000}
        ]


def test_garbage_oversized_and_half_open_clients_leave_the_vm_running(
    tmp_path: Path, demo: Path
) -> None:
    run = start(tmp_path, "--set", "api.idle_timeout=2", "--set", "api.max_clients=4", demo=demo)
    try:
        silent = socket.socket(socket.AF_UNIX)  # connects, never reads or writes
        silent.connect(str(run.socket))
        hoarder = socket.socket(socket.AF_UNIX)  # writes, never reads its replies
        hoarder.connect(str(run.socket))
        hoarder.settimeout(0.5)
        request = b'{"execute": "capabilities"}\n' + b'{"execute": "commands"}\n' * 200
        try:
            for _ in range(50):
                hoarder.sendall(request)
        except (TimeoutError, OSError):
            pass  # its buffers are full: the server stopped reading it
        rude, f = _raw(run.socket)
        _read(f)  # the greeting
        rude.sendall(b"\xff\xfe{garbage\n[1, 2]\n\n")
        assert _read(f)["error"] == {
            "class": "ParseError",
            "desc": "not a JSON object (one per line)",
        }
        assert _read(f)["error"]["class"] == "ParseError"
        rude.sendall(b"x" * (3 * MAX_LINE) + b"\n")
        assert _read(f)["error"] == {
            "class": "LineTooLong",
            "desc": f"a request line is longer than {MAX_LINE} bytes",
        }
        rude.sendall(b'{"execute": "capabilities", "id": 7}\n')
        assert _read(f) == {"return": {"enabled": []}, "id": 7}
        # a fourth client fits, a fifth is refused with an error
        with ApiClient(str(run.socket)) as api:
            before = run.vcpu_instructions()["1"]
            with pytest.raises(ApiError) as err:
                ApiClient(str(run.socket))
            assert err.value.cls == "TooManyClients"
            wait_until("the VM to run on", lambda: run.vcpu_instructions()["1"] > before)
            assert api.execute("list")[0]["state"] == "running"
        # the silent client is dropped after its idle timeout
        silent.settimeout(GUARD)
        greeting = silent.recv(65536)
        assert greeting.startswith(b'{"greeting"')
        end = time.monotonic() + GUARD
        while silent.recv(65536):
            assert time.monotonic() < end
        f.close()
        rude.close()
        silent.close()
        hoarder.close()
        out = subprocess.run(
            [*AVMM, "ctl", str(run.socket), "list"],
            capture_output=True,
            text=True,
            timeout=GUARD,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split("\n")[1].split()[1] == "running"
        assert "Traceback" not in run.stderr.read_text()
    finally:
        run.proc.kill()
        run.proc.wait()


def test_the_api_from_a_config_file_and_on_tcp(tmp_path: Path, demo: Path) -> None:
    config = tmp_path / "api.toml"
    config.write_text(
        "version = 1\n"
        f'[vm]\nvcpus = 2\nboot.mode = "firmware"\nboot.firmware = "{demo / "ctl-echo.elf"}"\n'
        'console.backend = "null"\n'
        '[api]\npath = "ctl.sock"\nlisten = "0"\n'
    )
    proc = subprocess.Popen(
        [*AVMM, "run", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith(f"avmm: control API at {tmp_path / 'ctl.sock'}, tcp:127.0.0.1:")
        port = line.rsplit(":", 1)[1].strip()
        with ApiClient(f"tcp:{port}") as api:
            assert api.execute("list")[0]["vcpus"] == 2
            assert api.execute("stop") == {"vm": "stopping"}
        assert proc.wait(timeout=GUARD) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_a_bad_api_key_is_a_config_error(tmp_path: Path, demo: Path) -> None:
    out = subprocess.run(
        [
            *AVMM,
            "run",
            "--kernel",
            str(demo / "ctl-echo.elf"),
            "--set",
            "api.listen=localhost:http",
        ],
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr == (
        'avmm: error: api.listen: "localhost:http" is not PORT, :PORT or HOST:PORT\n'
    )
    busy = tmp_path / "file"
    busy.write_text("not a socket")
    out = subprocess.run(
        [*AVMM, "run", "--kernel", str(demo / "ctl-echo.elf"), "--api", str(busy)],
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr == f"avmm: error: api.path: {busy} exists and is not a socket\n"
    assert busy.read_text() == "not a socket"
