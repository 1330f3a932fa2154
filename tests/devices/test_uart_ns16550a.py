"""NS16550A as Linux's 8250 driver probes and drives it."""

from __future__ import annotations

import logging

import msgpack
import pytest
from devfakes import FakeChar, FakeIrq

from avmm.devices.uart import Ns16550a

RBR, THR, DLL, IER, DLM, IIR, FCR, LCR, MCR, LSR, MSR, SCR = 0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 7
IER_RDI, IER_THRI, IER_RLSI, IER_MSI = 1, 2, 4, 8
IIR_NO_INT, IIR_THRI, IIR_RDI, IIR_RLSI, IIR_TIMEOUT, IIR_MSI = 1, 2, 4, 6, 0xC, 0
FCR_ENABLE, FCR_CLEAR_RX, FCR_CLEAR_TX, FCR_TRIG_8 = 1, 2, 4, 0x80
LSR_DR, LSR_OE, LSR_THRE, LSR_TEMT = 1, 2, 0x20, 0x40
MCR_DTR, MCR_RTS, MCR_OUT2, MCR_LOOP = 1, 2, 8, 0x10


def make(rx_backlog: int = 4096) -> tuple[Ns16550a, FakeChar, FakeIrq]:
    backend, irq = FakeChar(), FakeIrq()
    return Ns16550a(backend, irq, rx_backlog=rx_backlog), backend, irq


def rd(uart: Ns16550a, reg: int) -> int:
    return uart.read(reg, 1)


def wr(uart: Ns16550a, reg: int, value: int) -> None:
    uart.write(reg, 1, value)


def test_probe_sees_four_ier_bits_and_a_scratch_register() -> None:
    uart, _, _ = make()
    wr(uart, IER, 0)
    assert rd(uart, IER) & 0x0F == 0
    wr(uart, IER, 0x0F)
    assert rd(uart, IER) & 0x0F == 0x0F
    wr(uart, IER, 0xFF)
    assert rd(uart, IER) == 0x0F  # the XScale UUE bit (6) does not stick
    wr(uart, SCR, 0xA5)
    assert rd(uart, SCR) == 0xA5


def test_loopback_probe_reflects_rts_and_out2_as_cts_and_dcd() -> None:
    uart, _, _ = make()
    wr(uart, MCR, MCR_LOOP | 0x0A)
    assert rd(uart, MSR) & 0xF0 == 0x90
    wr(uart, MCR, 0)
    assert rd(uart, MSR) & 0xF0 == 0xB0  # outside loopback: CTS, DSR, DCD


def test_fifo_enable_identifies_a_16550a_without_64_byte_fifo() -> None:
    uart, _, _ = make()
    wr(uart, LCR, 0)
    wr(uart, FCR, FCR_ENABLE)
    assert rd(uart, IIR) >> 6 == 3
    wr(uart, FCR, FCR_ENABLE | 0x20)  # UART_FCR7_64BYTE: a 16750 would set IIR bit 5
    assert (rd(uart, IIR) >> 5) & 1 == 0
    wr(uart, FCR, 0)
    assert rd(uart, IIR) >> 6 == 0


def test_dlab_switches_offsets_0_and_1_to_the_divisor_latch() -> None:
    uart, backend, _ = make()
    wr(uart, IER, 0x05)
    wr(uart, LCR, 0x80)
    wr(uart, DLL, 0x0C)
    wr(uart, DLM, 0x01)
    assert (rd(uart, DLL), rd(uart, DLM)) == (0x0C, 0x01)
    wr(uart, LCR, 0x03)
    assert rd(uart, IER) == 0x05
    assert backend.output == b""  # the DLL write did not transmit


def test_startup_thre_tests_see_a_working_16550a() -> None:
    """serial8250_do_startup: clear FIFOs, read the status registers, THRE re-assert test."""
    uart, _, irq = make()
    wr(uart, FCR, FCR_ENABLE)
    wr(uart, FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX)
    wr(uart, FCR, 0)
    for reg in (LSR, RBR, IIR, MSR):
        rd(uart, reg)
    assert rd(uart, LSR) != 0xFF
    wr(uart, LCR, 0x03)

    wr(uart, IER, IER_THRI)
    assert irq.level
    iir1 = rd(uart, IIR)
    assert iir1 == IIR_THRI
    assert not irq.level  # reading IIR acknowledged the THRE interrupt
    wr(uart, IER, 0)
    wr(uart, IER, IER_THRI)
    iir = rd(uart, IIR)
    wr(uart, IER, 0)
    assert iir == IIR_THRI  # re-asserted: no UART_BUG_THRE

    # The UART_BUG_TXEN test: enabling THRI must give an interrupt.
    wr(uart, IER, IER_THRI)
    lsr, iir = rd(uart, LSR), rd(uart, IIR)
    wr(uart, IER, 0)
    assert lsr & LSR_TEMT and not iir & IIR_NO_INT


def test_transmit_reaches_backend_and_rearms_thre() -> None:
    uart, backend, irq = make()
    wr(uart, FCR, FCR_ENABLE)
    wr(uart, IER, IER_THRI)
    assert rd(uart, IIR) & 0x0F == IIR_THRI
    assert not irq.level
    for byte in b"ok\n":
        assert rd(uart, LSR) & LSR_THRE
        wr(uart, THR, byte)
    assert backend.output == b"ok\n"
    assert irq.level  # THR is empty again
    assert rd(uart, IIR) == 0xC0 | IIR_THRI
    wr(uart, IER, 0)  # __stop_tx
    assert not irq.level
    assert uart.stats.tx_bytes == 3


def test_receive_interrupts_until_the_fifo_is_drained() -> None:
    uart, backend, irq = make()
    wr(uart, FCR, FCR_ENABLE | FCR_TRIG_8)
    wr(uart, IER, IER_RLSI | IER_RDI)
    assert not irq.level
    backend.type(b"hi")
    assert irq.level
    assert rd(uart, IIR) == 0xC0 | IIR_TIMEOUT  # below the trigger level
    got = bytearray()
    while rd(uart, LSR) & LSR_DR:
        got.append(rd(uart, RBR))
    assert got == b"hi"
    assert not irq.level
    assert rd(uart, IIR) == 0xC0 | IIR_NO_INT

    backend.type(b"12345678")
    assert rd(uart, IIR) == 0xC0 | IIR_RDI  # at the trigger level
    assert uart.stats.interrupts == 2


def test_input_beyond_the_fifo_waits_in_the_backlog() -> None:
    uart, backend, _ = make()
    wr(uart, FCR, FCR_ENABLE)
    line = bytes(range(0x20, 0x20 + 40))
    backend.type(line)
    got = bytearray()
    while rd(uart, LSR) & LSR_DR:
        got.append(rd(uart, RBR))
    assert got == line
    assert uart.stats.rx_overruns == 0


def test_full_fifo_counts_an_overrun_and_reports_line_status_first() -> None:
    uart, backend, irq = make(rx_backlog=0)
    wr(uart, FCR, FCR_ENABLE)  # trigger level 1
    wr(uart, IER, IER_RLSI | IER_RDI | IER_THRI | IER_MSI)
    backend.type(bytes(17))
    assert uart.stats.rx_overruns == 1
    assert rd(uart, IIR) & 0x0F == IIR_RLSI  # line status beats received data
    assert rd(uart, LSR) & LSR_OE
    assert not rd(uart, LSR) & LSR_OE  # reading LSR cleared it
    assert rd(uart, IIR) & 0x0F == IIR_RDI  # received data beats THRE
    for _ in range(16):
        rd(uart, RBR)
    assert rd(uart, IIR) & 0x0F == IIR_THRI  # THRE beats modem status
    wr(uart, MCR, MCR_LOOP)  # the modem lines drop: delta bits
    assert rd(uart, IIR) & 0x0F == IIR_MSI
    assert irq.level
    assert rd(uart, MSR) & 0x0F
    assert rd(uart, IIR) & 0x0F == IIR_NO_INT
    assert not irq.level


def test_loopback_returns_transmitted_bytes_instead_of_sending_them() -> None:
    uart, backend, _ = make()
    wr(uart, FCR, FCR_ENABLE)
    wr(uart, MCR, MCR_LOOP)
    wr(uart, THR, ord("x"))
    assert backend.output == b""
    assert rd(uart, LSR) & LSR_DR
    assert rd(uart, RBR) == ord("x")
    backend.type(b"q")  # host input waits while the line is looped back
    assert not rd(uart, LSR) & LSR_DR
    wr(uart, MCR, MCR_OUT2)
    assert rd(uart, LSR) & LSR_DR  # ...and arrives once loopback ends
    assert rd(uart, RBR) == ord("q")


def test_guest_mistakes_are_counted_and_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    uart, backend, _ = make()
    with caplog.at_level(logging.WARNING, logger="avmm.guest"):
        assert uart.read(0x40, 1) == 0
        assert uart.read(LSR, 4) == 0
        uart.write(THR, 4, 0x41)
        uart.write(LSR, 1, 0)
    assert uart.stats.guest_errors == 4
    assert backend.output == b""  # the wide write did not transmit
    assert "uart: guest error: read of unknown register 0x40" in caplog.text
    wr(uart, THR, 0x42)  # and the device still works
    assert backend.output == b"B"


def test_state_round_trips_through_msgpack() -> None:
    uart, backend, _ = make()
    wr(uart, FCR, FCR_ENABLE | FCR_TRIG_8)
    wr(uart, LCR, 0x83)
    wr(uart, DLL, 1)
    wr(uart, LCR, 0x03)
    wr(uart, IER, IER_RDI | IER_THRI)
    wr(uart, SCR, 0x5A)
    backend.type(b"x" * 20)
    state = msgpack.unpackb(msgpack.packb(uart.state()))

    copy, _, irq = make()
    copy.restore(state)
    assert copy.state() == uart.state()
    assert irq.level  # the restored line is driven
    assert [rd(copy, RBR) for _ in range(3)] == [ord("x")] * 3
