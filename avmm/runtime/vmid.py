"""VMIDs with a generation counter, shared by every VM of a :class:`~avmm.runtime.host.Host`.

The scheme of ARM KVM's ``update_vttbr``: a VM's VMID is valid while it
belongs to the allocator's current generation. A VM whose VMID is stale takes
the next free number; when the numbers run out (``2**bits - 1`` of them, VMID
0 is reserved), the allocator starts a new generation, every VM's VMID turns
stale, and every pCPU must flush its whole TLB before it next runs a guest
(entries of the old generation could otherwise alias new owners).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from avmm.errors import ConfigError

MIN_BITS = 1
MAX_BITS = 16


@attrs.define
class VmidTag:
    """A VM's current VMID and the generation it was allocated in."""

    vmid: int = 0
    generation: int = 0  # 0 = never allocated


@attrs.frozen
class VmidStatistics:
    bits: int
    generation: int
    rollovers: int
    allocations: int
    in_use: int


class VmidAllocator:
    """Hands out VMIDs of ``bits`` bits; rolls over to a new generation when full."""

    def __init__(self, bits: int = 8, *, on_rollover: Callable[[int], None] | None = None) -> None:
        if not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
            raise ConfigError(
                "host.vmid_bits", f"{bits!r} is out of range ({MIN_BITS}..{MAX_BITS})"
            )
        self.bits = bits
        self.generation = 1
        self._next = 1
        self.rollovers = 0
        self.allocations = 0
        self._on_rollover = on_rollover

    @property
    def capacity(self) -> int:
        """VMIDs per generation (VMID 0 is never handed out)."""
        return (1 << self.bits) - 1

    def is_current(self, tag: VmidTag) -> bool:
        return tag.generation == self.generation

    def update(self, tag: VmidTag) -> bool:
        """Give ``tag`` a VMID of the current generation; True if it changed.

        Called at the start of every slice (step 2 in docs/ARCHITECTURE.md); cheap when the
        tag is current.
        """
        if tag.generation == self.generation:
            return False
        if self._next > self.capacity:
            self.generation += 1
            self.rollovers += 1
            self._next = 1
            if self._on_rollover is not None:
                self._on_rollover(self.generation)
        tag.vmid = self._next
        tag.generation = self.generation
        self._next += 1
        self.allocations += 1
        return True

    def statistics(self) -> VmidStatistics:
        return VmidStatistics(
            bits=self.bits,
            generation=self.generation,
            rollovers=self.rollovers,
            allocations=self.allocations,
            in_use=self._next - 1,
        )
