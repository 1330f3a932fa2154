"""The README's promises that code can check: its scripting example runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_library_example_runs_as_written(tmp_path: Path) -> None:
    from guests.build import build

    build("runtime", quiet=True)
    readme = (REPO / "README.md").read_text()
    (example,) = re.findall(r"```python\n(import asyncio\n.*?)```", readme, re.S)
    script = tmp_path / "example.py"
    script.write_text(example)
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("0 avmm: 1 VM(s) on 2 pCPU(s)")


def test_the_quickstart_commands_are_the_ci_command() -> None:
    readme = (REPO / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("##", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", quickstart)
    assert commands[:2] == [
        "./setup && .venv/bin/avmm run configs/demo.toml",
        "./setup --test && .venv/bin/python -m pytest",
    ]
    assert commands[1] in (REPO / ".ci" / "run").read_text()
