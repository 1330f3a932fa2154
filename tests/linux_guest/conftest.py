"""Fixtures of the Linux guest tests: the built guest (from the cache) and a host build
of the self-check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from guests.build import build
from guests.linux import initramfs


@pytest.fixture(scope="session")
def linux_dir() -> Path:
    """The `linux` recipe's outputs (built once, then a cache hit)."""
    return build("linux", quiet=True)


@pytest.fixture(scope="session")
def initramfs_dir() -> Path:
    return build("initramfs", quiet=True)


@pytest.fixture(scope="session")
def kernel(linux_dir: Path) -> Path:
    return linux_dir / "Image"


@pytest.fixture(scope="session")
def initrd(initramfs_dir: Path) -> Path:
    return initramfs_dir / "initramfs.cpio.gz"


@pytest.fixture(scope="session")
def host_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """avmm-check compiled for this host: the same source, warnings are errors."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc is not None, "a host C compiler is needed (apt-get install gcc)"
    exe = tmp_path_factory.mktemp("check") / "avmm-check"
    flags = [f for f in initramfs.CHECK_CFLAGS if f != "-static"]
    subprocess.run([cc, *flags, "-Werror", "-o", str(exe), str(initramfs.CHECK_SOURCE)], check=True)
    return exe
