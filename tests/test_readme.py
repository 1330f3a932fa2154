"""The README's promises that code can check: its scripting example runs."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


# ------------------------------------------------- every command example runs

# How an example is made to end (it still really runs): a run that would go on
# (a shell, a ping loop, a VM waiting for gdb) gets a timeout and no console.
RUN_LIMIT = ["--timeout", "15", "--console", "null"]
BACKGROUND_LIMIT = ["--timeout", "90"]


def command_examples(readme: str) -> list[str]:
    """Every `avmm ...` and `python -m guests.build ...` line of the README's
    ``sh`` blocks (continuations joined), in order, comments dropped."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line.startswith(("avmm ", "python -m guests.build")):
                out.append(re.sub(r"\s+", " ", line))
    return out


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _trimmed_sweep(name: str, tmp: Path) -> Path:
    """A copy of a shipped experiment file with one value per axis and one
    repetition (the sweep's machinery runs the same; it just runs less)."""
    import tomllib

    source = REPO / "configs" / "experiments" / name
    assert tomllib.loads(source.read_text())["axes"], name
    lines = []
    section = ""
    for raw in source.read_text().splitlines():
        if raw.startswith("["):
            section = raw.strip()
        m = re.match(r"^(\S+)\s*=\s*\[(.*)\]\s*(#.*)?$", raw)
        if m and section == "[axes]":
            first = m[2].split(",")[0].strip()
            raw = f"{m[1]} = [{first}]"
        raw = re.sub(r"^count\s*=\s*\d+", "count = 1", raw)  # [repetitions]
        raw = re.sub(r'^base\s*=\s*"(.*)"', lambda b: f'base = "{source.parent / b[1]}"', raw)
        lines.append(raw)
    out = tmp / name
    out.write_text("\n".join(lines) + "\n")
    axes = tomllib.loads(out.read_text())["axes"]
    values = [
        v
        for table in axes.values()
        for v in (table.values() if isinstance(table, dict) else [table])
    ]
    assert all(len(v) == 1 for v in values), axes  # one point
    return out


@pytest.mark.slow
def test_every_command_example_in_the_readme_runs(tmp_path: Path) -> None:
    from guests.build import build

    for recipe in ("demo", "linux", "initramfs"):
        build(recipe, quiet=True)
    readme = (REPO / "README.md").read_text()
    examples = command_examples(readme)
    assert len(examples) >= 15, examples
    work = tmp_path / "work"
    work.mkdir()
    for name in ("configs", "guests"):  # the examples' relative paths, from a scratch folder
        (work / name).symlink_to(REPO / name)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    avmm = [sys.executable, "-m", "avmm"]
    background: list[subprocess.Popen[str]] = []
    served: list[subprocess.Popen[str]] = []  # the ones with a control API
    metrics_url: str | None = None
    sweep_file = sweep_out = None
    try:
        for example in examples:
            args = shlex.split(example.removesuffix("&").strip())
            # the control API's socket: a folder of this test's own
            args = [re.sub(r"/tmp/(avmm[\w.-]*\.sock)", rf"{tmp_path}/\1", a) for a in args]
            is_run = args[:2] == ["avmm", "run"]
            if args[:3] == ["python", "-m", "guests.build"]:
                cmd = [sys.executable, *args[1:]]
            else:
                args = args[1:]
                if args[0] == "sweep":
                    for i, arg in enumerate(args):
                        if arg.endswith(".toml"):
                            sweep_file = args[i] = str(_trimmed_sweep(Path(arg).name, tmp_path))
                        elif arg == "FILE":
                            assert sweep_file, example
                            args[i] = sweep_file
                        elif args[i - 1] in ("--out", "--report"):
                            # DIR: the last sweep's folder where the example reuses
                            # one (--resume, --report), else a new one.
                            reuse = arg == "DIR" and (
                                "--resume" in args or args[i - 1] == "--report"
                            )
                            if not reuse:
                                sweep_out = str(tmp_path / f"{arg}-{len(background)}-{i}")
                            assert sweep_out, example
                            args[i] = sweep_out
                if args[0] == "stat":
                    assert metrics_url, f"{example}: no avmm with metrics runs before it"
                    if not any(":" in a for a in args[1:]):
                        args.insert(1, metrics_url)
                    args.append("--once")
                if args[0] == "run" and "-s" in args and not _port_free(1234):
                    args[args.index("-s")] = "--gdb=127.0.0.1:0"  # another test holds :1234
                cmd = [*avmm, *args]
            if example.endswith("&"):
                metrics = "metrics.enabled=true" in example
                if metrics and not _port_free(9464):
                    cmd += ["--set", "metrics.port=0"]
                proc = subprocess.Popen(
                    [*cmd, *BACKGROUND_LIMIT],
                    cwd=work,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                background.append(proc)
                if metrics:
                    assert proc.stderr is not None
                    for line in proc.stderr:
                        m = re.match(r"avmm: metrics at (\S+)", line)
                        if m:
                            metrics_url = m[1]
                            break
                    assert metrics_url, example
                    time.sleep(2)  # a few slices to show
                # the examples after it need its control API or its migration listener
                ready = (
                    "avmm: control API at"
                    if "--api" in args
                    else "waiting for a migration on"
                    if "--incoming" in args
                    else None
                )
                if ready is not None:
                    assert proc.stderr is not None
                    said_lines = []
                    for line in proc.stderr:
                        said_lines.append(line)
                        if ready in line:
                            break
                    else:
                        pytest.fail(f"{example}: never said {ready!r}: {''.join(said_lines)}")
                if "--api" in args:
                    served.append(proc)
                continue
            if is_run:
                cmd += RUN_LIMIT
            out = subprocess.run(
                cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600, check=False
            )
            said = f"{example}\n{out.stderr[-3000:]}"
            assert "Traceback" not in out.stderr, said
            if is_run and out.returncode == 1:
                assert "stopped by --timeout" in out.stderr, said  # it ran until stopped
            else:
                assert out.returncode == 0, said
        for proc in background:  # still running (waiting for gdb, serving metrics)
            if proc in served:  # the ctl examples end with `stop`: it exits cleanly
                assert proc.wait(timeout=60) == 0, proc.communicate()[1]
            else:
                assert proc.poll() is None, proc.communicate()[1]
    finally:
        for proc in background:
            proc.terminate()
            proc.communicate(timeout=60)
