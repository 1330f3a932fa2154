"""A device's interrupt output asserts its line each time (as qemu_set_irq does), lowers it
once, and reports rising edges."""

from __future__ import annotations

from avmm.devices.base import IrqOutput


class Line:
    def __init__(self) -> None:
        self.levels: list[bool] = []

    def set_level(self, level: bool) -> None:
        self.levels.append(level)


def test_every_assertion_reaches_the_line_and_rising_edges_are_reported() -> None:
    line = Line()
    out = IrqOutput(line)
    assert [out.set(v) for v in (False, True, True, False, False, True)] == [
        False,
        True,
        False,
        False,
        False,
        True,
    ]
    # the repeated assertion is a new request; a low line is not lowered again
    assert line.levels == [True, True, False, True]
    assert out.level


def test_restore_drives_the_line_even_without_a_change() -> None:
    line = Line()
    out = IrqOutput(line)
    out.restore(False)
    out.restore(True)
    assert line.levels == [False, True]
    assert not out.set(True)
