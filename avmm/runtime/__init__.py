"""The runtime: a host of VMs, their vCPU tasks, exit handling and scheduling.

KVM's role: :mod:`~avmm.runtime.host` (pCPUs, VMIDs, scheduler, event bus)
owns VMs (:mod:`~avmm.runtime.vm`), each owning vCPUs
(:mod:`~avmm.runtime.vcpu`) whose exits :mod:`~avmm.runtime.handlers`
completes. Lower layers (bus, irq lines, scheduler, spawner) see a VM or a
vCPU only through the Protocols in :mod:`~avmm.runtime.ports`. See
docs/ARCHITECTURE.md.
"""
