"""The disk workload the Linux snapshot and migration tests give the guest's shell,
and how they check it: block i of /dev/vda gets ``block i`` (each its own dd, a
real virtio-blk request), then the blocks are read back from the device."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest

from avmm.runtime.console import CaptureConsole
from tests.consolesession import GUARD

PROMPT = "avmm:/# "


def writes(blocks: int, done: str, *, dirty_memory: bool = False) -> str:
    """A background shell loop writing the blocks, reporting every 25th (``wN``)
    and saying ``done`` once all are synced. ``dirty_memory``: each round also
    rewrites 256 KiB of fresh random data in tmpfs (16 files in turn), so RAM
    keeps changing while it is copied."""
    memory = (
        "dd if=/dev/urandom of=/tmp/m$((i % 16)) bs=64k count=4 2>/dev/null; "
        if dirty_memory
        else ""
    )
    return (
        f"(i=0; while [ $i -lt {blocks} ]; do printf 'block %04d\\n' $i | "
        "dd of=/dev/vda bs=512 seek=$i conv=notrunc,fsync 2>/dev/null; "
        f"{memory}"
        f"[ $((i % 25)) -eq 0 ] && echo w$i; i=$((i + 1)); done; sync; echo {done}) &"
    )


def verify(blocks: int) -> str:
    """Reads the blocks back from the device (not the page cache) in one go; their
    digest must be :func:`expected_md5`."""
    return (
        "echo 3 > /proc/sys/vm/drop_caches; "
        f"dd if=/dev/vda bs=512 count={blocks} 2>/dev/null | md5sum"
    )


def expected_md5(blocks: int) -> str:
    """The digest of every block's pattern in its sector on a blank disk."""
    return hashlib.md5(
        b"".join(f"block {i:04d}\n".encode().ljust(512, b"\0") for i in range(blocks))
    ).hexdigest()


def pattern_ok(image: bytes, blocks: int) -> bool:
    """Does a disk image (read from the host) hold every block's pattern?"""
    return all(image[i * 512 : i * 512 + 11] == f"block {i:04d}\n".encode() for i in range(blocks))


async def wait_for(console: CaptureConsole, text: str, guard: float = GUARD) -> None:
    """Until the console has printed ``text``; fails with its tail after ``guard`` s."""
    deadline = time.monotonic() + guard
    while text not in console.text():
        if time.monotonic() > deadline:
            pytest.fail(f"no {text!r}; console:\n{console.text()[-3000:]}")
        await asyncio.sleep(0.01)
