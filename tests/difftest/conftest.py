"""Fixtures of the differential tests: the CI programs, built once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from guests.build import build


@pytest.fixture(scope="session")
def difftest_dir() -> Path:
    """Directory with the CI differential-test ELFs and programs.json."""
    return build("difftest", quiet=True)


@pytest.fixture(scope="session")
def difftest_manifest(difftest_dir: Path) -> dict[str, dict[str, Any]]:
    programs = json.loads((difftest_dir / "programs.json").read_text())
    return {p["name"]: p for p in programs}


@pytest.fixture(params=[True, False], ids=["jit", "interp"], autouse=True)
def jit(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Every test here runs twice: with the core's translator on, and off (AVMM_JIT=0)."""
    monkeypatch.setenv("AVMM_JIT", "1" if request.param else "0")
    return bool(request.param)
