"""Start-up: ``avmm run --kernel`` of a guest that ends at once, against QEMU.

    python -m bench.startup [--runs 10] [--avmm CMD] [--top 10]

The guest is ``exit.elf`` of the ``mark`` recipe: three instructions that
write "pass" to the SiFive test device at 0x100000, which QEMU's ``virt``
machine and avmm's board both have. avmm runs it as ``avmm run --kernel
exit.elf`` (a quick launch: the virt board, the ELF in M-mode from reset,
the console on stdio); QEMU as ``qemu-system-riscv64 -M virt -bios none
-kernel exit.elf`` with the CPU options of guests/lib/qemu.py. Each is
started ``--runs`` times, alternating, with stdin and stdout on /dev/null;
for each the wall-clock seconds from launch to exit and the child's host
CPU seconds (user + system, from the rusage of the children this process
waited for) are printed as median and minimum, with the ratio avmm / QEMU
(here above 1.0 means avmm takes longer). A third row, ``floor``, is the
Python that runs avmm starting, importing argparse, asyncio and uvloop,
creating an event loop and exiting: what any asyncio command line on this
interpreter pays before doing anything, the part of avmm's start-up that
avmm's own code cannot cut. A run that does not exit with 0
fails the benchmark. Each command runs once untimed first, and avmm's
children may write byte-code caches even where this process's environment
says ``PYTHONDONTWRITEBYTECODE`` (an installed package has its ``.pyc``
files; compiling avmm's sources at every start would add ~70 ms that no
user pays).

By default avmm is the ``avmm`` console script installed beside this
Python (``.venv/bin/avmm``, as the README runs it) when it imports this
checkout's ``avmm``, else ``python -m avmm.cli`` with this checkout on
``PYTHONPATH`` (e.g. in a second worktree sharing another checkout's venv);
``--avmm CMD`` measures another command. Then
``python -X importtime`` of one such run lists the ``--top`` imports with
the largest cumulative time, the list to work from to cut start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import attrs

from guests.build import REPO, build
from guests.lib.qemu import qemu_command

_IMPORT = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")


@attrs.frozen
class Sample:
    wall: float
    cpu: float


@attrs.frozen
class Import:
    self_us: int
    cumulative_us: int
    depth: int
    module: str


def exit_elf() -> Path:
    return build("mark", quiet=True) / "exit.elf"


def _env() -> dict[str, str]:
    """This process's environment with the checkout on PYTHONPATH (after any set),
    byte-code caches allowed."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(REPO)])
    return env


def default_avmm() -> list[str]:
    """The installed console script if it runs this checkout, else ``python -m avmm.cli``."""
    script = Path(sys.executable).parent / "avmm"
    if script.is_file():
        # Where the installed package points (from /, so no checkout is on sys.path).
        where = subprocess.run(
            [sys.executable, "-c", "import avmm; print(avmm.__file__)"],
            capture_output=True,
            text=True,
            cwd="/",
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            check=False,
        ).stdout.strip()
        if where and Path(where).resolve() == (REPO / "avmm" / "__init__.py").resolve():
            return [str(script)]
    return [sys.executable, "-m", "avmm.cli"]


def avmm_command(avmm: str | None, elf: Path) -> list[str]:
    base = shlex.split(avmm) if avmm else default_avmm()
    return [*base, "run", "--kernel", str(elf)]


# The floor: what starting this Python and its event loop costs with no avmm code.
FLOOR = "import argparse, asyncio, uvloop; uvloop.new_event_loop().close()"


def interpreter(argv: list[str]) -> list[str]:
    """The Python command that runs ``argv``: itself when it starts with a Python,
    else the interpreter line of its script (a console script)."""
    if argv and "python" in Path(argv[0]).name:
        return argv[:1]
    with open(argv[0], "rb") as f:
        first = f.readline().decode(errors="replace")
    if not first.startswith("#!"):
        raise RuntimeError(f"{argv[0]}: not a Python command")
    return shlex.split(first[2:])


def floor_command(avmm: list[str]) -> list[str]:
    return [*interpreter(avmm), "-c", FLOOR]


def timed(argv: list[str]) -> Sample:
    """Run ``argv`` to its end; its wall-clock and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(),
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(argv)}: exit status {proc.returncode}: {proc.stderr[-400:]!r}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall, cpu)


def import_times(argv: list[str]) -> list[Import]:
    """The imports of one run of ``argv`` (a Python command) under ``-X importtime``."""
    python = interpreter(argv)
    rest = argv[1:] if python == argv[:1] else argv  # a script runs as python SCRIPT ...
    argv = [*python, "-X", "importtime", *rest]
    proc = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        check=False,
    )
    found = []
    for line in proc.stderr.splitlines():
        m = _IMPORT.match(line)
        if m:
            found.append(Import(int(m[1]), int(m[2]), len(m[3]) // 2, m[4]))
    return found


def _stats(samples: list[Sample], key: str) -> tuple[float, float]:
    values = [getattr(s, key) for s in samples]
    return statistics.median(values), min(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.startup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=10, help="starts of each (default 10)")
    parser.add_argument(
        "--avmm",
        metavar="CMD",
        help="the avmm command (default: the installed avmm script, or python -m avmm.cli)",
    )
    parser.add_argument("--top", type=int, default=10, help="imports to list (default 10)")
    parser.add_argument("--quick", action="store_true", help="two runs each (a smoke test)")
    args = parser.parse_args(argv)
    runs = 2 if args.quick else args.runs
    if runs < 1:
        parser.error("need --runs >= 1")
    elf = exit_elf()
    avmm = avmm_command(args.avmm, elf)
    commands = {"avmm": avmm, "QEMU": qemu_command(elf, machine="virt")}
    with contextlib.suppress(OSError, RuntimeError):  # --avmm not a Python command: no floor
        commands["floor"] = floor_command(avmm)
    print(f"start-up to exit of a guest that ends at once ({elf.name}), {runs} runs each")
    for name, cmd in commands.items():
        print(f"{name}: {shlex.join(cmd)}")
    samples: dict[str, list[Sample]] = {name: [] for name in commands}
    for cmd in commands.values():  # warm-up: page cache, byte-code caches
        timed(cmd)
    for _ in range(runs):
        for name, cmd in commands.items():
            samples[name].append(timed(cmd))
    print()
    print(f"{'seconds':10} {'wall median':>12} {'wall min':>9} {'CPU median':>11} {'CPU min':>8}")
    table = {}
    for name, got in samples.items():
        wall, cpu = _stats(got, "wall"), _stats(got, "cpu")
        table[name] = (*wall, *cpu)
        print(f"{name:10} {wall[0]:>12.3f} {wall[1]:>9.3f} {cpu[0]:>11.3f} {cpu[1]:>8.3f}")
    for name in ("avmm", "floor"):
        if name not in table:
            continue
        ratios = [
            a / q if q > 0 else float("inf")
            for a, q in zip(table[name], table["QEMU"], strict=True)
        ]
        print(
            f"{name + '/QEMU':10} {ratios[0]:>12.2f} {ratios[1]:>9.2f} {ratios[2]:>11.2f} "
            f"{ratios[3]:>8.2f}  (time ratio: above 1 = {name} slower)"
        )

    imports = import_times(commands["avmm"])
    if not imports:
        print("\nno -X importtime output (is the avmm command a Python program?)")
        return 0
    total = sum(i.cumulative_us for i in imports if i.depth == 0)
    print(
        f"\npython -X importtime of one avmm run: {len(imports)} modules, "
        f"{total / 1e3:.1f} ms in top-level imports; the {args.top} largest cumulative:"
    )
    print(f"{'cumulative ms':>13} {'self ms':>8}  module (depth)")
    for imp in sorted(imports, key=lambda i: i.cumulative_us, reverse=True)[: args.top]:
        print(
            f"{imp.cumulative_us / 1e3:>13.1f} {imp.self_us / 1e3:>8.1f}  "
            f"{imp.module} ({imp.depth})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
