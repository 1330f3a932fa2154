"""Fixtures of the board tests: the built guests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo() -> Path:
    from guests.build import build

    return build("demo", quiet=True)


@pytest.fixture(scope="session")
def linux() -> tuple[Path, Path]:
    from guests.build import build

    kernel = build("linux", quiet=True) / "Image"
    initrd = build("initramfs", quiet=True) / "initramfs.cpio.gz"
    return kernel, initrd
