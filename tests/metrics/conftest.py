"""Fixtures of the metrics tests: the runtime's built test guests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.guest import guest_dir


@pytest.fixture(scope="session")
def guests() -> Path:
    return guest_dir()
