from __future__ import annotations

from pathlib import Path

import pytest

from tests.gdb.gdbrig import GDB, build_prog


@pytest.fixture(scope="session")
def prog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_prog(tmp_path_factory.mktemp("prog"))


@pytest.fixture(scope="session")
def spin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_prog(tmp_path_factory.mktemp("spin"), spin=True)


@pytest.fixture
def gdb() -> str:
    if GDB is None:
        pytest.skip("gdb-multiarch is not installed (./setup --test installs it)")
    return GDB
