"""Two Linux VMs of one config on a shared virtio-net switch: one pings the other.

The frames never leave the avmm process (the switch is an in-process object);
the guests use TEST-NET-1 (192.0.2.0/24, reserved for documentation), which
nothing outside routes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from avmm.board.hostio import Switches
from avmm.board.virt import build_config
from avmm.runtime.console import CaptureConsole
from avmm.runtime.exits import SystemEvent, SystemEventKind
from avmm.runtime.host import Host
from tests.board.boardrig import GUARD, vm_config

pytestmark = pytest.mark.slow

PROMPT = "avmm:/# "


async def _wait_for(console: CaptureConsole, pattern: str, start: int = 0) -> int:
    """Wait for ``pattern`` in the console after ``start``; the end of the match."""
    regex = re.compile(pattern)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GUARD
    while (m := regex.search(console.text().replace("\r", ""), start)) is None:
        if loop.time() > deadline:
            pytest.fail(f"no {pattern!r}; console:\n{console.text()[-3000:]}")
        await asyncio.sleep(0.02)
    return m.end()


async def _shell(console: CaptureConsole, *lines: str) -> int:
    """Type ``lines`` at the prompt, one at a time; where the output now ends."""
    seen = await _wait_for(console, re.escape(PROMPT))
    for line in lines:
        console.feed(line.encode() + b"\r")
        seen = await _wait_for(console, re.escape(PROMPT), seen)
    return seen


async def test_two_vms_on_one_switch_ping_each_other(linux: tuple[Path, Path]) -> None:
    kernel, initrd = linux
    boot = {
        "mode": "direct",
        "kernel": str(kernel),
        "initrd": str(initrd),
        "cmdline": "console=ttyS0",
    }
    config = vm_config(
        {
            "vm": [
                {"name": "left", "boot": boot, "nets": [{"switch": "lan"}]},
                {"name": "right", "boot": boot, "nets": [{"switch": "lan"}], "vcpus": 2},
            ]
        }
    )
    consoles = {"left": CaptureConsole(), "right": CaptureConsole()}
    switches = Switches()
    async with Host.from_config(config) as host:
        boards = await build_config(host, config, consoles=dict(consoles), switches=switches)
        assert len(switches["lan"].ports) == 2
        runs = [asyncio.create_task(b.run()) for b in boards]
        left, right = consoles["left"], consoles["right"]
        await _shell(left, "ip addr add 192.0.2.1/24 dev eth0", "ip link set eth0 up")
        seen = await _shell(
            right,
            "ip addr add 192.0.2.2/24 dev eth0",
            "ip link set eth0 up",
            "ping -c 3 -W 5 192.0.2.1",
        )
        out = right.text().replace("\r", "")
        left.feed(b"poweroff -f\r")
        right.feed(b"poweroff -f\r")
        results = await asyncio.wait_for(asyncio.gather(*runs), GUARD)
        stats = [b.device_stats()["virtio-net0"] for b in boards]
    assert "3 packets transmitted, 3 packets received, 0% packet loss" in out[:seen], out[-2000:]
    assert [r.exit for r in results] == [SystemEvent(0, SystemEventKind.SHUTDOWN, 0)] * 2
    assert switches["lan"].ports == ()  # closed with the boards
    # ARP and three echo requests one way, their replies the other way.
    assert stats[1]["tx_packets"] >= 4 and stats[0]["rx_packets"] >= 4
    assert stats[0]["tx_packets"] >= 4 and stats[1]["rx_packets"] >= 4
