"""Fixtures for API-level tests of the compiled hart core (helpers in corerig.py)."""

from __future__ import annotations

from pathlib import Path

import corerig
import pytest
from corerig import RAM_BASE, Assembler, Rig, RigFactory


@pytest.fixture(scope="session")
def asm(request: pytest.FixtureRequest) -> Assembler:
    cache = Path(request.config.cache.mkdir("avmm-core-asm"))

    def assemble(source: str, base: int = RAM_BASE) -> bytes:
        return corerig.assemble(cache, source, base)

    return assemble


@pytest.fixture
def rig(asm: Assembler) -> RigFactory:
    def make(source: str, **kw: int) -> Rig:
        return Rig(asm(source), **kw)

    return make
