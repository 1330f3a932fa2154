"""Fixtures shared by every test folder: guests built through the cache.

Each is session-scoped: the first test that needs a guest builds it (or finds
it in ``$AVMM_CACHE``, keyed by its inputs), the rest reuse the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from guests.build import build


@pytest.fixture(scope="session")
def demo() -> Path:
    """The bare-metal demo guests (guests/demo): hello, smp-demo, timer, virtio-blk, ..."""
    return build("demo", quiet=True)


@pytest.fixture(scope="session")
def linux() -> tuple[Path, Path]:
    """The Linux guest: (Image, initramfs.cpio.gz)."""
    kernel = build("linux", quiet=True) / "Image"
    initrd = build("initramfs", quiet=True) / "initramfs.cpio.gz"
    return kernel, initrd


@pytest.fixture(scope="session")
def guests() -> Path:
    """The runtime's test guests (guests/runtime)."""
    return build("runtime", quiet=True)
