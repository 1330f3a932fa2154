"""A vCPU's plain-int counters, bumped on the hot path (KVM's per-vCPU stats).

Apart from the vCPU so that exit handling and the SBI layer, which bump
them, need not import the vCPU.
"""

from __future__ import annotations

import attrs

from avmm import _core

# Upper bounds (host seconds) of the slice-duration histogram's buckets; one more
# bucket counts the slices above the last bound. Fixed, so the hot path only
# bisects and bumps an int.
SLICE_BUCKETS = (1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2)


@attrs.define
class VcpuCounters:
    """Plain-int counters bumped on the hot path (KVM's per-vCPU stats)."""

    exits: list[int] = attrs.Factory(lambda: [0] * len(_core.EXIT_NAMES))
    slices: int = 0
    halt_wakeups: int = 0
    halt_wait_seconds: float = 0.0
    signal_exits: int = 0
    interrupted_exits: int = 0
    directed_yields: int = 0  # IPIs this vCPU sent whose target was made to run next
    pause_exits: int = 0
    remote_tlb_flushes: int = 0  # remote fences requested on this vCPU
    remote_fences_merged: int = 0  # of those, merged into one whole flush (queue bound)
    mmio_exits_bus: int = 0  # completed by a device model on the bus
    mmio_exits_user: int = 0  # returned to the caller (nothing mapped)
    sbi_calls: int = 0
    htif_requests: int = 0
    ipis: int = 0  # IPIs received through the SBI or a Python CLINT (the core counts its own)
    # slice durations: counts per SLICE_BUCKETS bucket (not cumulative) and their sum
    slice_buckets: list[int] = attrs.Factory(lambda: [0] * (len(SLICE_BUCKETS) + 1))
    slice_seconds: float = 0.0
