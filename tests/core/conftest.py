"""Fixtures for API-level tests of the compiled hart core (helpers in corerig.py)."""

from __future__ import annotations

from pathlib import Path

import corerig
import pytest
from corerig import RAM_BASE, Assembler, Rig, RigFactory


@pytest.fixture(scope="session")
def asm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Assembler:
    # pytest's cache persists assembled snippets across runs; without the
    # cacheprovider plugin (-p no:cacheprovider) a session directory will do
    provider = getattr(request.config, "cache", None)
    if provider is not None:
        cache = Path(provider.mkdir("avmm-core-asm"))
    else:
        cache = tmp_path_factory.mktemp("avmm-core-asm")

    def assemble(source: str, base: int = RAM_BASE) -> bytes:
        return corerig.assemble(cache, source, base)

    return assemble


@pytest.fixture
def rig(asm: Assembler) -> RigFactory:
    def make(source: str, **kw: int) -> Rig:
        return Rig(asm(source), **kw)

    return make
