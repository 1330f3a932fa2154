"""Fixtures of the hardening tests: the hostile guests (guests/hostile)."""

from __future__ import annotations

from pathlib import Path

import pytest

from guests.build import build


@pytest.fixture(scope="session")
def hostile() -> Path:
    """The hostile guests: rfence-stopped, getchar, htif-flood, uart-flood."""
    return build("hostile", quiet=True)
