"""Read the Linux guest's console: the lines /init and avmm-check print.

The lines are documented in ``guests/linux/README.md``; this is the one parser
of them, for the QEMU tests here and avmm's own boot tests alike.
"""

from __future__ import annotations

import re

import attrs

USERSPACE_UP = "avmm: userspace up"


@attrs.frozen
class CheckReport:
    """What one boot's console says about the self-check (None: line absent)."""

    userspace_up: bool
    cpus_online: int | None
    cpus_present: int | None
    atomics_threads: int | None  # from 'atomics ok' only
    atomics_total: int | None
    disk_boots: int | None  # the counter found on the disk, from 'disk ... ok' only
    disk_skipped: str | None  # the reason of 'disk skipped'
    passed: bool
    failed: str | None  # the parts named by 'avmm-check: FAIL <parts>'
    problems: tuple[str, ...]  # every 'bad' / 'error' / 'mismatch' line

    @property
    def finished(self) -> bool:
        return self.passed or self.failed is not None


def _int(pattern: str, text: str) -> int | None:
    m = re.search(pattern, text, re.MULTILINE)
    return int(m[1]) if m else None


def parse(console: str) -> CheckReport:
    """Parse a console transcript (CRs and kernel lines are fine)."""
    text = console.replace("\r", "")
    cpus = re.search(r"^avmm-check: cpus online=(\d+) present=(\d+)", text, re.MULTILINE)
    atomics = re.search(
        r"^avmm-check: atomics ok threads=(\d+) pinned=\d+ iterations=\d+ total=(\d+)$",
        text,
        re.MULTILINE,
    )
    skipped = re.search(r"^avmm-check: disk skipped reason=(\S+)", text, re.MULTILINE)
    failed = re.search(r"^avmm-check: FAIL ?(.*)$", text, re.MULTILINE)
    problems = re.findall(
        r"^avmm-check: (?:\w+ (?:bad|error) .*|cpus .* mismatch)$", text, re.MULTILINE
    )
    return CheckReport(
        userspace_up=re.search(rf"^{USERSPACE_UP}$", text, re.MULTILINE) is not None,
        cpus_online=int(cpus[1]) if cpus else None,
        cpus_present=int(cpus[2]) if cpus else None,
        atomics_threads=int(atomics[1]) if atomics else None,
        atomics_total=int(atomics[2]) if atomics else None,
        disk_boots=_int(r"^avmm-check: disk boots=(\d+) ok$", text),
        disk_skipped=skipped[1] if skipped else None,
        passed=re.search(r"^avmm-check: PASS$", text, re.MULTILINE) is not None,
        failed=failed[1] if failed else None,
        problems=tuple(problems),
    )


# /proc/stat counts in USER_HZ ticks, 100 a second on riscv.
USER_HZ = 100


@attrs.frozen
class ParaCpu:
    """One 'avmm-para: cpuN ...' line of the kernel's avmm_para driver."""

    cpu: int
    vcpu: int
    pcpu: int
    vmid: int
    generation: int
    host_version: int


@attrs.frozen
class ParaReport:
    """What the avmm_para driver printed: a line per CPU and its verdict."""

    cpus: tuple[ParaCpu, ...]
    ok_cpus: int | None  # from 'avmm-para: ok cpus=N'
    failures: tuple[str, ...]  # every 'avmm-para: FAIL ...' line


def parse_para(console: str) -> ParaReport:
    text = console.replace("\r", "")
    cpus = re.findall(
        r"avmm-para: cpu(\d+) vcpu (\d+) pcpu (\d+) vmid (\d+) generation (\d+) "
        r"host version (\d+)$",
        text,
        re.MULTILINE,
    )
    ok = re.search(r"avmm-para: ok cpus=(\d+)$", text, re.MULTILINE)
    return ParaReport(
        cpus=tuple(ParaCpu(*map(int, fields)) for fields in cpus),
        ok_cpus=int(ok[1]) if ok else None,
        failures=tuple(re.findall(r"avmm-para: (FAIL .*)$", text, re.MULTILINE)),
    )


@attrs.frozen
class CpuTimes:
    """A CPU's /proc/stat line (from /init's 'avmm-stat:' lines), in seconds."""

    cpu: int
    user: float
    system: float
    idle: float
    steal: float


def parse_stat(console: str) -> dict[int, CpuTimes]:
    """The 'avmm-stat: cpuN ...' lines /init prints after avmm.spin, by CPU number."""
    text = console.replace("\r", "")
    out = {}
    for m in re.finditer(r"^avmm-stat: cpu(\d+) ((?:\d+ ?)+)$", text, re.MULTILINE):
        ticks = [int(v) for v in m[2].split()]
        user, _nice, system, idle, _iowait, _irq, _softirq, steal = ticks[:8]
        cpu = int(m[1])
        out[cpu] = CpuTimes(cpu, user / USER_HZ, system / USER_HZ, idle / USER_HZ, steal / USER_HZ)
    return out
