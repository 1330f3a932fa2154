"""``monitor`` commands (gdb's qRcmd) for avmm."""

from __future__ import annotations

from avmm.gdb.target import DebugTarget, DebugTargetError

HELP = """\
avmm monitor commands:
  help               this text
  exits              exits per vCPU since the VM started
  sched              the scheduler: policy, slice, pCPUs, run queue
  device NAME        a device's state (NAME as in `monitor device`)
  phys ADDR LEN      guest-physical memory (hex dump, at most 4096 bytes)
"""
MAX_PHYS = 4096


def run_command(target: DebugTarget, line: str) -> str:
    words = line.split()
    if not words or words[0] == "help":
        return HELP
    cmd, args = words[0], words[1:]
    try:
        if cmd in ("exits", "sched") and not args:
            return target.monitor(cmd, "")
        if cmd == "device":
            return target.monitor("device", " ".join(args))
        if cmd == "phys" and len(args) == 2:
            addr, length = int(args[0], 0), int(args[1], 0)
            if not 0 < length <= MAX_PHYS:
                return f"phys: LEN must be 1..{MAX_PHYS}\n"
            return hexdump(addr, target.read_memory(0, addr, length, physical=True))
    except (ValueError, DebugTargetError) as err:
        return f"{cmd}: {err}\n"
    return f"unknown command {line.strip()!r}; try `monitor help`\n"


def hexdump(addr: int, data: bytes) -> str:
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{addr + off:016x}  {chunk.hex(' '):<47}  {text}")
    return "\n".join(lines) + "\n"
