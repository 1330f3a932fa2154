"""SiFive test / syscon finisher: poweroff, reboot, exit codes."""

from __future__ import annotations

from devfakes import FakePower

from avmm.devices.syscon import SifiveTest


def test_linux_syscon_poweroff_value_powers_off_with_exit_0() -> None:
    power = FakePower()
    SifiveTest(power).write(0, 4, 0x5555)
    assert power.events == [("poweroff", 0)]


def test_opensbi_16_bit_poweroff_write_is_accepted() -> None:
    power = FakePower()
    SifiveTest(power).write(0, 2, 0x5555)
    assert power.events == [("poweroff", 0)]


def test_syscon_reboot_value_reboots() -> None:
    power = FakePower()
    SifiveTest(power).write(0, 4, 0x7777)
    assert power.events == [("reboot", None)]


def test_fail_code_carries_the_exit_status_in_the_upper_half() -> None:
    power = FakePower()
    SifiveTest(power).write(0, 4, (42 << 16) | 0x3333)
    assert power.events == [("poweroff", 42)]


def test_unknown_values_offsets_and_widths_do_nothing_but_count() -> None:
    power = FakePower()
    dev = SifiveTest(power)
    dev.write(0, 4, 0x1234)
    dev.write(4, 4, 0x5555)
    dev.write(0, 1, 0x55)
    assert dev.read(8, 4) == 0
    assert power.events == []
    assert dev.stats.guest_errors == 4
    assert dev.read(0, 4) == 0
