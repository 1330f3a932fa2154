"""Halt time is credited while a vCPU sleeps, so "halted share" stays in [0, 1].

A vCPU parked in WFI used to be credited its sleep only when it woke: the
counter stood still for the whole sleep (0% halted) and then jumped (a
dashboard's rate() went past 100%). Each scrape now includes the running
sleep.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

# Hart 0 sleeps for good; hart 1 wakes every millisecond on its timer (mtimecmp
# a little ahead of mtime, MTIE on, interrupts masked: WFI returns, no trap).
GUEST = """
    csrr a0, mhartid
    bnez a0, 2f
1:  wfi
    j 1b
2:  li s1, 0x0200bff8
    li s2, 0x02004008
    li t0, 0x80
    csrs mie, t0
3:  ld t3, 0(s1)
    li t4, 10000
    add t3, t3, t4
    sd t3, 0(s2)
    wfi
    j 3b
"""


def halt_seconds(url: str) -> tuple[float, dict[str, float]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    at = time.monotonic()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "avmm_vcpu_halt_wait_seconds_total":
                out[s.labels["vcpu"]] = s.value
    return at, out


def test_halted_share_stays_between_0_and_1_while_a_vcpu_sleeps(
    asm_guest: Callable[[str], Path],
) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "avmm.cli",
            "run",
            "--kernel",
            str(asm_guest(GUEST)),
            "-smp",
            "2",
            "--set",
            "metrics.enabled=true",
            "--set",
            "metrics.port=0",
            "--console",
            "null",
            "--timeout",
            "30",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.fullmatch(r"avmm: metrics at (http://127\.0\.0\.1:\d+/metrics)\n", line)
        assert m, line
        reads = []
        for _ in range(6):
            reads.append(halt_seconds(m[1]))
            time.sleep(0.4)
        for (t0, before), (t1, after) in itertools.pairwise(reads):
            for vcpu in ("0", "1"):
                share = (after[vcpu] - before[vcpu]) / (t1 - t0)
                # The host's scheduling of this process and the scrape itself blur
                # the two clocks by a few ms over 0.4 s: 5% of slack above 1.
                assert 0.0 <= share <= 1.05, (vcpu, share, reads)
            # Hart 0 has slept from its start: its share is most of the interval.
            assert (after["0"] - before["0"]) / (t1 - t0) > 0.5, reads
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
