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
