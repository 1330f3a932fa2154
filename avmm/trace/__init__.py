"""Traces (QEMU's ``-d``): exits, interrupts and traps taken, SBI calls, MMIO
accesses and instructions as JSON lines; see :mod:`avmm.trace.tracer`."""

from __future__ import annotations

from avmm.trace.tracer import EVENT_NAMES, TraceEventName, TraceFilter, Tracer

__all__ = ["EVENT_NAMES", "TraceEventName", "TraceFilter", "Tracer"]
