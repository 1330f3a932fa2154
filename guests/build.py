"""Build guests into a cache outside the repository, keyed by their inputs.

A :class:`Recipe` names its input files (globs relative to the repository
root), the tools whose versions matter, and a function that builds into an
empty directory. The key is a hash of all of that, so a rebuild happens only
when an input, a tool or the recipe itself changes. Outputs live in
``$AVMM_CACHE/guests/<name>-<key>/`` (default ``~/.cache/avmm``); the newest
build of each recipe is linked from ``guests/out/<name>`` so configs can name
files by a stable relative path.

Recipes are found in ``guests/*/recipe.py``; each module defines
``recipes() -> list[Recipe]``.

Command line: ``python -m guests.build [--list] [--force] [NAME ...]``
(no names: build everything).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from avmm.errors import GuestBuildError

REPO = Path(__file__).resolve().parent.parent
GUESTS = REPO / "guests"
OUT = GUESTS / "out"
KEEP_BUILDS = 3  # per recipe, newest first


def cache_root() -> Path:
    return Path(os.environ.get("AVMM_CACHE", Path.home() / ".cache" / "avmm")) / "guests"


# Seconds between "still ..." lines while a command runs or a lock is held by
# another build: a minutes-long kernel compile must not look like a hang.
HEARTBEAT = float(os.environ.get("AVMM_BUILD_HEARTBEAT", "30"))


def _say(recipe: str, message: str, elapsed: float) -> None:
    print(f"[guests] {recipe}: {message} ({elapsed:.0f}s)", file=sys.stderr, flush=True)


class Step:
    """Runs a recipe's commands with a log file and progress lines: each phase
    as it starts, and a "still running" line every :data:`HEARTBEAT` seconds
    of a long command, with the build log's last line."""

    def __init__(self, recipe: str, outdir: Path, log: Path, quiet: bool) -> None:
        self.recipe = recipe
        self.outdir = outdir
        self.log_path = log
        self._quiet = quiet
        self._start = time.monotonic()

    def progress(self, message: str) -> None:
        if not self._quiet:
            _say(self.recipe, message, time.monotonic() - self._start)

    def _last_log_line(self) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
                lines = log.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1].strip()[:100] if lines else ""

    def run(
        self,
        *argv: str | os.PathLike[str],
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """Run a command, appending its output to the build log; raise on failure."""
        cmd = [os.fspath(a) for a in argv]
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
            started = time.monotonic()
            while True:
                try:
                    proc.wait(timeout=HEARTBEAT)
                    break
                except subprocess.TimeoutExpired:
                    last = self._last_log_line()
                    self.progress(
                        f"still running {Path(cmd[0]).name} "
                        f"({time.monotonic() - started:.0f}s so far)"
                        + (f": {last}" if last else "")
                    )
                except BaseException:
                    proc.kill()
                    proc.wait()
                    raise
        if proc.returncode != 0:
            tail = self.log_path.read_text(errors="replace").splitlines()[-25:]
            raise GuestBuildError(
                f"building {self.recipe}: `{' '.join(cmd)}` exited with {proc.returncode}; "
                f"log {self.log_path}:\n" + "\n".join(tail)
            )


@attrs.frozen
class Recipe:
    """How to build one guest artefact directory."""

    name: str
    inputs: tuple[str, ...]  # globs relative to the repository root
    tools: tuple[str, ...]  # executables whose `--version` first line enters the key
    build: Callable[[Step], None]  # fills step.outdir
    # Extra strings that enter the key (e.g. a Debian package version).
    extra_key: Callable[[], str] = attrs.field(default=lambda: "")
    description: str = ""

    def input_files(self) -> list[Path]:
        files: set[Path] = set()
        for pattern in self.inputs:
            matched = [p for p in REPO.glob(pattern) if p.is_file()]
            if not matched:
                raise GuestBuildError(f"recipe {self.name}: input {pattern!r} matches no file")
            files.update(matched)
        return sorted(files)

    def key(self) -> str:
        h = hashlib.sha256()
        h.update(self.name.encode())
        for path in self.input_files():
            h.update(str(path.relative_to(REPO)).encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
        for tool in self.tools:
            h.update(tool.encode() + b"\0" + tool_version(tool).encode())
        h.update(self.extra_key().encode())
        return h.hexdigest()[:20]


def tool_version(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        raise GuestBuildError(f"{tool} is not installed (run ./setup first)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    lines = (out.stdout or out.stderr).splitlines()
    return lines[0] if lines else ""


def load_recipes() -> dict[str, Recipe]:
    found: dict[str, Recipe] = {}
    for path in sorted(GUESTS.glob("*/recipe.py")):
        spec = importlib.util.spec_from_file_location(f"guests.{path.parent.name}.recipe", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for recipe in module.recipes():
            if recipe.name in found:
                raise GuestBuildError(f"recipe {recipe.name} is defined twice")
            found[recipe.name] = recipe
    return found


@contextlib.contextmanager
def _locked(path: Path, recipe: str = "", quiet: bool = True) -> Iterator[None]:
    """Hold ``path``'s lock; while another build holds it, say so (unless quiet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fd:
        start = time.monotonic()
        told = None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if not quiet and (told is None or now - told >= HEARTBEAT):
                    told = now
                    _say(
                        recipe,
                        f"waiting for another build of {recipe} to finish (lock {path})",
                        now - start,
                    )
                time.sleep(0.2)
        if told is not None:
            _say(recipe, "the other build is done", time.monotonic() - start)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def _link_out(name: str, target: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    link = OUT / name
    tmp = OUT / f".{name}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    tmp.replace(link)


def _prune(root: Path, name: str, keep: Path) -> None:
    # Build directories only: each has a log file beside it, which must neither be
    # counted among the builds kept nor hide one (it did, so two checkouts with
    # different inputs rebuilt each other's kernel in turn).
    builds = sorted(
        (p for p in root.glob(f"{name}-*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in [b for b in builds if b != keep][KEEP_BUILDS - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
        old.with_name(old.name + ".log").unlink(missing_ok=True)


def build(recipe: Recipe | str, *, force: bool = False, quiet: bool = False) -> Path:
    """Return the directory holding ``recipe``'s outputs, building it if needed."""
    if isinstance(recipe, str):
        recipes = load_recipes()
        if recipe not in recipes:
            raise GuestBuildError(f"no guest recipe named {recipe!r} (have: {', '.join(recipes)})")
        recipe = recipes[recipe]
    root = cache_root()
    final = root / f"{recipe.name}-{recipe.key()}"
    with _locked(root / f".{recipe.name}.lock", recipe.name, quiet):
        if force and final.exists():
            shutil.rmtree(final)
        if not final.exists():
            work = root / f".{final.name}.partial"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            step = Step(recipe.name, work, root / f"{final.name}.log", quiet)
            step.log_path.write_bytes(b"")
            step.progress("building (not in cache)")
            try:
                recipe.build(step)
            except BaseException:
                # Keep the log for the error message; drop the half-built outputs.
                shutil.rmtree(work, ignore_errors=True)
                raise
            work.rename(final)
            step.progress(f"done -> {final}")
        os.utime(final)
        _prune(root, recipe.name, final)
        _link_out(recipe.name, final)
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m guests.build", description=__doc__.split("\n")[0]
    )
    parser.add_argument("names", nargs="*", help="recipes to build (default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    parser.add_argument("--list", action="store_true", help="list recipes and exit")
    args = parser.parse_args(argv)
    recipes = load_recipes()
    if args.list:
        for r in recipes.values():
            print(f"{r.name:24} {r.description}")
        return 0
    try:
        for name in args.names or list(recipes):
            print(build(name, force=args.force))
    except GuestBuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
