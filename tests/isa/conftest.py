"""Fixtures of the ISA suite and the bare-metal runtime tests: built guests."""

from __future__ import annotations

from pathlib import Path

import pytest

from guests.build import build


@pytest.fixture(scope="session")
def isa_dir() -> Path:
    """Directory with the ISA test ELFs (guests/isa, built once, cached)."""
    return build("isa", quiet=True)


@pytest.fixture(scope="session")
def selftest_dir() -> Path:
    """Directory with the runtime's self-test ELFs (guests/lib/selftest)."""
    return build("lib-selftest", quiet=True)
