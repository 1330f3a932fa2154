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


@pytest.fixture(params=[True, False], ids=["jit", "interp"], autouse=True)
def jit(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Every test here runs twice: with the core's translator on, and off (AVMM_JIT=0)."""
    monkeypatch.setenv("AVMM_JIT", "1" if request.param else "0")
    return bool(request.param)
