"""A quick launch loads only what it runs: ``avmm run --kernel`` of a bare-metal
ELF does not import the metrics, gdb, sweep or trace packages, cattrs, TOML,
json, pyelftools or the virtio models (each costs start-up time that QEMU's
``-kernel`` does not pay), nor random and hashlib (only seeded policies
and networks use them). Checked on a real run in a child process, through
its ``sys.modules`` at exit; the same check sees those modules when a run
asks for what needs them, so it can fail. And the editable install of this
checkout puts it on ``sys.path`` with a plain ``.pth`` line: setuptools' default
import-hook finder would be imported by every Python start (site), ~15 ms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the real command line, then writes the names of every module it imported.
# (json is imported after the run: the run itself must not need it.)
_DRIVER = """
import runpy, sys
out, sys.argv = sys.argv[1], ["avmm", *sys.argv[2:]]
try:
    runpy.run_module("avmm.cli", run_name="__main__")
except SystemExit as exit:
    status = exit.code
else:
    status = 0
modules = sorted(sys.modules)
import json
with open(out, "w") as f:
    json.dump({"status": status, "modules": modules}, f)
"""

NOT_ON_A_QUICK_LAUNCH = (
    "prometheus_client",
    "avmm.obs",
    "avmm.gdb",
    "avmm.sweep",
    "avmm.trace",
    "cattrs",
    "tomllib",
    "json",
    "random",
    "hashlib",
    "elftools",
    "curses",
    "avmm.devices.virtio.mmio",
    "avmm.devices.backends.block",
    "avmm.devices.backends.net",
)


DETERMINISTIC = ("--set", "sched.policy=deterministic", "--set", "sched.clock=virtual")


def _modules_of_run(tmp_path: Path, *args: str | Path) -> tuple[set[str], str]:
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(out), "run", *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["status"] == 0, proc.stderr
    return set(result["modules"]), proc.stdout


def _loaded(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(f"{name}.") for m in modules)


def test_a_quick_launch_does_not_import_what_it_does_not_use(tmp_path: Path, demo: Path) -> None:
    modules, console = _modules_of_run(tmp_path, "--kernel", demo / "hello.elf")
    assert "hello" in console.lower()  # the guest ran
    assert "avmm._core" in modules and "asyncio" in modules
    assert [name for name in NOT_ON_A_QUICK_LAUNCH if _loaded(modules, name)] == []


@pytest.mark.parametrize(
    ("extra", "loaded"),
    [
        (("--trace", "exits", "--trace-file", "{tmp}/t.jsonl"), "avmm.trace"),
        (("--trace", "exits", "--trace-file", "{tmp}/t.jsonl"), "json"),
        (("--set", "metrics.enabled=true", "--set", "metrics.port=0"), "prometheus_client"),
        (("--set", "metrics.enabled=true", "--set", "metrics.port=0"), "cattrs"),
        (("--set", "vm.rng=true"), "avmm.devices.virtio.mmio"),
        (("--set", "sched.policy=random"), "random"),
        (DETERMINISTIC, "hashlib"),  # its rng-seed
    ],
)
def test_a_run_that_asks_for_more_imports_it(
    tmp_path: Path, demo: Path, extra: tuple[str, ...], loaded: str
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    modules, _ = _modules_of_run(tmp_path, "--kernel", demo / "hello.elf", *args)
    assert _loaded(modules, loaded)


def _python_at_start(code: str) -> str:
    """What ``code`` prints in a fresh interpreter of this environment, started
    outside any checkout (so only the installed paths and .pth files count)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd="/",
        env=env,
        timeout=60,
        check=True,
    )
    return proc.stdout.strip()


def test_the_editable_install_adds_a_path_not_an_import_hook() -> None:
    installed = _python_at_start("import avmm; print(avmm.__file__)")
    here = Path(__file__).resolve().parents[2]
    if Path(installed).resolve() != here / "avmm" / "__init__.py":
        # e.g. a second worktree sharing another checkout's virtualenv
        pytest.skip(f"the avmm installed beside {sys.executable} is {installed}, not this checkout")
    at_start = _python_at_start("import sys; print(' '.join(sorted(sys.modules)))").split()
    assert [m for m in at_start if m.startswith("__editable__")] == [], (
        "reinstall: pip install -e . (pyproject's package-dir gives a static .pth)"
    )
    assert str(here) in _python_at_start("import sys; print(sys.path)")
