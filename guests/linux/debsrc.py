"""Debian source packages and toolchain names shared by the Linux guest recipes.

The guest is built only from Debian's packages: the kernel from the tarball
``linux-source-6.12`` installs, busybox from ``apt-get source busybox``. Their
exact versions enter the build keys, so a Debian update rebuilds the guest.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from avmm.errors import GuestBuildError

CROSS_COMPILE = "riscv64-linux-gnu-"
# Executables whose versions enter the build keys.
CROSS_TOOLS = (f"{CROSS_COMPILE}gcc", f"{CROSS_COMPILE}ld")
KERNEL_PACKAGE = "linux-source-6.12"
KERNEL_TARBALL = Path("/usr/src/linux-source-6.12.tar.xz")
BUSYBOX_PACKAGE = "busybox"
# Parallel jobs for make: the build machines have 2 cores shared with others.
JOBS = int(os.environ.get("AVMM_GUEST_JOBS", "2"))

DEB_SRC_FIX = (
    "busybox is built from Debian's source package, and apt has no deb-src entry. Fix (as root):\n"
    "  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \\\n"
    "      > /etc/apt/sources.list.d/debian-src.sources\n"
    "  apt-get update"
)


def installed_version(package: str) -> str:
    """The installed version of a Debian package, or a clear error naming the fix."""
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise GuestBuildError(
            f"Debian package {package} is not installed (apt-get install {package})"
        )
    return proc.stdout.strip()


def kernel_source_key() -> str:
    if not KERNEL_TARBALL.is_file():
        raise GuestBuildError(f"{KERNEL_TARBALL} is missing (apt-get install {KERNEL_PACKAGE})")
    return f"{KERNEL_PACKAGE}={installed_version(KERNEL_PACKAGE)}"


def source_package(package: str) -> tuple[str, str]:
    """The .dsc file name and its ``SHA256:…`` that ``apt-get source`` would fetch."""
    proc = subprocess.run(
        ["apt-get", "source", "--print-uris", package],
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    out = proc.stdout + proc.stderr
    if "deb-src" in out and proc.returncode != 0:
        raise GuestBuildError(DEB_SRC_FIX)
    match = re.search(rf"\s({re.escape(package)}_\S+\.dsc) \d+ SHA256:([0-9a-f]+)", out)
    if proc.returncode != 0 or match is None:
        raise GuestBuildError(
            f"`apt-get source --print-uris {package}` failed (exit {proc.returncode}):\n"
            f"{out.strip()}\n(if apt has never been updated on this machine: apt-get update)"
        )
    return match[1], match[2]


def source_package_key(package: str) -> str:
    dsc, sha256 = source_package(package)
    return f"{dsc} sha256:{sha256}"


def fetch_source(package: str, dest: Path) -> Path:
    """Download and unpack (Debian's patches applied) a source package into ``dest``.

    Checks that apt fetched the very .dsc the build key was made from, and
    returns the unpacked source tree.
    """
    if shutil.which("dpkg-source") is None:
        raise GuestBuildError("dpkg-source is missing (apt-get install dpkg-dev)")
    dsc, sha256 = source_package(package)
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["apt-get", "source", "-q", package],
        capture_output=True,
        text=True,
        check=False,
        cwd=dest,
    )
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise GuestBuildError(
            DEB_SRC_FIX
            if "deb-src" in out
            else f"`apt-get source {package}` failed (exit {proc.returncode}):\n{out}"
        )
    got = dest / dsc
    if not got.is_file() or hashlib.sha256(got.read_bytes()).hexdigest() != sha256:
        raise GuestBuildError(f"`apt-get source {package}` did not fetch {dsc} (sha256 {sha256})")
    trees = [p for p in dest.iterdir() if p.is_dir()]
    if len(trees) != 1:
        raise GuestBuildError(f"`apt-get source {package}` did not unpack one source tree")
    return trees[0]


def read_config(path: Path) -> dict[str, str | None]:
    """Parse a kconfig file (kernel or busybox): ``{name: value}``, None for 'is not set'."""
    options: dict[str, str | None] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if m := re.fullmatch(r"(CONFIG_\w+)=(.*)", line):
            options[m[1]] = m[2]
        elif m := re.fullmatch(r"# (CONFIG_\w+) is not set", line):
            options[m[1]] = None
    return options


def merge_config(config: Path, fragment: Path) -> None:
    """Put ``fragment``'s settings into ``config``, replacing what it said of those options.

    (Appending alone is not enough: busybox's older kconfig keeps the first
    assignment of a symbol, the kernel's the last.)
    """
    wanted = read_config(fragment)
    kept = []
    for line in config.read_text().splitlines():
        m = re.fullmatch(r"(?:# )?(CONFIG_\w+)(?:=.*| is not set)", line.strip())
        if m is None or m[1] not in wanted:
            kept.append(line)
    config.write_text("\n".join(kept) + "\n" + fragment.read_text())


def missing_options(wanted: Mapping[str, str | None], final: Mapping[str, str | None]) -> list[str]:
    """Lines of ``wanted`` that ``final`` (a resolved .config) does not honour."""
    missing = []
    for name, value in wanted.items():
        got = final.get(name)
        if got != value:
            want = f"{name}={value}" if value is not None else f"{name} unset"
            have = f"{name}={got}" if got is not None else "unset"
            missing.append(f"{want} (got {have})")
    return missing
