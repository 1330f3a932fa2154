"""NS16550A UART: the serial port Linux's 8250 driver and OpenSBI print through.

Registers are one byte wide at offsets 0..7 (reg-shift 0, as on QEMU's virt).
Transmission is instantaneous: a byte written to THR goes to the backend (or,
in loopback, into the receive FIFO) at once, so THR and the transmitter are
always empty when the guest looks and LSR.THRE/TEMT read 1.

Host input arrives through the backend's ``attach`` callback. It fills the
16-byte receive FIFO; what does not fit waits in a bounded host-side backlog
(``rx_backlog`` bytes, like QEMU's character layer holding input until the
FIFO has room) and moves into the FIFO as the guest reads. A byte that finds
both full is lost and counted as an overrun (LSR.OE).
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

import attrs

from .base import CharBackend, GuestErrors, IrqLine, IrqOutput, Metric

FIFO_SIZE = 16

# Register offsets.
RBR_THR_DLL = 0
IER_DLM = 1
IIR_FCR = 2
LCR = 3
MCR = 4
LSR = 5
MSR = 6
SCR = 7

IER_ERBFI = 0x01  # received data available
IER_ETBEI = 0x02  # transmitter holding register empty
IER_ELSI = 0x04  # receiver line status
IER_EDSSI = 0x08  # modem status

IIR_NO_INT = 0x01
IIR_MSI = 0x00
IIR_THRI = 0x02
IIR_RDI = 0x04
IIR_RLSI = 0x06
IIR_TIMEOUT = 0x0C
IIR_FIFO_ENABLED = 0xC0

FCR_ENABLE = 0x01
FCR_CLEAR_RX = 0x02
FCR_CLEAR_TX = 0x04
TRIGGER_LEVELS = (1, 4, 8, 14)

LCR_DLAB = 0x80

MCR_DTR = 0x01
MCR_RTS = 0x02
MCR_OUT1 = 0x04
MCR_OUT2 = 0x08
MCR_LOOP = 0x10

LSR_DR = 0x01
LSR_OE = 0x02
LSR_PE = 0x04
LSR_FE = 0x08
LSR_BI = 0x10
LSR_THRE = 0x20
LSR_TEMT = 0x40
LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI

MSR_DCTS = 0x01
MSR_DDSR = 0x02
MSR_TERI = 0x04
MSR_DDCD = 0x08
MSR_CTS = 0x10
MSR_DSR = 0x20
MSR_RI = 0x40
MSR_DCD = 0x80
# Outside loopback the host side is always "connected": CTS, DSR and DCD high.
MSR_LINES_CONNECTED = MSR_CTS | MSR_DSR | MSR_DCD


@attrs.define
class UartStats:
    """Plain counters; ``METRICS`` says which families they feed."""

    METRICS: ClassVar[dict[str, tuple[Metric, ...]]] = {
        "tx_bytes": (("avmm_console_bytes_total", ("out",)),),
        "rx_bytes": (("avmm_console_bytes_total", ("in",)),),
        "rx_overruns": (("avmm_console_dropped_bytes_total", ("in",)),),
    }
    tx_bytes: int = 0
    rx_bytes: int = 0  # bytes the guest read from RBR
    rx_overruns: int = 0  # bytes lost because the FIFO (and backlog) were full
    interrupts: int = 0  # rising edges of the IRQ line
    guest_errors: int = 0


class Ns16550a:
    """A 16550A with 16-byte FIFOs, loopback and 8250-style THRE interrupts."""

    size = 0x100

    def __init__(
        self,
        backend: CharBackend,
        irq: IrqLine,
        *,
        name: str = "uart",
        rx_backlog: int = 4096,
    ) -> None:
        self.name = name
        self.stats = UartStats()
        self._backend = backend
        self._irq = IrqOutput(irq)
        self._guest_error = GuestErrors(name, self.stats)
        self._backlog_limit = rx_backlog
        self._rx: deque[int] = deque()
        self._backlog: deque[int] = deque()
        self._reset_registers()
        backend.attach(self.receive)

    def _reset_registers(self) -> None:
        self._ier = 0
        self._lcr = 0
        self._mcr = 0
        self._scr = 0
        self._dll = 0
        self._dlm = 0
        self._fifo_enabled = False
        self._trigger = 1
        self._lsr_errors = 0  # sticky OE/PE/FE/BI until LSR is read
        self._msr_delta = 0
        self._thr_ipending = False
        self._rx.clear()

    # ------------------------------------------------------------------ guest side

    def read(self, offset: int, size: int) -> int:
        if size != 1:
            self._guest_error("width", f"{size}-byte read at {offset:#x} (registers are 8-bit)")
            return 0
        dlab = bool(self._lcr & LCR_DLAB)
        if offset == RBR_THR_DLL:
            return self._dll if dlab else self._read_rbr()
        if offset == IER_DLM:
            return self._dlm if dlab else self._ier
        if offset == IIR_FCR:
            return self._read_iir()
        if offset == LCR:
            return self._lcr
        if offset == MCR:
            return self._mcr
        if offset == LSR:
            return self._read_lsr()
        if offset == MSR:
            return self._read_msr()
        if offset == SCR:
            return self._scr
        self._guest_error("offset", f"read of unknown register {offset:#x}")
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if size != 1:
            self._guest_error(
                "width", f"{size}-byte write of {value:#x} at {offset:#x} (registers are 8-bit)"
            )
            return
        value &= 0xFF
        dlab = bool(self._lcr & LCR_DLAB)
        if offset == RBR_THR_DLL:
            if dlab:
                self._dll = value
            else:
                self._write_thr(value)
        elif offset == IER_DLM:
            if dlab:
                self._dlm = value
            else:
                self._write_ier(value)
        elif offset == IIR_FCR:
            self._write_fcr(value)
        elif offset == LCR:
            self._lcr = value
        elif offset == MCR:
            self._write_mcr(value)
        elif offset == LSR:
            # Writable only in factory test modes; Linux never writes it.
            self._guest_error("lsr", f"write of {value:#x} to read-only LSR")
        elif offset == MSR:
            self._guest_error("msr", f"write of {value:#x} to read-only MSR")
        elif offset == SCR:
            self._scr = value
        else:
            self._guest_error("offset", f"write of {value:#x} to unknown register {offset:#x}")

    def _read_rbr(self) -> int:
        if not self._rx:
            return 0
        byte = self._rx.popleft()
        self.stats.rx_bytes += 1
        self._refill_from_backlog()
        self._update_irq()
        return byte

    def _write_thr(self, value: int) -> None:
        if self._mcr & MCR_LOOP:
            self._push_rx(value)
        else:
            self._backend.write(bytes((value,)))
        self.stats.tx_bytes += 1
        # The byte left at once: THR is empty again, which re-arms THRE.
        self._thr_ipending = True
        self._update_irq()

    def _write_ier(self, value: int) -> None:
        self._ier = value & 0x0F
        # Linux's 8250 driver relies on a THRE interrupt whenever ETBEI is
        # (re)enabled with THR empty; without it the port is flagged buggy.
        self._thr_ipending = bool(self._ier & IER_ETBEI)
        self._update_irq()

    def _write_fcr(self, value: int) -> None:
        enable = bool(value & FCR_ENABLE)
        if enable != self._fifo_enabled:
            # Switching FIFO mode empties both FIFOs.
            self._rx.clear()
        self._fifo_enabled = enable
        if value & FCR_CLEAR_RX:
            self._rx.clear()
        # FCR_CLEAR_TX: the transmit FIFO is always empty here.
        self._trigger = TRIGGER_LEVELS[(value >> 6) & 3]
        self._refill_from_backlog()
        self._update_irq()

    def _write_mcr(self, value: int) -> None:
        before = self._msr_lines()
        self._mcr = value & 0x1F
        self._note_line_change(before, self._msr_lines())
        self._refill_from_backlog()
        self._update_irq()

    def _read_iir(self) -> int:
        ident = self._pending_interrupt()
        if ident == IIR_THRI:
            # Reading IIR acknowledges a THRE interrupt.
            self._thr_ipending = False
            self._update_irq()
        return ident | (IIR_FIFO_ENABLED if self._fifo_enabled else 0)

    def _read_lsr(self) -> int:
        value = LSR_THRE | LSR_TEMT | self._lsr_errors
        if self._rx:
            value |= LSR_DR
        if self._lsr_errors:
            self._lsr_errors = 0
            self._update_irq()
        return value

    def _read_msr(self) -> int:
        value = self._msr_lines() | self._msr_delta
        if self._msr_delta:
            self._msr_delta = 0
            self._update_irq()
        return value

    # ------------------------------------------------------------------ host side

    def receive(self, data: bytes) -> None:
        """Host input from the backend."""
        loop = bool(self._mcr & MCR_LOOP)
        capacity = self._capacity()
        for byte in data:
            # In loopback the receiver is cut off from the line: input waits
            # in the backlog until the guest leaves loopback.
            if not loop and not self._backlog and len(self._rx) < capacity:
                self._rx.append(byte)
            elif len(self._backlog) < self._backlog_limit:
                self._backlog.append(byte)
            else:
                self._overrun()
        self._update_irq()

    def _refill_from_backlog(self) -> None:
        if self._mcr & MCR_LOOP:
            return
        capacity = self._capacity()
        while self._backlog and len(self._rx) < capacity:
            self._rx.append(self._backlog.popleft())

    def _push_rx(self, byte: int) -> None:
        if len(self._rx) < self._capacity():
            self._rx.append(byte)
        else:
            self._overrun()

    def _overrun(self) -> None:
        self.stats.rx_overruns += 1
        self._lsr_errors |= LSR_OE

    def _capacity(self) -> int:
        return FIFO_SIZE if self._fifo_enabled else 1

    # ------------------------------------------------------------------ interrupts

    def _msr_lines(self) -> int:
        if self._mcr & MCR_LOOP:
            mcr = self._mcr
            lines = 0
            if mcr & MCR_RTS:
                lines |= MSR_CTS
            if mcr & MCR_DTR:
                lines |= MSR_DSR
            if mcr & MCR_OUT1:
                lines |= MSR_RI
            if mcr & MCR_OUT2:
                lines |= MSR_DCD
            return lines
        return MSR_LINES_CONNECTED

    def _note_line_change(self, before: int, after: int) -> None:
        changed = before ^ after
        if changed & MSR_CTS:
            self._msr_delta |= MSR_DCTS
        if changed & MSR_DSR:
            self._msr_delta |= MSR_DDSR
        if changed & MSR_DCD:
            self._msr_delta |= MSR_DDCD
        if before & MSR_RI and not after & MSR_RI:
            self._msr_delta |= MSR_TERI

    def _pending_interrupt(self) -> int:
        """IIR interrupt identification, highest priority first."""
        ier = self._ier
        if ier & IER_ELSI and self._lsr_errors:
            return IIR_RLSI
        if ier & IER_ERBFI and self._rx:
            if self._fifo_enabled and len(self._rx) < self._trigger:
                # Below the trigger level a real 16550A raises a character
                # timeout after four idle character times; input here arrives
                # in bursts, so it is reported at once.
                return IIR_TIMEOUT
            return IIR_RDI
        if ier & IER_ETBEI and self._thr_ipending:
            return IIR_THRI
        if ier & IER_EDSSI and self._msr_delta:
            return IIR_MSI
        return IIR_NO_INT

    def _update_irq(self) -> None:
        level = self._pending_interrupt() != IIR_NO_INT
        if self._irq.set(level):
            self.stats.interrupts += 1

    # ------------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        """Power-on reset of the registers (host input still waiting is kept)."""
        self._reset_registers()
        self._update_irq()

    def state(self) -> dict[str, Any]:
        return {
            "ier": self._ier,
            "lcr": self._lcr,
            "mcr": self._mcr,
            "scr": self._scr,
            "dll": self._dll,
            "dlm": self._dlm,
            "fifo_enabled": self._fifo_enabled,
            "trigger": self._trigger,
            "lsr_errors": self._lsr_errors,
            "msr_delta": self._msr_delta,
            "thr_ipending": self._thr_ipending,
            "rx": bytes(self._rx),
            "backlog": bytes(self._backlog),
            "irq_level": self._irq.level,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self._ier = int(state["ier"])
        self._lcr = int(state["lcr"])
        self._mcr = int(state["mcr"])
        self._scr = int(state["scr"])
        self._dll = int(state["dll"])
        self._dlm = int(state["dlm"])
        self._fifo_enabled = bool(state["fifo_enabled"])
        self._trigger = int(state["trigger"])
        self._lsr_errors = int(state["lsr_errors"])
        self._msr_delta = int(state["msr_delta"])
        self._thr_ipending = bool(state["thr_ipending"])
        self._rx = deque(bytes(state["rx"]))
        self._backlog = deque(bytes(state["backlog"]))
        # Drive the line to what the restored registers say, whatever it was.
        self._irq.restore(bool(state["irq_level"]))
        self._update_irq()
