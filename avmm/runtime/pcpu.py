"""Modelled host CPUs: each has a VMID-tagged TLB that vCPUs borrow for a slice.

pCPUs are a model, not threads: slices run one at a time on the event-loop
thread, and the pCPU a slice is given decides which TLB it fills and which
flushes it owes (VMID rollover, ARM KVM's ``last_vcpu_ran``).
"""

from __future__ import annotations

import attrs

from avmm import _core


@attrs.frozen
class PcpuStatistics:
    index: int
    slices: int
    instructions: int
    rollover_flushes: int  # whole-TLB flushes owed to a VMID generation change
    migration_flushes: int  # VMID flushes because another vCPU of the VM ran here last
    tlb: dict[str, int]


class Pcpu:
    """One modelled host CPU."""

    def __init__(self, index: int, tlb_entries: int = 1024) -> None:
        self.index = index
        self.tlb = _core.Tlb(tlb_entries)
        self.flush_pending = False  # set on a VMID rollover: flush before the next guest
        # ARM KVM's last_vcpu_ran: per VM (keyed by id), the vCPU that last ran here.
        self.last_vcpu_ran: dict[int, int] = {}
        self.load = 0  # instructions run here: a modelled busy time for placement
        self.slices = 0
        self.instructions = 0
        self.rollover_flushes = 0
        self.migration_flushes = 0

    def enter(self, vm_key: int, vcpu: int, vmid: int) -> None:
        """Flushes owed before vCPU ``vcpu`` of VM ``vm_key`` (VMID ``vmid``) runs here."""
        if self.flush_pending:
            self.tlb.flush()
            self.flush_pending = False
            self.rollover_flushes += 1
        last = self.last_vcpu_ran.get(vm_key)
        if last != vcpu:
            if last is not None:
                # Another vCPU of this VM used our TLB last: drop the VM's entries so a
                # vCPU never sees translations cached on behalf of a sibling.
                self.tlb.flush_vmid(vmid)
                self.migration_flushes += 1
            self.last_vcpu_ran[vm_key] = vcpu

    def statistics(self) -> PcpuStatistics:
        return PcpuStatistics(
            index=self.index,
            slices=self.slices,
            instructions=self.instructions,
            rollover_flushes=self.rollover_flushes,
            migration_flushes=self.migration_flushes,
            tlb=self.tlb.stats(),
        )
